//! The values a [`SharedStore`](super::SharedStore) takes and returns.

use std::fmt;
use std::time::Duration;

/// Why a store operation failed. Whatever it is, the policy falls back to its local state and
/// the call goes on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The store could not be reached, or refused the operation.
    #[error("unreachable: {0}")]
    Unreachable(String),
    /// The store did not answer within the adapter's per-operation timeout.
    #[error("no answer within {0:?}")]
    TimedOut(Duration),
    /// The store answered something the adapter cannot read.
    #[error("unreadable answer: {0}")]
    Garbage(String),
}

/// What a shared rate limiter asks of the fleet's bucket: one cell, the bucket gaining one every
/// `interval` and holding at most `burst`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateRequest {
    /// The time between two cells: the limiter's `per / rate`.
    pub interval: Duration,
    /// The cells the bucket holds when full; at least 1.
    pub burst: u32,
}

/// The fleet bucket's answer to a [`RateRequest`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateDecision {
    /// A cell was taken: the call may run.
    Permitted,
    /// The bucket is empty.
    Limited {
        /// The time until the next cell; longer than zero.
        retry_after: Duration,
    },
}

/// A circuit's phase as the fleet stores it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FleetPhase {
    /// Calls run.
    Closed,
    /// Calls are rejected until `reset_timeout` has passed.
    Open,
    /// Probes run, at most `half_open_max_calls` at once across the fleet.
    HalfOpen,
    /// Held open by `force_open` until a `reset`.
    ForcedOpen,
}

impl FleetPhase {
    /// `"closed"`, `"open"`, `"half_open"`, `"forced_open"`: how an adapter may store it.
    pub const fn as_str(self) -> &'static str {
        match self {
            FleetPhase::Closed => "closed",
            FleetPhase::Open => "open",
            FleetPhase::HalfOpen => "half_open",
            FleetPhase::ForcedOpen => "forced_open",
        }
    }

    /// The phase [`as_str`](Self::as_str) wrote; `None` for anything else.
    ///
    /// ```
    /// use resilience::store::FleetPhase;
    ///
    /// assert_eq!(FleetPhase::parse("half_open"), Some(FleetPhase::HalfOpen));
    /// assert_eq!(FleetPhase::parse("ajar"), None);
    /// ```
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "closed" => FleetPhase::Closed,
            "open" => FleetPhase::Open,
            "half_open" => FleetPhase::HalfOpen,
            "forced_open" => FleetPhase::ForcedOpen,
            _ => return None,
        })
    }
}

impl fmt::Display for FleetPhase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The trip rule a store judges on the fleet's counts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FleetRule {
    /// Open after this many failures across the fleet with no success between them. The fleet
    /// sees outcomes a sync at a time, not one by one: a report with successes restarts the
    /// fleet's streak at the reporting instance's own trailing failures
    /// ([`BreakerReport::trailing_failures`]), one without adds its failures.
    ConsecutiveFailures(u32),
    /// Open when failures reach `rate` of the outcomes of the last `window`, once there are
    /// `min_calls` of them. A breaker with a count window is judged fleet-wide over the last
    /// 10 seconds.
    FailureRate {
        /// The failure fraction that trips, in (0, 1].
        rate: f64,
        /// Outcomes the window must hold first.
        min_calls: u32,
        /// How far back the fleet's counts go.
        window: Duration,
    },
}

/// What one instance tells the fleet about a shared breaker at a sync: see
/// [`SharedStore::sync_breaker`](super::SharedStore::sync_breaker).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BreakerReport {
    /// The fleet generation this instance last saw (0 before its first sync).
    pub generation: u64,
    /// The transition this instance made since its last sync, if any: applied only if the
    /// fleet is still at `generation`.
    pub proposal: Option<FleetPhase>,
    /// The instance's phase now: seeds a state the store lost.
    pub phase: FleetPhase,
    /// How long the instance's circuit has been open (zero unless it is): seeds a lost state.
    pub open_for: Duration,
    /// Successes of calls admitted while closed, since the last sync.
    pub successes: u64,
    /// Failures of calls admitted while closed, since the last sync.
    pub failures: u64,
    /// The instance's consecutive failures now, after its last success.
    pub trailing_failures: u32,
    /// The trip rule, judged on the fleet's counts.
    pub rule: FleetRule,
    /// The width of a time bucket of counts.
    pub bucket: Duration,
    /// The breaker's `half_open_timeout`: a fleet half-open for longer re-opens.
    pub half_open_timeout: Duration,
    /// How long the state outlives the last sync: a dead fleet leaves nothing behind.
    pub ttl: Duration,
}

/// The fleet's state of a shared breaker, after a sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FleetBreaker {
    /// The fleet's generation: it grows by one at every transition.
    pub generation: u64,
    /// The fleet's phase.
    pub phase: FleetPhase,
    /// How long the fleet's circuit has been open, or half-open (zero when closed).
    pub open_for: Duration,
    /// Whether the report's proposal was applied: this instance made the transition.
    pub proposal_applied: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_read_back_what_they_write() {
        for phase in [
            FleetPhase::Closed,
            FleetPhase::Open,
            FleetPhase::HalfOpen,
            FleetPhase::ForcedOpen,
        ] {
            assert_eq!(FleetPhase::parse(phase.as_str()), Some(phase));
            assert_eq!(phase.to_string(), phase.as_str());
        }
        assert_eq!(FleetPhase::parse(""), None);
        assert_eq!(FleetPhase::parse("OPEN"), None);
    }
}
