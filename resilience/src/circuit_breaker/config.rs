//! A circuit breaker's settings and their validation.

use std::fmt;
use std::time::Duration;

use resilience_settings::circuit_breaker::{self as settings, BreakerSettings};

use crate::ConfigError;

// The defaults live in the table the `#[circuit_breaker]` attribute reads too.
/// The window size of the failure-rate rule when none is given.
pub(super) const DEFAULT_WINDOW_CALLS: u32 = settings::DEFAULT_WINDOW_CALLS;
/// The default `min_calls` of a time window, which has no size in calls to default to.
pub(super) const DEFAULT_TIME_WINDOW_MIN_CALLS: u32 = settings::DEFAULT_TIME_WINDOW_MIN_CALLS;

/// The settings of a [`CircuitBreaker`](crate::CircuitBreaker).
///
/// Build it with [`CircuitBreaker::builder`](crate::CircuitBreaker::builder), or start from
/// [`default`](Default::default), change fields, and pass it to
/// [`CircuitBreaker::new`](crate::CircuitBreaker::new), which checks it the same way. (It is
/// `#[non_exhaustive]`: settings are added over time, so it cannot be written as a literal
/// outside this crate.)
///
/// ```
/// use resilience::{CircuitBreaker, CircuitBreakerConfig, TripRule, Window};
/// use std::time::Duration;
///
/// let mut config = CircuitBreakerConfig::default();
/// config.trip = TripRule::FailureRate { rate: 0.5, window: Window::Calls(20), min_calls: 10 };
/// config.reset_timeout = Duration::from_secs(10);
/// let breaker = CircuitBreaker::new("doc-config", config.clone()).unwrap();
/// assert_eq!(breaker.config(), config);
/// // The half-open timeout was left to its default: the reset timeout.
/// assert_eq!(config.effective_half_open_timeout(), Duration::from_secs(10));
/// assert_eq!(
///     config.to_string(),
///     "rate=0.5 window=20 min_calls=10 reset=10s half_open_timeout=10s",
/// );
/// ```
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct CircuitBreakerConfig {
    /// When a closed circuit opens (default: 5 consecutive failures).
    pub trip: TripRule,
    /// Time open before a call is let through as a probe (default 30s).
    pub reset_timeout: Duration,
    /// How long a half-open probe may run, from its admission: one that has run this long (`>=`)
    /// counts as failed and re-opens the circuit, so that a probe that never finishes cannot
    /// hold its slot forever. Longer than zero. `None` (the default) means the
    /// `reset_timeout`, or 30s when that is zero, since no probe runs in no time; see
    /// [`effective_half_open_timeout`](Self::effective_half_open_timeout).
    pub half_open_timeout: Option<Duration>,
    /// Probe calls in flight at once while half-open; at least 1 (default 1).
    pub half_open_max_calls: u32,
    /// Probe successes that close the circuit; at least 1 (default 1).
    pub success_threshold: u32,
    /// A success that took strictly longer than this counts as a failure (default: none).
    pub slow_call: Option<Duration>,
    /// Whether an open or half-open circuit makes the registry's health unhealthy rather than
    /// degraded (default `false`). It changes nothing about the calls.
    pub critical: bool,
    /// Whether the circuit's state is shared across instances through the registry's
    /// [`SharedStore`](crate::SharedStore) (default `false`): see
    /// [`CircuitBreakerBuilder::shared`](super::CircuitBreakerBuilder::shared).
    pub shared: bool,
    /// For a keyed breaker: how long a closed key with no call in flight is kept once idle.
    /// `None`: the default, three reset timeouts (`3 × reset_timeout`), at least a second; see
    /// [`effective_key_idle`](Self::effective_key_idle).
    pub key_idle: Option<std::time::Duration>,
    /// For a keyed breaker: the most keys held at once, open keys aside (default 100 000).
    pub max_keys: u32,
}

impl Default for CircuitBreakerConfig {
    fn default() -> Self {
        CircuitBreakerConfig {
            trip: TripRule::ConsecutiveFailures(settings::DEFAULT_FAILURE_THRESHOLD),
            reset_timeout: settings::DEFAULT_RESET_TIMEOUT,
            half_open_timeout: None,
            half_open_max_calls: settings::DEFAULT_HALF_OPEN_MAX_CALLS,
            success_threshold: settings::DEFAULT_SUCCESS_THRESHOLD,
            slow_call: None,
            critical: false,
            shared: false,
            key_idle: None,
            max_keys: settings::DEFAULT_MAX_KEYS,
        }
    }
}

impl CircuitBreakerConfig {
    /// The half-open timeout in effect: `half_open_timeout` when given, else the
    /// `reset_timeout`, else (for a zero `reset_timeout`) 30s.
    ///
    /// ```
    /// use resilience::CircuitBreaker;
    /// use std::time::Duration;
    ///
    /// let breaker = CircuitBreaker::builder("doc-half-open-timeout")
    ///     .reset_timeout(Duration::from_secs(5))
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(breaker.config().half_open_timeout, None);
    /// assert_eq!(breaker.config().effective_half_open_timeout(), Duration::from_secs(5));
    /// ```
    pub fn effective_half_open_timeout(&self) -> Duration {
        match self.half_open_timeout {
            Some(timeout) => timeout,
            None if self.reset_timeout.is_zero() => settings::DEFAULT_RESET_TIMEOUT,
            None => self.reset_timeout,
        }
    }

    /// How long an idle closed key of a keyed breaker is kept, the default filled in:
    /// `key_idle`, else three reset timeouts and at least a second.
    ///
    /// ```
    /// use resilience::CircuitBreaker;
    /// use std::time::Duration;
    ///
    /// let breaker = CircuitBreaker::builder("doc-key-idle").build().unwrap();
    /// assert_eq!(breaker.config().effective_key_idle(), Duration::from_secs(90));
    /// ```
    pub fn effective_key_idle(&self) -> Duration {
        self.key_idle.unwrap_or_else(|| {
            self.reset_timeout
                .saturating_mul(3)
                .max(Duration::from_secs(1))
        })
    }

    /// Checks every value, naming the offending key as the attribute spells it: the checks
    /// `#[circuit_breaker]` runs at compile time.
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        self.settings().check().map_err(ConfigError::from_problem)
    }

    /// The configuration by key, as the shared checks see it.
    fn settings(&self) -> BreakerSettings {
        let (failure_threshold, failure_rate, window, min_calls) = match self.trip {
            TripRule::ConsecutiveFailures(threshold) => (Some(threshold), None, None, None),
            TripRule::FailureRate {
                rate,
                window,
                min_calls,
            } => (None, Some(rate), Some(window.setting()), Some(min_calls)),
        };
        BreakerSettings {
            failure_threshold,
            failure_rate,
            window,
            min_calls,
            reset_timeout: Some(self.reset_timeout),
            half_open_max_calls: Some(self.half_open_max_calls),
            success_threshold: Some(self.success_threshold),
            slow_call: self.slow_call,
            half_open_timeout: self.half_open_timeout,
            critical: Some(self.critical),
            shared: Some(self.shared),
        }
    }

    /// The keys, spelled as the attribute spells them and in its order, whose values in effect
    /// differ between `self` and `other`; empty when the two behave alike. A change of trip rule
    /// lists the keys of both rules (`failure_threshold` is set in one and not the other).
    /// `half_open_timeout` is compared by its [effective](Self::effective_half_open_timeout) value:
    /// left to its default, it changes with the `reset_timeout`; set to what it was in effect, it
    /// does not change.
    pub(super) fn changed_keys(&self, other: &Self) -> Vec<&'static str> {
        let (old, new) = (self.settings(), other.settings());
        [
            (
                old.failure_threshold != new.failure_threshold,
                &settings::FAILURE_THRESHOLD,
            ),
            (
                old.failure_rate != new.failure_rate,
                &settings::FAILURE_RATE,
            ),
            (old.window != new.window, &settings::WINDOW),
            (old.min_calls != new.min_calls, &settings::MIN_CALLS),
            (
                old.reset_timeout != new.reset_timeout,
                &settings::RESET_TIMEOUT,
            ),
            (
                old.half_open_max_calls != new.half_open_max_calls,
                &settings::HALF_OPEN_MAX_CALLS,
            ),
            (
                old.success_threshold != new.success_threshold,
                &settings::SUCCESS_THRESHOLD,
            ),
            (old.slow_call != new.slow_call, &settings::SLOW_CALL),
            (
                self.effective_half_open_timeout() != other.effective_half_open_timeout(),
                &settings::HALF_OPEN_TIMEOUT,
            ),
            (old.critical != new.critical, &settings::CRITICAL),
            (old.shared != new.shared, &settings::SHARED),
            (self.key_idle != other.key_idle, &settings::KEY_IDLE),
            (self.max_keys != other.max_keys, &settings::MAX_KEYS),
        ]
        .into_iter()
        .filter_map(|(changed, key)| changed.then_some(key.setting))
        .collect()
    }
}

/// A compact one-line summary, as the registry's table shows it:
/// `threshold=5 reset=30s half_open_timeout=30s`, or
/// `rate=0.5 window=60s min_calls=100 reset=30s half_open_timeout=30s half_open=2 slow=2s critical`.
/// The values in effect are shown, defaults included (`min_calls` and `half_open_timeout` default
/// to values derived from other settings, which a reader could not guess); `half_open`
/// (`half_open_max_calls`), `success` and `slow` appear only when they differ from the defaults,
/// and `critical` only when it is set.
impl fmt::Display for CircuitBreakerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.trip {
            TripRule::ConsecutiveFailures(threshold) => write!(f, "threshold={threshold}")?,
            TripRule::FailureRate {
                rate,
                window,
                min_calls,
            } => write!(f, "rate={rate} window={window} min_calls={min_calls}")?,
        }
        write!(f, " reset={:?}", self.reset_timeout)?;
        write!(
            f,
            " half_open_timeout={:?}",
            self.effective_half_open_timeout()
        )?;
        if self.half_open_max_calls != 1 {
            write!(f, " half_open={}", self.half_open_max_calls)?;
        }
        if self.success_threshold != 1 {
            write!(f, " success={}", self.success_threshold)?;
        }
        if let Some(limit) = self.slow_call {
            write!(f, " slow={limit:?}")?;
        }
        if self.critical {
            f.write_str(" critical")?;
        }
        if self.shared {
            f.write_str(" shared")?;
        }
        Ok(())
    }
}

/// When a closed circuit opens. More rules may come (`#[non_exhaustive]`).
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[non_exhaustive]
pub enum TripRule {
    /// After this many failures in a row (attribute key `failure_threshold`); at least 1.
    ConsecutiveFailures(u32),
    /// When the failures among the outcomes in `window` reach `rate` of them, judged once the
    /// window holds at least `min_calls` outcomes (attribute keys `failure_rate`, `window`,
    /// `min_calls`). Ignored outcomes do not enter the window.
    FailureRate {
        /// The fraction of failures that opens the circuit, in (0, 1]; the rule trips at `>=`.
        rate: f64,
        /// The outcomes the rate is taken over.
        window: Window,
        /// Outcomes the window must hold before the rate is judged; at least 1, and at most the
        /// size of a count window.
        min_calls: u32,
    },
}

/// The outcomes a failure-rate rule looks at.
///
/// A count window remembers one bit per call, so `Calls(n)` costs up to `n / 8` bytes. A time
/// window counts outcomes in buckets: one per second for windows from 10 seconds to an hour, a
/// tenth of the window for shorter ones, and 3600 buckets spread over longer ones. Outcomes leave
/// it a whole bucket at a time, so the window looks back between `window - bucket` and `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum Window {
    /// The last `n` calls; at least 1.
    Calls(u32),
    /// The calls that finished within this much time; longer than zero.
    Time(Duration),
}

impl Window {
    /// The window as the shared checks see it.
    pub(super) fn setting(self) -> settings::Window {
        match self {
            Window::Calls(calls) => settings::Window::Calls(calls),
            Window::Time(length) => settings::Window::Time(length),
        }
    }
}

impl fmt::Display for Window {
    /// `100` for a count window, `60s` for a time window, as the attribute writes them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Window::Calls(calls) => write!(f, "{calls}"),
            Window::Time(duration) => write!(f, "{duration:?}"),
        }
    }
}
