//! The timeout policy: a call that stays pending too long is dropped.

mod config;
#[cfg(test)]
mod reconfigure_tests;
#[cfg(test)]
mod tests;

use std::fmt;
use std::future::Future;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::Sleep;

pub use config::{TimeoutBuilder, TimeoutConfig};

use crate::events::{self, Event};
use crate::lifecycle::{InFlight, InFlightGuard};
use crate::live_config::LiveConfig;
use crate::registry::PolicyKind;
use crate::striped::Striped;
use crate::{ConfigError, Error, Failure};

/// Drops a call that is still pending after a set time and reports
/// [`Error::Timeout`] instead; the macro-free form of `#[timeout(...)]`.
///
/// **When the clock starts.** The deadline is set when the call first returns `Pending`, not
/// when [`call`](Self::call) is entered: a call that finishes on its first poll never reads the
/// clock or arms a timer, which keeps the common fast case free. Work a future does synchronously
/// inside one poll cannot be interrupted by any async timeout, so this moves the deadline only by
/// the length of that first poll.
///
/// Once the call is pending, the timer needs a Tokio runtime with the time driver enabled, as
/// `tokio::time::timeout` does. On expiry the call's future is dropped (so its destructors run
/// and whatever it held is released), `Event::TimedOut` is emitted, and the result is
/// `Error::Timeout { name, after }`, which reaches the caller's error type through
/// `From<resilience::Error>`. A call that completes at the same poll as the deadline keeps its
/// result.
///
/// **Reconfiguration.** A configuration reload changes a registered timeout in place (call
/// sites keep it for good): the new duration applies to calls that start after it. A call
/// already running keeps the duration it started with, and its `Error::Timeout` reports that
/// one.
///
/// ```
/// use resilience::{Error, Timeout};
/// use std::time::Duration;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let timeout = Timeout::new("slow-db", Duration::from_millis(20)).unwrap();
///
/// let fast = timeout.call(async { Ok::<_, Error>("row") }).await;
/// assert_eq!(fast, Ok("row"));
///
/// let slow = timeout
///     .call(async {
///         tokio::time::sleep(Duration::from_secs(5)).await;
///         Ok::<_, Error>("row")
///     })
///     .await;
/// assert_eq!(
///     slow,
///     Err(Error::Timeout { name: "slow-db".into(), after: Duration::from_millis(20) })
/// );
/// assert_eq!(timeout.stats().timeouts, 1);
/// # }
/// ```
pub struct Timeout {
    name: Arc<str>,
    /// The whole configuration, for `config()`; calls read `duration_nanos`.
    config: LiveConfig<TimeoutConfig>,
    /// The duration in nanoseconds, `u64::MAX` for one that does not fit (584 years and more),
    /// which reads back as `Duration::MAX`: never, for any timer.
    duration_nanos: AtomicU64,
    counts: Striped<CallCounts>,
    timeouts: AtomicU64,
    /// Calls started and not yet ended, for a shutdown to wait for.
    in_flight: InFlight,
}

/// How a timeout's calls went, counted on the calling thread's stripe.
///
/// A call is counted as started before its first poll (one add, the common case's only one),
/// then on the same stripe when it has to wait and when, having waited, it finishes in time. A
/// call that finished at its first poll is one that started and never waited, so no counter has
/// to be taken back when a call ends, and a call still running is never counted in time.
#[derive(Debug, Default)]
struct CallCounts {
    /// Calls that started: counted before their first poll.
    started: AtomicU64,
    /// Calls that had to wait: their deadline was armed.
    waited: AtomicU64,
    /// Calls that waited and finished before their deadline.
    finished_after_waiting: AtomicU64,
}

/// Counters of a [`Timeout`], read with [`Timeout::stats`].
///
/// `calls` counts every call that started; `in_time` and `timeouts` count those that ended
/// either way. The rest are still running, or were dropped by the caller (an outer timeout, a
/// cancelled task) before either. Counts read while calls run are a moment's approximation;
/// once they are done they are exact, but for a call whose very first poll panicked, which
/// counts as in time (the common case pays one counter add, made before that poll).
///
/// ```
/// use resilience::{Error, Timeout};
/// use std::time::Duration;
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
/// let timeout = Timeout::new("doc-timeout-stats", Duration::from_millis(50)).unwrap();
/// let _ = timeout.call(async { Ok::<_, Error>(()) }).await;
/// let _ = timeout
///     .call(async {
///         tokio::time::sleep(Duration::from_secs(1)).await;
///         Ok::<_, Error>(())
///     })
///     .await;
/// let stats = timeout.stats();
/// assert_eq!((stats.calls, stats.in_time, stats.timeouts), (2, 1, 1));
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct TimeoutStats {
    /// Calls started.
    pub calls: u64,
    /// Calls that finished before their deadline, whatever their result.
    pub in_time: u64,
    /// Calls dropped because the deadline passed.
    pub timeouts: u64,
}

impl Timeout {
    /// Starts a builder for a timeout registered as `name`.
    pub fn builder(name: impl Into<Arc<str>>) -> TimeoutBuilder {
        TimeoutBuilder::new(name.into())
    }

    /// A timeout named `name` that drops calls pending longer than `duration`.
    ///
    /// # Errors
    ///
    /// [`ConfigError::OutOfRange`] when `duration` is zero.
    pub fn new(name: impl Into<Arc<str>>, duration: Duration) -> Result<Self, ConfigError> {
        Self::builder(name).duration(duration).build()
    }

    /// The fallback for settings that failed validation (which the macros rule out at compile
    /// time): a duration has no sensible default, so the fallback never cuts a call short.
    pub(crate) fn with_defaults(name: Arc<str>) -> Self {
        Self::from_parts(
            name,
            TimeoutConfig {
                duration: Duration::MAX,
            },
        )
    }

    pub(super) fn from_parts(name: Arc<str>, config: TimeoutConfig) -> Self {
        Timeout {
            name,
            duration_nanos: AtomicU64::new(duration_nanos(config.duration)),
            config: LiveConfig::new(config),
            counts: Striped::new(),
            in_flight: InFlight::default(),
            timeouts: AtomicU64::new(0),
        }
    }

    /// The registry name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The registry name, shared.
    pub fn name_arc(&self) -> &Arc<str> {
        &self.name
    }

    /// The settings this timeout runs with now: those it was built with, or the latest a
    /// configuration reload gave it.
    pub fn config(&self) -> TimeoutConfig {
        self.config.get()
    }

    /// Takes `config` in place of the current settings and returns the keys whose values
    /// changed (`"duration"`), empty when none did. `config` was validated by whoever built it.
    /// Calls that start afterwards get the new duration; calls already running keep theirs.
    pub(crate) fn reconfigure(&self, config: TimeoutConfig) -> Vec<&'static str> {
        let mut current = self.config.write();
        let changed = current.changed_keys(&config);
        self.duration_nanos
            .store(duration_nanos(config.duration), Ordering::Relaxed);
        *current = config;
        changed
    }

    /// The duration a call starting now gets: the macros' expansion reads it once per call,
    /// before the call's first poll, and hands it to
    /// [`poll_before_deadline`](Self::poll_before_deadline) and [`expired`](Self::expired).
    #[doc(hidden)]
    #[inline]
    pub fn duration(&self) -> Duration {
        match self.duration_nanos.load(Ordering::Relaxed) {
            u64::MAX => Duration::MAX,
            nanos => Duration::from_nanos(nanos),
        }
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> TimeoutStats {
        // Calls running while this reads make it a moment's approximation: a call that started
        // and has not yet been polled counts as in time until then.
        let started = self.counts.sum(|c| &c.started);
        let waited = self.counts.sum(|c| &c.waited);
        TimeoutStats {
            calls: started.max(waited),
            in_time: started
                .saturating_sub(waited)
                .saturating_add(self.counts.sum(|c| &c.finished_after_waiting)),
            timeouts: self.timeouts.load(Ordering::Relaxed),
        }
    }

    /// Sets every counter back to zero.
    pub fn reset_stats(&self) {
        for counts in self.counts.iter() {
            counts.started.store(0, Ordering::Relaxed);
            counts.waited.store(0, Ordering::Relaxed);
            counts.finished_after_waiting.store(0, Ordering::Relaxed);
        }
        self.timeouts.store(0, Ordering::Relaxed);
    }

    /// Runs `fut`, dropping it if it is still pending once the deadline passes; the rejection
    /// becomes the caller's `E` through `From<resilience::Error>`. (An outer breaker's `call`
    /// then counts it as a failure and an outer retry's `call` retries it, as the attributes
    /// do; for the other policies' rejections composed `call`s differ, see
    /// [the crate's guide](crate#without-macros).)
    pub async fn call<T, E, Fut>(&self, fut: Fut) -> Result<T, E>
    where
        Fut: Future<Output = Result<T, E>>,
        E: From<Error>,
    {
        self.limit(fut)
            .await
            .unwrap_or_else(|expired| Err(E::from(expired)))
    }

    /// The layer the attribute macros call: like [`call`](Self::call), but the inner future
    /// already reports [`Failure`]s and the timeout's own rejection stays typed.
    #[doc(hidden)]
    pub async fn run<T, E, Fut>(&self, fut: Fut) -> Result<T, Failure<E>>
    where
        Fut: Future<Output = Result<T, Failure<E>>>,
    {
        self.limit(fut)
            .await
            .unwrap_or_else(|expired| Err(Failure::Policy(expired)))
    }

    /// The core both `call` and `run` go through: `fut`'s output, or the timeout's rejection.
    async fn limit<F: Future>(&self, fut: F) -> Result<F::Output, Error> {
        self.admit()?;
        let after = self.duration();
        let finished = {
            let _running = self.count_call();
            let mut fut = pin!(fut);
            let mut deadline = pin!(None::<Sleep>);
            self.before_deadline(fut.as_mut(), deadline.as_mut(), after)
                .await
            // `fut` is dropped here, before the rejection is reported.
        };
        finished.ok_or_else(|| self.expired(after))
    }

    /// The first step of a timed call in the macros' expansion, which takes the steps of
    /// [`call`](Self::call) inline: counts the call as started, before its first poll, and as
    /// running until the guard drops (after the call and its deadline).
    #[doc(hidden)]
    #[inline(always)]
    pub fn count_call(&self) -> InFlightGuard<'_> {
        self.counts.local().started.fetch_add(1, Ordering::Relaxed);
        self.in_flight.enter()
    }

    /// The calls running under this timeout now: what a
    /// [shutdown](crate::Registry::shutdown) waits for.
    pub fn in_flight(&self) -> u32 {
        self.in_flight.count()
    }

    /// Lets a call start, unless the program is shutting down: then
    /// [`Error::ShuttingDown`], and the call is not counted. The macros' expansion calls it
    /// before [`count_call`](Self::count_call).
    #[doc(hidden)]
    #[inline]
    pub fn admit(&self) -> Result<(), Error> {
        if crate::lifecycle::gate::is_closed() {
            return Err(crate::lifecycle::rejection(PolicyKind::Timeout, &self.name));
        }
        Ok(())
    }

    /// One poll of a timed call: `Ready(Some(output))` when the call finished, `Ready(None)`
    /// when the deadline passed first. `deadline` starts as `None` and is armed here, `after`
    /// from now: the call's [`duration`](Self::duration), read when it started. Counts the call
    /// as it goes (see `CallCounts`).
    #[doc(hidden)]
    #[inline(always)]
    pub fn poll_before_deadline<F: Future>(
        &self,
        fut: Pin<&mut F>,
        deadline: Pin<&mut Option<Sleep>>,
        after: Duration,
        cx: &mut Context<'_>,
    ) -> Poll<Option<F::Output>> {
        // The call goes first, so a result that is ready wins over an expired deadline.
        if let Poll::Ready(output) = fut.poll(cx) {
            // No deadline yet means this is the first poll: `count_call` counted it already.
            if deadline.is_some() {
                self.count_finished_after_waiting();
            }
            return Poll::Ready(Some(output));
        }
        // Out of line and not generic: a call that is ready at its first poll runs only the
        // lines above, which inline into the caller's poll, so that its output is handed back
        // in registers rather than through memory (which stalled: ~12 ns a call).
        if self.poll_deadline(deadline, after, cx) {
            Poll::Ready(None)
        } else {
            Poll::Pending
        }
    }

    /// [`poll_before_deadline`](Self::poll_before_deadline) as a future, for the macros'
    /// expansion to await: its `poll` is inlined into the caller's, which `poll_fn`'s was not,
    /// so the call's output came back through memory (a store-forwarding stall, ~10 ns a call).
    #[doc(hidden)]
    #[inline(always)]
    pub fn before_deadline<'a, F: Future>(
        &'a self,
        call: Pin<&'a mut F>,
        deadline: Pin<&'a mut Option<Sleep>>,
        after: Duration,
    ) -> BeforeDeadline<'a, F> {
        BeforeDeadline {
            timeout: self,
            call,
            deadline,
            after,
        }
    }

    #[inline(never)]
    fn count_finished_after_waiting(&self) {
        self.counts
            .local()
            .finished_after_waiting
            .fetch_add(1, Ordering::Relaxed);
    }

    /// Whether the deadline of a call that has to wait has passed; armed on the call's first
    /// wait: a call ready at its first poll costs no clock read and no timer.
    #[inline(never)]
    fn poll_deadline(
        &self,
        mut deadline: Pin<&mut Option<Sleep>>,
        after: Duration,
        cx: &mut Context<'_>,
    ) -> bool {
        if deadline.is_none() {
            self.counts.local().waited.fetch_add(1, Ordering::Relaxed);
            deadline.set(Some(tokio::time::sleep(after)));
        }
        deadline
            .as_mut()
            .as_pin_mut()
            .is_some_and(|sleep| sleep.poll(cx).is_ready())
    }

    /// Counts and reports a call that expired `after` its start (the duration it started with),
    /// and returns its rejection. Call it after the call's future is dropped.
    #[doc(hidden)]
    pub fn expired(&self, after: Duration) -> Error {
        self.timeouts.fetch_add(1, Ordering::Relaxed);
        events::emit(|| Event::TimedOut {
            name: Arc::clone(&self.name),
            after,
        });
        Error::Timeout {
            name: Arc::clone(&self.name),
            after,
        }
    }
}

/// A duration in nanoseconds, `u64::MAX` for one that does not fit.
fn duration_nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

impl fmt::Debug for Timeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Timeout")
            .field("name", &self.name)
            .field("config", &self.config())
            .field("stats", &self.stats())
            .finish()
    }
}

/// A timed call racing its deadline, from [`Timeout::before_deadline`]: `Some(output)` when the
/// call finished first, `None` when the deadline passed.
#[doc(hidden)]
#[must_use = "futures do nothing unless awaited"]
pub struct BeforeDeadline<'a, F> {
    timeout: &'a Timeout,
    call: Pin<&'a mut F>,
    deadline: Pin<&'a mut Option<Sleep>>,
    after: Duration,
}

impl<F: Future> Future for BeforeDeadline<'_, F> {
    type Output = Option<F::Output>;

    #[inline(always)]
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        this.timeout.poll_before_deadline(
            this.call.as_mut(),
            this.deadline.as_mut(),
            this.after,
            cx,
        )
    }
}

impl<F> fmt::Debug for BeforeDeadline<'_, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BeforeDeadline")
            .field("timeout", &self.timeout.name())
            .field("after", &self.after)
            .finish_non_exhaustive()
    }
}
