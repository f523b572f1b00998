//! The rate limiter policy: at most `rate` calls per `per`, in bursts of at most `burst`.

mod config;
mod gcra;
mod keyed;
#[cfg(test)]
mod keyed_tests;
#[cfg(test)]
mod reconfigure_tests;
mod shared;
#[cfg(test)]
mod tests;

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

pub use config::{RateLimiterBuilder, RateLimiterConfig};

use self::gcra::Gcra;
use crate::events::{self, Event};
use crate::lifecycle::{gate, InFlight, InFlightGuard};
use crate::live_config::LiveConfig;
use crate::registry::PolicyKind;
use crate::striped::StripedCounter;
use crate::{ConfigError, Error, Failure};

/// Admits at most [`rate`](RateLimiterConfig::rate) calls per
/// [`per`](RateLimiterConfig::per), at most [`burst`](RateLimiterConfig::burst) of them at
/// once; the macro-free form of `#[rate_limit(...)]`.
///
/// Think of a bucket of `burst` cells that gains one cell every `per / rate`
/// ([`interval`](RateLimiterConfig::interval)); each call takes a cell. A limiter starts full,
/// so after a quiet spell `burst` calls pass at once, and then one per interval. The bucket is
/// the GCRA (generic cell rate algorithm) in one atomic word: admitting a call is a clock read,
/// a load and one compare-exchange, without a lock, a timer or an allocation. However many
/// threads race for it, the calls admitted in any stretch of time `t` never exceed
/// `burst + t / interval`.
///
/// **Rejection.** With no cell in the bucket, a call is rejected with
/// [`Error::RateLimited`], whose `retry_after` is the time until the next cell, and
/// `Event::CallRejected` is emitted; the call's future is dropped without being polled. An
/// outer [`Retry`](crate::Retry) sleeps at least that `retry_after` before its next attempt.
///
/// **Waiting.** With a [`wait`](RateLimiterConfig::wait), a caller that finds the bucket empty
/// but a cell due within `wait` sleeps until that cell and takes it then; when the next cell is
/// further off, it is rejected at once, without sleeping in vain. Nothing is reserved while
/// it sleeps: the cell is taken with the same compare-exchange as any call, at the moment of
/// admission. So a waiter that is cancelled (its future dropped, an outer timeout fired)
/// consumes nothing, and the limit holds exactly whatever waiters do. The price is that waiters
/// are not served in arrival order: a caller that arrives as a cell falls due may take it
/// before a waiter that wakes for it, and that waiter then sleeps until the next cell, if it
/// is due within its `wait`, or is rejected.
///
/// **Reconfiguration.** A configuration reload changes a registered limiter in place (call
/// sites keep it for good), and the new `rate`, `per` and `burst` apply from the next call. The
/// bucket keeps its level: the cells taken and not yet refilled stay taken, refilled at the new
/// pace, and a smaller `burst` owes at most one whole new bucket. So a raised rate lets calls
/// through at once, instead of after the debt run up at the old rate, and a lowered one does not
/// forgive the calls just made. A new `wait` applies to callers arriving after it; a caller
/// already waiting keeps the deadline it started with. A call that races the change may be
/// judged by a mix of the old and the new settings.
///
/// ```
/// use resilience::{Error, RateLimiter};
/// use std::time::Duration;
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
/// // 10 calls per second, 2 at once.
/// let limiter = RateLimiter::builder("search").rate(10).burst(2).build().unwrap();
///
/// assert_eq!(limiter.call(async { Ok::<_, Error>("first") }).await, Ok("first"));
/// assert_eq!(limiter.call(async { Ok::<_, Error>("second") }).await, Ok("second"));
/// let rejected = limiter.call(async { Ok::<_, Error>("third") }).await;
/// assert_eq!(
///     rejected,
///     Err(Error::RateLimited { name: "search".into(), retry_after: Duration::from_millis(100) })
/// );
///
/// tokio::time::sleep(Duration::from_millis(100)).await;
/// assert!(limiter.try_acquire().is_ok());
/// let stats = limiter.stats();
/// assert_eq!((stats.permitted, stats.rejected, stats.available), (3, 1, 0));
/// # }
/// ```
pub struct RateLimiter {
    name: Arc<str>,
    /// The whole configuration, for `config()` and `stats()`; calls read the bucket's interval
    /// and span and `wait_nanos`.
    config: LiveConfig<RateLimiterConfig>,
    bucket: Gcra,
    /// `wait` in nanoseconds, saturating: a wait past 584 years is forever.
    wait_nanos: AtomicU64,
    /// [`WAITS`] and [`SHARED`]: whether a call must await, read with one relaxed load by
    /// [`has_wait`](Self::has_wait); a limiter with neither decides synchronously.
    mode: AtomicU8,
    permitted: StripedCounter,
    rejected: AtomicU64,
    waited: AtomicU64,
    /// Calls admitted and still running, for a shutdown to wait for.
    in_flight: InFlight,
    /// A keyed limiter's buckets, one per key, made by the first keyed call: `keyed.rs`.
    keys: OnceLock<Box<dyn keyed::LimiterKeys>>,
    /// The effective `key_idle`, in nanoseconds, and `max_keys`: read when a key is created.
    key_idle_nanos: AtomicU64,
    max_keys: AtomicU32,
}

/// [`RateLimiter::mode`]: `wait` is not zero.
const WAITS: u8 = 1;
/// [`RateLimiter::mode`]: the limiter is `shared`.
const SHARED: u8 = 2;

fn mode_of(config: &RateLimiterConfig) -> u8 {
    let waits = if config.wait.is_zero() { 0 } else { WAITS };
    let shared = if config.shared { SHARED } else { 0 };
    waits | shared
}

/// Counters and capacity of a [`RateLimiter`], read with [`RateLimiter::stats`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct RateLimiterStats {
    /// Calls admitted, those that waited for their cell included.
    pub permitted: u64,
    /// Calls rejected: no cell, and none due within `wait`.
    pub rejected: u64,
    /// Calls admitted after waiting for their cell.
    pub waited: u64,
    /// Cells in the bucket now: calls that would pass at once.
    pub available: u32,
    /// Cells the bucket holds when full.
    pub burst: u32,
    /// A keyed limiter's keys (`None` for a limiter no keyed call has used): how many, the
    /// hottest, those rejecting now. `available` above is then the unkeyed bucket's.
    pub keys: Option<crate::KeyedStats>,
}

impl RateLimiter {
    /// Starts a builder for a rate limiter registered as `name`.
    pub fn builder(name: impl Into<Arc<str>>) -> RateLimiterBuilder {
        RateLimiterBuilder::new(name.into())
    }

    /// A limiter named `name` admitting `rate` calls per `per`, all of them at once after a
    /// quiet spell (`burst = rate`), rejecting at once when the bucket is empty.
    ///
    /// # Errors
    ///
    /// [`ConfigError::OutOfRange`] as [`RateLimiterBuilder::build`] returns it.
    pub fn new(name: impl Into<Arc<str>>, rate: u32, per: Duration) -> Result<Self, ConfigError> {
        Self::builder(name).rate(rate).per(per).build()
    }

    /// The fallback for settings that failed validation (which the macros rule out at compile
    /// time): `rate` has no sensible default, so the fallback never rejects a call in practice
    /// (over four billion at once, then one per nanosecond).
    pub(crate) fn with_defaults(name: Arc<str>) -> Self {
        Self::from_parts(
            name,
            RateLimiterConfig {
                rate: u32::MAX,
                per: config::DEFAULT_PER,
                burst: u32::MAX,
                wait: Duration::ZERO,
                shared: false,
                key_idle: None,
                max_keys: config::DEFAULT_MAX_KEYS,
            },
        )
    }

    pub(super) fn from_parts(name: Arc<str>, config: RateLimiterConfig) -> Self {
        RateLimiter {
            bucket: Gcra::new(
                config::interval_nanos(config.per, config.rate),
                config.burst,
            ),
            name,
            wait_nanos: AtomicU64::new(duration_nanos(config.wait)),
            mode: AtomicU8::new(mode_of(&config)),
            key_idle_nanos: AtomicU64::new(duration_nanos(config.effective_key_idle())),
            max_keys: AtomicU32::new(config.max_keys),
            keys: OnceLock::new(),
            config: LiveConfig::new(config),
            permitted: StripedCounter::default(),
            rejected: AtomicU64::new(0),
            waited: AtomicU64::new(0),
            in_flight: InFlight::default(),
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

    /// The settings this limiter runs with now: those it was built with, or the latest a
    /// configuration reload gave it.
    pub fn config(&self) -> RateLimiterConfig {
        self.config.get()
    }

    /// Takes `config` in place of the current settings, while calls run, and returns the keys
    /// whose values changed (`"rate"`, `"per"`, `"burst"`, `"wait"`), empty when none did.
    /// `config` was validated by whoever built it. See the type's docs for what a change does
    /// to the bucket and to waiting callers.
    pub(crate) fn reconfigure(&self, config: RateLimiterConfig) -> Vec<&'static str> {
        let mut current = self.config.write();
        let changed = current.changed_keys(&config);
        if changed.is_empty() {
            return changed;
        }
        if (current.rate, current.per, current.burst) != (config.rate, config.per, config.burst) {
            let interval = config::interval_nanos(config.per, config.rate);
            let (old_interval, now) = (self.bucket.interval(), self.bucket.now());
            self.bucket.reshape(interval, config.burst, now);
            // Each key's bucket keeps its level too.
            if let Some(keys) = self.keys.get() {
                let span = self.bucket.span();
                keys.retime(&|word| Gcra::retime(word, old_interval, interval, span, now));
            }
        }
        self.wait_nanos
            .store(duration_nanos(config.wait), Ordering::Relaxed);
        self.mode.store(mode_of(&config), Ordering::Relaxed);
        self.key_idle_nanos.store(
            duration_nanos(config.effective_key_idle()),
            Ordering::Relaxed,
        );
        self.max_keys.store(config.max_keys, Ordering::Relaxed);
        *current = config;
        changed
    }

    /// Whether a call must await [`acquire`](Self::acquire): a caller may wait for a cell
    /// (`wait` is not zero) or the limiter is `shared` (a store round trip). The macros'
    /// expansion takes the synchronous [`try_acquire`](Self::try_acquire) when neither holds.
    #[doc(hidden)]
    #[inline]
    pub fn has_wait(&self) -> bool {
        self.mode.load(Ordering::Relaxed) != 0
    }

    /// Whether the limit holds across the fleet, through the registry's store: see
    /// [`RateLimiterBuilder::shared`].
    pub fn is_shared(&self) -> bool {
        self.mode.load(Ordering::Relaxed) & SHARED != 0
    }

    /// A snapshot of the counters and of the cells available now.
    pub fn stats(&self) -> RateLimiterStats {
        let available = self.bucket.available(self.bucket.now());
        RateLimiterStats {
            permitted: self.permitted.get(),
            rejected: self.rejected.load(Ordering::Relaxed),
            waited: self.waited.load(Ordering::Relaxed),
            available: u32::try_from(available).unwrap_or(u32::MAX),
            burst: self.config.get().burst,
            keys: self.keyed_stats(),
        }
    }

    /// Sets the counters back to zero; the bucket is live state and stays as it is.
    pub fn reset_stats(&self) {
        self.permitted.reset();
        self.rejected.store(0, Ordering::Relaxed);
        self.waited.store(0, Ordering::Relaxed);
    }

    /// Fills the bucket up: `burst` calls may pass at once again. The registry's
    /// [`reset`](crate::Registry::reset) does this and zeroes the counters.
    ///
    /// ```
    /// use resilience::RateLimiter;
    /// use std::time::Duration;
    ///
    /// let limiter = RateLimiter::new("doc-refill", 1, Duration::from_secs(60)).unwrap();
    /// assert!(limiter.try_acquire().is_ok());
    /// assert!(limiter.try_acquire().is_err());
    /// limiter.refill();
    /// assert!(limiter.try_acquire().is_ok());
    /// ```
    pub fn refill(&self) {
        self.bucket.refill();
        // A keyed limiter's keys all start full again: forgetting them is that.
        if let Some(keys) = self.keys.get() {
            keys.clear();
        }
    }

    /// Takes a cell if the bucket has one, without waiting even when the limiter has a `wait`.
    ///
    /// # Errors
    ///
    /// [`Error::RateLimited`] when the bucket is empty; `retry_after` is the time until the
    /// next cell.
    #[inline]
    pub fn try_acquire(&self) -> Result<(), Error> {
        if gate::is_closed() {
            return Err(self.turn_away());
        }
        let now = self.bucket.now();
        match self.bucket.try_take(now) {
            Ok(()) => {
                self.permitted.increment();
                Ok(())
            }
            Err(next_cell) => Err(self.reject(next_cell - now)),
        }
    }

    /// Takes a cell, waiting up to the limiter's [`wait`](RateLimiterConfig::wait) for one.
    /// A [shared](RateLimiterBuilder::shared) limiter takes it from the fleet's bucket in the
    /// registry's store, and from its local bucket when there is no store or it fails.
    ///
    /// Cancel-safe: dropping the future while it waits takes no cell (of a shared limiter, a
    /// round trip already sent may have taken one in the store).
    ///
    /// # Errors
    ///
    /// [`Error::RateLimited`] when no cell is due within `wait`.
    pub async fn acquire(&self) -> Result<(), Error> {
        if gate::is_closed() {
            return Err(self.turn_away());
        }
        if self.mode.load(Ordering::Relaxed) & SHARED != 0 {
            return Box::pin(self.acquire_shared()).await;
        }
        self.acquire_local().await
    }

    /// [`acquire`](Self::acquire) on the local bucket.
    async fn acquire_local(&self) -> Result<(), Error> {
        let now = self.bucket.now();
        match self.bucket.try_take(now) {
            Ok(()) => {
                self.permitted.increment();
                Ok(())
            }
            Err(next_cell) => {
                let deadline = now.saturating_add(self.wait_nanos.load(Ordering::Relaxed));
                if next_cell > deadline {
                    Err(self.reject(next_cell - now))
                } else {
                    // Boxed so the timer of a wait, which only a limited call needs, does not
                    // make every call's future larger.
                    // A caller still waiting when shutdown begins leaves without a cell.
                    Box::pin(gate::unless_closed(
                        self.wait_for_cell(next_cell, deadline),
                        None,
                    ))
                    .await
                    .unwrap_or_else(|| Err(self.turn_away()))
                }
            }
        }
    }

    /// Sleeps until the cell due at `next_cell` and takes it, or, when a racing caller took
    /// it first, the next one, as long as it is due by `deadline` (nanoseconds on the bucket's
    /// clock).
    async fn wait_for_cell(&self, mut next_cell: u64, deadline: u64) -> Result<(), Error> {
        loop {
            tokio::time::sleep_until(self.bucket.instant_at(next_cell)).await;
            let now = self.bucket.now();
            match self.bucket.try_take(now) {
                Ok(()) => {
                    self.permitted.increment();
                    self.waited.fetch_add(1, Ordering::Relaxed);
                    return Ok(());
                }
                Err(next) if next > deadline => return Err(self.reject(next - now)),
                Err(next) => next_cell = next,
            }
        }
    }

    /// Runs `fut` once a cell is taken, waiting for one as [`acquire`](Self::acquire) does;
    /// the rejection becomes the caller's `E` through `From<resilience::Error>`. A rejected
    /// `fut` is dropped without being polled.
    ///
    /// Under another policy's `call`, that `E` is all the outer policy sees: with the
    /// application's error type an outer breaker counts the rejection as a failure. With
    /// `E = Failure<_>` it arrives as `Failure::Policy`, as inside a stack of attributes; see
    /// [the crate's guide](crate#without-macros).
    pub async fn call<T, E, Fut>(&self, fut: Fut) -> Result<T, E>
    where
        Fut: Future<Output = Result<T, E>>,
        E: From<Error>,
    {
        self.acquire().await?;
        let _running = self.enter();
        fut.await
    }

    /// The layer the attribute macros call: like [`call`](Self::call), but the inner future
    /// already reports [`Failure`]s and the limiter's own rejection stays typed.
    #[doc(hidden)]
    pub async fn run<T, E, Fut>(&self, fut: Fut) -> Result<T, Failure<E>>
    where
        Fut: Future<Output = Result<T, Failure<E>>>,
    {
        self.acquire().await?;
        let _running = self.enter();
        fut.await
    }

    /// Counts a call the limiter admitted as running until the guard drops: the macros'
    /// expansion and the layers hold it around the call after [`try_acquire`](Self::try_acquire)
    /// or [`acquire`](Self::acquire), so that a shutdown waits for it.
    #[doc(hidden)]
    #[inline(always)]
    pub fn enter(&self) -> InFlightGuard<'_> {
        self.in_flight.enter()
    }

    /// The calls this limiter admitted that are still running: what a
    /// [shutdown](crate::Registry::shutdown) waits for.
    pub fn in_flight(&self) -> u32 {
        self.in_flight.count()
    }

    #[cold]
    fn turn_away(&self) -> Error {
        self.rejected.fetch_add(1, Ordering::Relaxed);
        crate::lifecycle::rejection(PolicyKind::RateLimiter, &self.name)
    }

    fn reject(&self, retry_after_nanos: u64) -> Error {
        self.reject_with_key(retry_after_nanos, || None)
    }

    /// A rejection; its event carries the key's text that `key` gives, for a keyed call.
    fn reject_with_key(
        &self,
        retry_after_nanos: u64,
        key: impl FnOnce() -> Option<Arc<str>>,
    ) -> Error {
        self.rejected.fetch_add(1, Ordering::Relaxed);
        let error = Error::RateLimited {
            name: Arc::clone(&self.name),
            retry_after: Duration::from_nanos(retry_after_nanos),
        };
        events::emit(|| Event::CallRejected {
            kind: PolicyKind::RateLimiter,
            error: error.clone(),
            key: key(),
        });
        error
    }
}

/// A duration in nanoseconds, saturating: a `wait` past 584 years is forever.
fn duration_nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

impl fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimiter")
            .field("name", &self.name)
            .field("config", &self.config())
            .field("stats", &self.stats())
            .finish()
    }
}
