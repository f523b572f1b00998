//! The settings the lock-free paths read, kept in atomics so that a reconfiguration can change
//! them under calls in flight.

use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use super::{CircuitBreakerConfig, TripRule};
use crate::sync::{AtomicBool, AtomicU32, AtomicU64};

/// Copies of the settings read without the breaker's lock: by a closed circuit's admission and
/// outcomes, and by an open circuit's rejections. The whole configuration lives under the lock
/// (`Machine::config`); these copies are written only under it, when the breaker is built and by
/// [`reconfigure`](super::CircuitBreaker::reconfigure), which says why a call racing it may read
/// some of them old and some new without harm.
///
/// Reads are Relaxed: a plain load on the targets that matter, as cheap as the plain fields they
/// replace. Under the lock they are exact, since every write happens under it.
#[derive(Debug)]
pub(super) struct AtomicSettings {
    /// No `slow_call` limit and the consecutive-failure rule: a closed circuit's success only
    /// counts (see `count_success`).
    quick_successes: AtomicBool,
    /// The consecutive-failure rule's threshold, or 0 under the failure-rate rule (a threshold is
    /// at least 1).
    failure_threshold: AtomicU32,
    /// `slow_call` in nanoseconds, or 0 for none (a limit is longer than zero).
    slow_call: AtomicU64,
    /// `reset_timeout` in nanoseconds.
    reset_timeout: AtomicU64,
    /// `critical`: read by health reports, never by a call; kept here so that reading it takes
    /// no lock.
    critical: AtomicBool,
    /// `shared`: read by the registry's sync task, never by a call.
    shared: AtomicBool,
}

/// The values the atomics hold for one configuration.
struct Values {
    quick_successes: bool,
    failure_threshold: u32,
    slow_call: u64,
    reset_timeout: u64,
    critical: bool,
    shared: bool,
}

fn nanos(duration: Duration) -> u64 {
    // Saturates 584 years out: longer than any reset timeout or slow-call limit can matter.
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

impl Values {
    fn of(config: &CircuitBreakerConfig) -> Self {
        let failure_threshold = match config.trip {
            TripRule::ConsecutiveFailures(threshold) => threshold,
            TripRule::FailureRate { .. } => 0,
        };
        Values {
            quick_successes: config.slow_call.is_none() && failure_threshold != 0,
            failure_threshold,
            // A limit is at least a nanosecond long, so it never reads as none.
            slow_call: config.slow_call.map_or(0, nanos),
            reset_timeout: nanos(config.reset_timeout),
            critical: config.critical,
            shared: config.shared,
        }
    }
}

impl AtomicSettings {
    pub(super) fn new(config: &CircuitBreakerConfig) -> Self {
        let values = Values::of(config);
        AtomicSettings {
            quick_successes: AtomicBool::new(values.quick_successes),
            failure_threshold: AtomicU32::new(values.failure_threshold),
            slow_call: AtomicU64::new(values.slow_call),
            reset_timeout: AtomicU64::new(values.reset_timeout),
            critical: AtomicBool::new(values.critical),
            shared: AtomicBool::new(values.shared),
        }
    }

    /// Takes `config`'s values. Called under the breaker's lock only.
    pub(super) fn store(&self, config: &CircuitBreakerConfig) {
        let values = Values::of(config);
        self.quick_successes.store(values.quick_successes, Relaxed);
        self.failure_threshold
            .store(values.failure_threshold, Relaxed);
        self.slow_call.store(values.slow_call, Relaxed);
        self.reset_timeout.store(values.reset_timeout, Relaxed);
        self.critical.store(values.critical, Relaxed);
        self.shared.store(values.shared, Relaxed);
    }

    /// Whether a closed circuit's success needs nothing but counting: no `slow_call` limit, and
    /// the consecutive-failure rule.
    #[inline(always)]
    pub(super) fn quick_successes(&self) -> bool {
        self.quick_successes.load(Relaxed)
    }

    /// The consecutive-failure rule's threshold; `None` under the failure-rate rule.
    #[inline]
    pub(super) fn failure_threshold(&self) -> Option<u32> {
        match self.failure_threshold.load(Relaxed) {
            0 => None,
            threshold => Some(threshold),
        }
    }

    /// Whether a `slow_call` limit is set, so that a closed call's admission must read the clock.
    #[inline(always)]
    pub(super) fn times_calls(&self) -> bool {
        self.slow_call.load(Relaxed) != 0
    }

    /// The `slow_call` limit, if any.
    pub(super) fn slow_call(&self) -> Option<Duration> {
        match self.slow_call.load(Relaxed) {
            0 => None,
            limit => Some(Duration::from_nanos(limit)),
        }
    }

    /// The `reset_timeout`.
    pub(super) fn reset_timeout(&self) -> Duration {
        Duration::from_nanos(self.reset_timeout.load(Relaxed))
    }

    /// `critical`.
    pub(super) fn critical(&self) -> bool {
        self.critical.load(Relaxed)
    }

    /// `shared`.
    pub(super) fn shared(&self) -> bool {
        self.shared.load(Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Window;

    #[test]
    fn the_atomics_follow_the_configuration() {
        let mut config = CircuitBreakerConfig::default();
        let settings = AtomicSettings::new(&config);
        assert!(settings.quick_successes());
        assert_eq!(settings.failure_threshold(), Some(5));
        assert!(!settings.times_calls());
        assert_eq!(settings.slow_call(), None);
        assert_eq!(settings.reset_timeout(), Duration::from_secs(30));
        assert!(!settings.critical());

        config.critical = true;
        settings.store(&config);
        assert!(settings.critical());
        assert!(settings.quick_successes(), "critical changes no call");

        config.slow_call = Some(Duration::from_millis(250));
        config.reset_timeout = Duration::ZERO;
        settings.store(&config);
        assert!(
            !settings.quick_successes(),
            "a slow-call limit needs the clock"
        );
        assert!(settings.times_calls());
        assert_eq!(settings.slow_call(), Some(Duration::from_millis(250)));
        assert_eq!(settings.reset_timeout(), Duration::ZERO);

        config.slow_call = None;
        config.trip = TripRule::FailureRate {
            rate: 0.5,
            window: Window::Calls(10),
            min_calls: 10,
        };
        settings.store(&config);
        assert!(
            !settings.quick_successes(),
            "the rate rule needs the window"
        );
        assert_eq!(settings.failure_threshold(), None);
        assert!(!settings.times_calls());
    }

    #[test]
    fn durations_saturate() {
        let config = CircuitBreakerConfig {
            reset_timeout: Duration::MAX,
            slow_call: Some(Duration::MAX),
            ..CircuitBreakerConfig::default()
        };
        let settings = AtomicSettings::new(&config);
        assert_eq!(settings.reset_timeout(), Duration::from_nanos(u64::MAX));
        assert_eq!(settings.slow_call(), Some(Duration::from_nanos(u64::MAX)));
    }
}
