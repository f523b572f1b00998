//! What a retry policy has done, counted.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crate::striped::Striped;

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
#[non_exhaustive]
pub struct RetryStats {
    /// Calls that finished: the sum of the four outcomes below.
    pub calls: u64,
    /// Retries made: sleeps taken (or skipped, for a zero delay) before another attempt.
    pub retries: u64,
    /// Calls whose first attempt succeeded.
    pub successes_without_retry: u64,
    /// Calls that succeeded after one retry or more.
    pub successes_after_retry: u64,
    /// Calls that ended with an error because `max_attempts`, `max_elapsed` or the retry budget
    /// ran out.
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

/// The live counters behind [`RetryStats`], striped by thread (see [`Striped`]). Every
/// finished call increments exactly one outcome counter, so a first-try success costs one
/// relaxed increment on the calling thread's stripe, and `calls` is derived.
#[derive(Debug, Default)]
pub(crate) struct RetryCounters(Striped<Stripe>);

#[derive(Debug, Default)]
struct Stripe {
    retries: AtomicU64,
    successes_without_retry: AtomicU64,
    successes_after_retry: AtomicU64,
    exhausted: AtomicU64,
    not_retryable: AtomicU64,
}

impl Stripe {
    fn counters(&self) -> [&AtomicU64; 5] {
        [
            &self.retries,
            &self.successes_without_retry,
            &self.successes_after_retry,
            &self.exhausted,
            &self.not_retryable,
        ]
    }
}

impl RetryCounters {
    pub(crate) fn record_retry(&self) {
        self.0.local().retries.fetch_add(1, Relaxed);
    }

    #[inline(always)]
    pub(crate) fn record_success(&self, retried: bool) {
        let stripe = self.0.local();
        let counter = if retried {
            &stripe.successes_after_retry
        } else {
            &stripe.successes_without_retry
        };
        counter.fetch_add(1, Relaxed);
    }

    pub(crate) fn record_exhausted(&self) {
        self.0.local().exhausted.fetch_add(1, Relaxed);
    }

    pub(crate) fn record_not_retryable(&self) {
        self.0.local().not_retryable.fetch_add(1, Relaxed);
    }

    pub(crate) fn snapshot(&self) -> RetryStats {
        let mut stats = RetryStats {
            calls: 0,
            retries: self.0.sum(|stripe| &stripe.retries),
            successes_without_retry: self.0.sum(|stripe| &stripe.successes_without_retry),
            successes_after_retry: self.0.sum(|stripe| &stripe.successes_after_retry),
            exhausted: self.0.sum(|stripe| &stripe.exhausted),
            not_retryable: self.0.sum(|stripe| &stripe.not_retryable),
        };
        stats.calls = stats
            .successes_without_retry
            .saturating_add(stats.successes_after_retry)
            .saturating_add(stats.failures());
        stats
    }

    pub(crate) fn reset(&self) {
        for counter in self.0.iter().flat_map(Stripe::counters) {
            counter.store(0, Relaxed);
        }
    }
}
