//! What a retry policy has done, counted.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Counters of a [`Retry`](crate::Retry) since it was built or last reset.
///
/// A call is counted when it finishes, by how it finished, so `calls` is always the sum of the
/// four outcomes; a call dropped before it finished is not counted (its retries are).
///
/// ```
/// use resilience::Retry;
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let retry = Retry::builder("doc-stats").no_backoff().build().unwrap();
/// let mut failures_left = 1;
/// let result: Result<(), &str> = retry
///     .call(|| {
///         let fail = failures_left > 0;
///         failures_left -= 1;
///         async move { if fail { Err("flaky") } else { Ok(()) } }
///     })
///     .await;
/// assert!(result.is_ok());
/// let stats = retry.stats();
/// assert_eq!((stats.calls, stats.retries, stats.successes_after_retry), (1, 1, 1));
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct RetryStats {
    /// Calls that finished: the sum of the four outcomes below.
    pub calls: u64,
    /// Retries made: sleeps taken (or skipped, for a zero delay) before another attempt.
    pub retries: u64,
    /// Calls whose first attempt succeeded.
    pub successes_without_retry: u64,
    /// Calls that succeeded after one retry or more.
    pub successes_after_retry: u64,
    /// Calls that ended with an error because `max_attempts` or `max_elapsed` ran out.
    pub exhausted: u64,
    /// Calls that ended with an error that is not retried (`retry_if` said no, an open circuit).
    pub not_retryable: u64,
}

impl RetryStats {
    /// Calls that ended with an error: `exhausted + not_retryable`.
    pub fn failures(&self) -> u64 {
        self.exhausted.saturating_add(self.not_retryable)
    }
}

/// The live counters behind [`RetryStats`]. Every finished call increments exactly one outcome
/// counter, so a first-try success costs one relaxed increment and `calls` is derived.
#[derive(Debug, Default)]
pub(crate) struct RetryCounters {
    retries: AtomicU64,
    successes_without_retry: AtomicU64,
    successes_after_retry: AtomicU64,
    exhausted: AtomicU64,
    not_retryable: AtomicU64,
}

impl RetryCounters {
    pub(crate) fn record_retry(&self) {
        self.retries.fetch_add(1, Relaxed);
    }

    pub(crate) fn record_success(&self, retried: bool) {
        let counter = if retried {
            &self.successes_after_retry
        } else {
            &self.successes_without_retry
        };
        counter.fetch_add(1, Relaxed);
    }

    pub(crate) fn record_exhausted(&self) {
        self.exhausted.fetch_add(1, Relaxed);
    }

    pub(crate) fn record_not_retryable(&self) {
        self.not_retryable.fetch_add(1, Relaxed);
    }

    pub(crate) fn snapshot(&self) -> RetryStats {
        let mut stats = RetryStats {
            calls: 0,
            retries: self.retries.load(Relaxed),
            successes_without_retry: self.successes_without_retry.load(Relaxed),
            successes_after_retry: self.successes_after_retry.load(Relaxed),
            exhausted: self.exhausted.load(Relaxed),
            not_retryable: self.not_retryable.load(Relaxed),
        };
        stats.calls = stats
            .successes_without_retry
            .saturating_add(stats.successes_after_retry)
            .saturating_add(stats.failures());
        stats
    }

    pub(crate) fn reset(&self) {
        for counter in [
            &self.retries,
            &self.successes_without_retry,
            &self.successes_after_retry,
            &self.exhausted,
            &self.not_retryable,
        ] {
            counter.store(0, Relaxed);
        }
    }
}
