//! Retry: run an operation again when it fails, after a delay that grows per attempt.
//!
//! [`Retry`] holds the configuration and the counters; [`RetryRun`] is one call's loop state,
//! driven alike by [`Retry::call`] and by the code `#[retry]` generates.

mod backoff;
mod builder;
mod config;
mod context;
mod jitter;
mod run;
mod stats;
#[cfg(test)]
mod tests;

use std::future::Future;
use std::ops::ControlFlow;
use std::sync::Arc;
use std::time::Duration;

pub use backoff::Backoff;
pub use builder::RetryBuilder;
pub use config::RetryConfig;
pub use context::RetryContext;
pub use jitter::Jitter;
pub use run::RetryRun;
pub use stats::RetryStats;

use crate::FailureRef;
use stats::RetryCounters;

/// A retry policy: how many attempts, how long to wait between them, which errors to retry.
///
/// Build one with [`Retry::builder`], or let `#[retry(...)]` register one under its name in the
/// [registry](crate::registry). Retry `n` (from 1) follows the `n`-th failed attempt and waits
/// [`delay_for(n)`](Retry::delay_for), randomized by the [`Jitter`]. When the attempts run out,
/// the last error is returned unchanged.
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
#[derive(Debug)]
pub struct Retry {
    name: Arc<str>,
    config: RetryConfig,
    counters: RetryCounters,
}

impl Retry {
    /// A builder for a policy registered as `name`.
    pub fn builder(name: impl Into<Arc<str>>) -> RetryBuilder {
        RetryBuilder::new(name.into())
    }

    fn new(name: Arc<str>, config: RetryConfig) -> Self {
        Retry {
            name,
            config,
            counters: RetryCounters::default(),
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

    /// The settings the policy runs with.
    pub fn config(&self) -> &RetryConfig {
        &self.config
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
        self.config.backoff.delay(retry, self.config.max_delay)
    }

    /// Starts one call's retry loop. Cheap: it allocates nothing and reads the clock only when
    /// the policy has a `max_elapsed`.
    #[inline]
    pub fn begin(&self) -> RetryRun<'_> {
        RetryRun::new(self)
    }

    /// Runs `operation` until it succeeds or the policy gives up, retrying every `Err`.
    ///
    /// `operation` is called once per attempt and returns that attempt's future.
    pub async fn call<T, E, F, Fut>(&self, operation: F) -> Result<T, E>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        self.call_if(operation, |_| true).await
    }

    /// Runs `operation` until it succeeds or the policy gives up, retrying the errors for which
    /// `retry_if` returns `true`; any other error is returned at once.
    pub async fn call_if<T, E, F, Fut, P>(&self, mut operation: F, retry_if: P) -> Result<T, E>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        P: Fn(&E) -> bool,
    {
        let mut run = self.begin();
        loop {
            let result = operation().await;
            match run
                .after_attempt(result, view_operation, &retry_if, |_| {})
                .await
            {
                ControlFlow::Break(result) => return result,
                ControlFlow::Continue(()) => {}
            }
        }
    }
}

/// Shows a bare operation error to the driver, which also handles policy rejections.
fn view_operation<E>(error: &E) -> FailureRef<'_, E> {
    FailureRef::Operation(error)
}
