//! Retry: run an operation again when it fails, after a delay that grows per attempt.
//!
//! [`Retry`] holds the configuration and the counters; [`RetryRun`] is one call's loop state,
//! driven alike by [`Retry::call`] and by the code `#[retry]` generates.

mod attempts;
mod backoff;
mod builder;
mod config;
mod context;
mod jitter;
#[cfg(test)]
mod reconfigure_tests;
mod retry_on;
mod run;
mod stats;
#[cfg(test)]
mod tests;

use std::fmt;
use std::future::Future;
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

pub use attempts::{Attempt, Attempts};
pub use backoff::Backoff;
pub use builder::RetryBuilder;
pub use config::RetryConfig;
pub use context::RetryContext;
pub use jitter::Jitter;
pub use retry_on::RetryOn;
pub use run::RetryRun;
pub use stats::RetryStats;

use crate::lifecycle::InFlight;
use crate::live_config::LiveConfig;
use crate::{Failure, FailureRef};
use stats::RetryCounters;

/// A retry policy: how many attempts, how long to wait between them, which errors to retry.
///
/// Build one with [`Retry::builder`], or let `#[retry(...)]` register one under its name in the
/// [registry](crate::registry). Retry `n` (from 1) follows the `n`-th failed attempt and waits
/// [`delay_for(n)`](Retry::delay_for), randomized by the [`Jitter`]. When the attempts run out,
/// the last error is returned unchanged.
///
/// **Two ways to call it.** [`call`](Self::call), [`call_if`](Self::call_if) and
/// [`call_with`](Self::call_with) take an operation whose error is opaque to the retry: every
/// error is the operation's own, retried when `retry_if` says so, after the backoff's delay.
/// [`run`](Self::run) and [`run_with`](Self::run_with) take an operation whose error is a
/// [`Failure<E>`], as `#[retry]` sees the layers below it: `retry_if` sees only the operation's
/// own errors, a rejection is retried when it is transient (a timeout, a full bulkhead, a rate
/// limit, whose `retry_after` is the least sleep) and not when the circuit is open. Since
/// `Failure<E>: From<resilience::Error>`, the `call`s of the other policies report their
/// rejections as `Failure::Policy` when the operation's error is a `Failure<E>`: see
/// [the crate's guide](crate#without-macros).
///
/// `on_retry` (in [`call_with`](Self::call_with) and [`run_with`](Self::run_with)) is given
/// per call, like the attribute's, rather than set on the policy: one registered `Retry` is
/// shared by every site naming it, and each site logs its own errors.
///
/// **Reconfiguration.** A configuration reload changes a registered retry in place (call sites
/// keep it for good), and calls that begin afterwards run entirely on the new settings. A call
/// already running keeps the `max_attempts` it began with (an annotated function may have moved
/// an owned argument into what was then its last attempt), and whether `max_elapsed` timed it
/// from its start. The rest (`backoff`, `max_delay`, `jitter`, `max_elapsed`'s limit,
/// `retry_on`) is read after each failed attempt, so a running call follows the new values from
/// its next retry decision on; a sleep already begun is not cut short. A call that began
/// without `max_elapsed`, given one meanwhile, counts its elapsed time from its first failure.
///
/// ```
/// use resilience::Retry;
/// use std::time::Duration;
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let retry = Retry::builder("fetch")
///     .max_attempts(4)
///     .exponential(Duration::from_millis(100), 2.0)
///     .build()
///     .unwrap();
///
/// let mut attempts = 0;
/// let started = tokio::time::Instant::now();
/// let result: Result<u32, String> = retry
///     .call(|| {
///         attempts += 1;
///         let attempt = attempts;
///         async move {
///             if attempt < 3 { Err(format!("attempt {attempt} failed")) } else { Ok(attempt) }
///         }
///     })
///     .await;
///
/// assert_eq!(result, Ok(3));
/// // Two retries: 100ms, then 200ms.
/// assert_eq!(started.elapsed(), Duration::from_millis(300));
/// assert_eq!(retry.stats().retries, 2);
/// # }
/// ```
pub struct Retry {
    name: Arc<str>,
    /// What a call reads as it begins, packed ([`CallLimits`]): changed with `config`.
    limits: AtomicU64,
    /// The whole configuration. A failed attempt takes the `Arc` (never the lock across user
    /// code) and reads its schedule from it.
    config: LiveConfig<Arc<RetryConfig>>,
    counters: RetryCounters,
    /// Calls begun and not yet ended, for a shutdown to wait for.
    in_flight: InFlight,
    /// The budget `config.budget` names, resolved in the registry; read only by a call whose
    /// limits say it has one (a retry without a budget never touches it).
    budget: std::sync::RwLock<Option<Arc<crate::RetryBudget>>>,
}

/// The settings a call reads from its policy as it begins, in one word so that a reconfigure
/// changes them together: `max_attempts` in the low half, whether `max_elapsed` is set and
/// whether a budget is named above.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct CallLimits {
    max_attempts: u32,
    timed: bool,
    budgeted: bool,
}

impl CallLimits {
    const TIMED: u64 = 1 << 32;
    const BUDGETED: u64 = 1 << 33;

    fn of(config: &RetryConfig) -> Self {
        CallLimits {
            max_attempts: config.max_attempts,
            timed: config.max_elapsed.is_some(),
            budgeted: config.budget.is_some(),
        }
    }

    fn pack(self) -> u64 {
        u64::from(self.max_attempts)
            | if self.timed { Self::TIMED } else { 0 }
            | if self.budgeted { Self::BUDGETED } else { 0 }
    }

    #[inline]
    fn unpack(word: u64) -> Self {
        CallLimits {
            // The low half, by truncation.
            max_attempts: word as u32,
            timed: word & Self::TIMED != 0,
            budgeted: word & Self::BUDGETED != 0,
        }
    }
}

impl Retry {
    /// A builder for a policy registered as `name`.
    pub fn builder(name: impl Into<Arc<str>>) -> RetryBuilder {
        RetryBuilder::new(name.into())
    }

    fn new(name: Arc<str>, config: RetryConfig) -> Self {
        let budget = resolve_budget(&config);
        Retry {
            name,
            limits: AtomicU64::new(CallLimits::of(&config).pack()),
            config: LiveConfig::new(Arc::new(config)),
            counters: RetryCounters::default(),
            in_flight: InFlight::default(),
            budget: std::sync::RwLock::new(budget),
        }
    }

    /// The budget the policy draws on, if it names one.
    pub fn budget(&self) -> Option<Arc<crate::RetryBudget>> {
        self.budget
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Deposits a call in the budget: called as a call begins, when its limits name one.
    #[cold]
    fn deposit(&self) {
        if let Some(budget) = &*self
            .budget
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
        {
            budget.deposit();
        }
    }

    /// The policy a bare `#[retry]` gets, which needs no validation.
    pub(crate) fn with_defaults(name: Arc<str>) -> Self {
        Retry::new(name, RetryConfig::default())
    }

    /// The policy's registry name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The policy's registry name, shared.
    pub fn name_arc(&self) -> &Arc<str> {
        &self.name
    }

    /// The settings the policy runs with now: those it was built with, or the latest a
    /// configuration reload gave it.
    pub fn config(&self) -> RetryConfig {
        RetryConfig::clone(&self.config.get())
    }

    /// The current settings, shared: what a failed attempt reads its schedule from.
    fn current(&self) -> Arc<RetryConfig> {
        self.config.get()
    }

    /// What a call beginning now reads.
    #[inline]
    fn call_limits(&self) -> CallLimits {
        CallLimits::unpack(self.limits.load(Ordering::Relaxed))
    }

    /// Takes `config` in place of the current settings, while calls run, and returns the keys
    /// whose values changed, spelled as in `#[retry]` (`"max_attempts"`, `"backoff"`,
    /// `"delay"`, `"factor"`, `"delays"`, `"backoff_fn"`, `"max_delay"`, `"jitter"`,
    /// `"max_elapsed"`, `"retry_on"`), empty when none did. `config` was validated by whoever
    /// built it. See the type's docs for what a change does to calls already running.
    pub(crate) fn reconfigure(&self, config: RetryConfig) -> Vec<&'static str> {
        let mut current = self.config.write();
        let changed = current.changed_keys(&config);
        if changed.contains(&"budget") {
            *self
                .budget
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = resolve_budget(&config);
        }
        if !changed.is_empty() {
            self.limits
                .store(CallLimits::of(&config).pack(), Ordering::Relaxed);
            *current = Arc::new(config);
        }
        changed
    }

    /// What the policy has done since it was built or its stats were last reset.
    pub fn stats(&self) -> RetryStats {
        self.counters.snapshot()
    }

    /// Sets every counter back to zero.
    pub fn reset_stats(&self) {
        self.counters.reset();
    }

    /// The delay before retry `retry` (from 1), capped at `max_delay`, before jitter.
    ///
    /// ```
    /// use resilience::Retry;
    /// use std::time::Duration;
    ///
    /// let retry = Retry::builder("doc-delay-for").linear(Duration::from_millis(50)).build().unwrap();
    /// assert_eq!(retry.delay_for(3), Duration::from_millis(150));
    /// ```
    pub fn delay_for(&self, retry: u32) -> Duration {
        let config = self.current();
        config.backoff.delay(retry, config.max_delay)
    }

    /// The calls running through this retry now (begun and not yet ended, between attempts
    /// included): what a [shutdown](crate::Registry::shutdown) waits for.
    pub fn in_flight(&self) -> u32 {
        self.in_flight.count()
    }

    /// Starts one call's retry loop. Cheap: it allocates nothing and reads the clock only when
    /// the policy has a `max_elapsed`.
    #[inline]
    pub fn begin(&self) -> RetryRun<'_> {
        RetryRun::new(self)
    }

    /// Runs `operation` until it succeeds or the policy gives up, retrying every `Err`.
    ///
    /// `operation` is called once per attempt and returns that attempt's future. Its error is
    /// opaque to the retry: a rejection converted into it (an open circuit, a rate limit with
    /// its `retry_after`) is retried like any error, after the backoff's delay. For an
    /// operation whose error is a [`Failure<E>`], [`run`](Self::run) tells rejections apart.
    pub async fn call<T, E, F, Fut>(&self, operation: F) -> Result<T, E>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        self.call_with(operation, |_| true, |_| {}).await
    }

    /// Runs `operation` until it succeeds or the policy gives up, retrying the errors for which
    /// `retry_if` returns `true`; any other error is returned at once.
    pub async fn call_if<T, E, F, Fut, P>(&self, operation: F, retry_if: P) -> Result<T, E>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        P: Fn(&E) -> bool,
    {
        self.call_with(operation, retry_if, |_| {}).await
    }

    /// Like [`call_if`](Self::call_if), and calls `on_retry` before each sleep with the
    /// attempt that failed, its error and the delay, as `#[retry(on_retry = ..)]` does.
    ///
    /// ```
    /// use resilience::{Retry, RetryContext};
    /// use std::sync::Mutex;
    /// use std::time::Duration;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let retry = Retry::builder("doc-call-with").fixed(Duration::from_millis(100)).build().unwrap();
    /// let log = Mutex::new(Vec::new());
    /// let mut attempts = 0;
    /// let result: Result<(), String> = retry
    ///     .call_with(
    ///         || {
    ///             attempts += 1;
    ///             let attempt = attempts;
    ///             async move { Err(format!("refused #{attempt}")) }
    ///         },
    ///         |error| error.starts_with("refused"),
    ///         |ctx: &RetryContext<'_, String>| {
    ///             let line = format!("{:?} in {:?}", ctx.error().unwrap(), ctx.delay());
    ///             log.lock().unwrap().push(line);
    ///         },
    ///     )
    ///     .await;
    /// assert_eq!(result, Err("refused #3".to_owned()));
    /// assert_eq!(
    ///     *log.lock().unwrap(),
    ///     ["\"refused #1\" in 100ms", "\"refused #2\" in 100ms"]
    /// );
    /// # }
    /// ```
    pub async fn call_with<T, E, F, Fut, P, O>(
        &self,
        operation: F,
        retry_if: P,
        on_retry: O,
    ) -> Result<T, E>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        P: Fn(&E) -> bool,
        O: Fn(&RetryContext<'_, E>),
    {
        self.drive(operation, view_operation, retry_if, on_retry)
            .await
    }

    /// Runs `operation`, whose error is a [`Failure<E>`], until it succeeds or the policy gives
    /// up, with the rules of `#[retry]` over the layers below it: every error of the operation
    /// itself is retried; a timeout or a full bulkhead is retried; a rate limit is retried after
    /// at least its `retry_after` (beyond `max_delay` if need be: an earlier attempt would only
    /// be rejected again); an open circuit is not retried.
    ///
    /// The policies' `call`s report their rejections as `Failure::Policy` when the operation's
    /// error is a `Failure<E>` (through `From<resilience::Error>`), so a stack of them runs here
    /// as it would under the attributes: see [the crate's guide](crate#without-macros).
    ///
    /// ```
    /// use resilience::{Failure, RateLimiter, Retry};
    /// use std::time::Duration;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// // One call per second; the bucket is empty for the next second.
    /// let limiter = RateLimiter::builder("doc-run-limiter").rate(1).build().unwrap();
    /// limiter.try_acquire().unwrap();
    /// let retry = Retry::builder("doc-run").fixed(Duration::from_millis(10)).build().unwrap();
    ///
    /// let started = tokio::time::Instant::now();
    /// let sent: Result<&str, Failure<std::io::Error>> = retry
    ///     .run(|| limiter.call(async { Ok("sent") }))
    ///     .await;
    /// assert_eq!(sent.unwrap(), "sent");
    /// // Not 10ms, which the limiter would only have refused again.
    /// assert_eq!(started.elapsed(), Duration::from_secs(1));
    /// # }
    /// ```
    pub async fn run<T, E, F, Fut>(&self, operation: F) -> Result<T, Failure<E>>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, Failure<E>>>,
    {
        self.run_with(operation, |_| true, |_| {}).await
    }

    /// Like [`run`](Self::run), with the attribute's `retry_if` and `on_retry`: `retry_if`
    /// decides on the operation's own errors (rejections are judged by their kind, as in
    /// `run`), and `on_retry` is called before each sleep, for rejections too
    /// ([`RetryContext::rejection`]).
    pub async fn run_with<T, E, F, Fut, P, O>(
        &self,
        operation: F,
        retry_if: P,
        on_retry: O,
    ) -> Result<T, Failure<E>>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, Failure<E>>>,
        P: Fn(&E) -> bool,
        O: Fn(&RetryContext<'_, E>),
    {
        let mut operation = operation;
        let mut run = self.begin();
        loop {
            let result = operation().await;
            let describe = |e: &E| run::type_name_of(e);
            match run
                .after_attempt_in_stack(result, &retry_if, &on_retry, describe)
                .await
            {
                ControlFlow::Break(result) => return result,
                ControlFlow::Continue(()) => {}
            }
        }
    }

    /// The loop of every `call` and `run`: an attempt, then [`RetryRun::after_attempt`]'s
    /// decision, which `view` shows the error to.
    async fn drive<T, X, E, F, Fut, V, P, O>(
        &self,
        mut operation: F,
        view: V,
        retry_if: P,
        on_retry: O,
    ) -> Result<T, X>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, X>>,
        V: Fn(&X) -> FailureRef<'_, E>,
        P: Fn(&E) -> bool,
        O: Fn(&RetryContext<'_, E>),
    {
        let mut run = self.begin();
        loop {
            let result = operation().await;
            match run.after_attempt(result, &view, &retry_if, &on_retry).await {
                ControlFlow::Break(result) => return result,
                ControlFlow::Continue(()) => {}
            }
        }
    }
}

impl fmt::Debug for Retry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Retry")
            .field("name", &self.name)
            .field("config", &self.current())
            .field("stats", &self.stats())
            .finish()
    }
}

/// The registry's budget `config` names, registered with the defaults if nothing defined it.
fn resolve_budget(config: &RetryConfig) -> Option<Arc<crate::RetryBudget>> {
    config
        .budget
        .as_deref()
        .map(|name| crate::registry().retry_budget_named(name))
}

/// Shows an opaque operation error to the driver as the operation's own.
fn view_operation<E>(error: &E) -> FailureRef<'_, E> {
    FailureRef::Operation(error)
}
