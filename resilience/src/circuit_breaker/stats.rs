//! What a breaker reports about itself.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::CircuitState;
use crate::WallTime;

/// A snapshot of a [`CircuitBreaker`](crate::CircuitBreaker)'s state and counters, from
/// [`stats`](crate::CircuitBreaker::stats).
///
/// The counters run from the breaker's creation or its last
/// [`reset_stats`](crate::CircuitBreaker::reset_stats); taken while calls finish on other
/// threads, they are a moment's approximation. `calls = successes + failures + ignored`: a call
/// is counted when it finishes (or is dropped), so calls in flight are not yet in it, and
/// rejected calls are counted apart. An outcome admitted before the circuit changed state is
/// counted here although it no longer moves the circuit (a half-open probe that outlived
/// `half_open_timeout` included: the circuit took it for failed, the stats count how it ended).
/// Fields are added over time (`#[non_exhaustive]`).
///
/// ```
/// use resilience::{CircuitBreaker, CircuitState};
///
/// let breaker = CircuitBreaker::builder("doc-stats").failure_threshold(2).build().unwrap();
/// breaker.record_success();
/// breaker.record_failure();
/// let stats = breaker.stats();
/// assert_eq!(stats.state, CircuitState::Closed);
/// assert_eq!((stats.calls, stats.successes, stats.failures), (2, 1, 1));
/// assert_eq!(stats.consecutive_failures, 1);
/// assert!(stats.last_failure.is_some());
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct CircuitBreakerStats {
    /// The circuit's state.
    pub state: CircuitState,
    /// Failures in a row in the current state (every transition starts a fresh count).
    pub consecutive_failures: u32,
    /// Successes since the last failure or transition.
    pub consecutive_successes: u64,
    /// Calls that finished: `successes + failures + ignored`.
    pub calls: u64,
    /// Calls that counted as successes.
    pub successes: u64,
    /// Calls that counted as failures (slow successes and panics included).
    pub failures: u64,
    /// Calls that counted as neither: ignored errors, inner rejections other than a timeout, and
    /// calls dropped before they finished.
    pub ignored: u64,
    /// Calls rejected without running, while open or while every probe slot was taken.
    pub rejected: u64,
    /// The failure rate over the failure-rate rule's current window; `None` for the
    /// consecutive-failure rule or an empty window.
    pub failure_rate: Option<f64>,
    /// When the latest run of successes began: the first success after a failure or a
    /// transition. Later successes of the same run leave it alone, which keeps the clock off the
    /// success path.
    pub last_success: Option<WallTime>,
    /// When the latest failure was recorded.
    pub last_failure: Option<WallTime>,
    /// When the circuit last opened (it stays set once the circuit closes again).
    pub opened_at: Option<WallTime>,
    /// A keyed breaker's keys (`None` for a breaker no keyed call has used): how many, the
    /// hottest, the open ones. The fields above count every key's calls too; `state` is the
    /// unkeyed circuit's. Left out of the JSON when `None`, so an unkeyed breaker's row keeps
    /// its shape.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub keys: Option<crate::KeyedStats>,
}

/// One line for people: the state, the counters, and the times that happened, in RFC 3339:
/// `open calls=4 ok=1 failed=3 ignored=0 rejected=1 last_failure=2026-11-30T12:05:43.123Z
/// opened_at=2026-11-30T12:05:43.123Z`.
impl std::fmt::Display for CircuitBreakerStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} calls={} ok={} failed={} ignored={} rejected={}",
            self.state, self.calls, self.successes, self.failures, self.ignored, self.rejected
        )?;
        if let Some(rate) = self.failure_rate {
            write!(f, " failure_rate={rate:.2}")?;
        }
        for (key, time) in [
            ("last_success", self.last_success),
            ("last_failure", self.last_failure),
            ("opened_at", self.opened_at),
        ] {
            if let Some(time) = time {
                write!(f, " {key}={time}")?;
            }
        }
        Ok(())
    }
}

/// A wall-clock time in one atomic: nanoseconds since the Unix epoch, `0` for none. Wall-clock
/// because these times are for people reading stats, unlike the breaker's timing, which uses
/// `tokio::time`.
#[derive(Debug, Default)]
pub(super) struct WallClockMark(AtomicU64);

impl WallClockMark {
    #[inline(never)]
    pub(super) fn set_now(&self) {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| {
                u64::try_from(since.as_nanos()).unwrap_or(u64::MAX)
            });
        self.0.store(nanos, Relaxed);
    }

    pub(super) fn get(&self) -> Option<WallTime> {
        match self.0.load(Relaxed) {
            0 => None,
            nanos => UNIX_EPOCH
                .checked_add(Duration::from_nanos(nanos))
                .map(WallTime::from),
        }
    }
}
