//! Building a circuit breaker, and telling which of its settings were given explicitly.

use std::sync::Arc;
use std::time::Duration;

use resilience_settings::circuit_breaker::{self as settings, BreakerSettings};

use super::config::{DEFAULT_TIME_WINDOW_MIN_CALLS, DEFAULT_WINDOW_CALLS};
use super::{CircuitBreaker, CircuitBreakerConfig, TripRule, Window};
use crate::ConfigError;

/// Builds a [`CircuitBreaker`]; start from [`CircuitBreaker::builder`].
///
/// Setters never fail; [`build`](Self::build) checks the values. The trip rule is
/// `failure_threshold` (consecutive failures, the default rule) or `failure_rate` with its
/// optional `window` and `min_calls`; giving both rules is an error, and so is a `window` or
/// `min_calls` without a `failure_rate`.
///
/// The builder remembers which settings were given, so that the registry can tell two sites that
/// configure one name differently ([`conflicts_with`](Self::conflicts_with)) from a site that
/// leaves a setting at its default.
///
/// ```
/// use resilience::{CircuitBreaker, ConfigError, TripRule, Window};
/// use std::time::Duration;
///
/// let breaker = CircuitBreaker::builder("doc-builder")
///     .failure_rate(0.5)
///     .window_duration(Duration::from_secs(60))
///     .min_calls(20)
///     .reset_timeout(Duration::from_secs(10))
///     .half_open_max_calls(3)
///     .success_threshold(5)
///     .slow_call(Duration::from_secs(2))
///     .build()
///     .unwrap();
/// assert_eq!(
///     breaker.config().trip,
///     TripRule::FailureRate { rate: 0.5, window: Window::Time(Duration::from_secs(60)), min_calls: 20 },
/// );
///
/// let err = CircuitBreaker::builder("doc-builder").failure_threshold(3).failure_rate(0.5).build();
/// assert!(matches!(err, Err(ConfigError::Exclusive { first: "failure_threshold", second: "failure_rate" })));
/// ```
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct CircuitBreakerBuilder {
    name: Arc<str>,
    // `None` until set, so that an explicit setting can be told from an absent one.
    failure_threshold: Option<u32>,
    failure_rate: Option<f64>,
    window: Option<Window>,
    min_calls: Option<u32>,
    reset_timeout: Option<Duration>,
    half_open_timeout: Option<Duration>,
    half_open_max_calls: Option<u32>,
    success_threshold: Option<u32>,
    slow_call: Option<Duration>,
    critical: Option<bool>,
    shared: Option<bool>,
    key_idle: Option<Duration>,
    max_keys: Option<u32>,
}

impl CircuitBreakerBuilder {
    pub(super) fn new(name: Arc<str>) -> Self {
        CircuitBreakerBuilder {
            name,
            failure_threshold: None,
            failure_rate: None,
            window: None,
            min_calls: None,
            reset_timeout: None,
            half_open_timeout: None,
            half_open_max_calls: None,
            success_threshold: None,
            slow_call: None,
            critical: None,
            shared: None,
            key_idle: None,
            max_keys: None,
        }
    }

    /// The registry name the breaker is built with.
    pub fn name(&self) -> &Arc<str> {
        &self.name
    }

    /// Consecutive failures that open the circuit; at least 1 (default 5).
    pub fn failure_threshold(mut self, failures: u32) -> Self {
        self.failure_threshold = Some(failures);
        self
    }

    /// Opens the circuit when this fraction of the calls in the window failed, in (0, 1];
    /// replaces the consecutive-failure rule.
    pub fn failure_rate(mut self, rate: f64) -> Self {
        self.failure_rate = Some(rate);
        self
    }

    /// The window of the failure-rate rule (default: the last 100 calls).
    pub fn window(mut self, window: Window) -> Self {
        self.window = Some(window);
        self
    }

    /// A window of the last `calls` calls; the same as `window(Window::Calls(calls))`.
    pub fn window_calls(self, calls: u32) -> Self {
        self.window(Window::Calls(calls))
    }

    /// A window of the calls that finished within `duration`; the same as
    /// `window(Window::Time(duration))`.
    pub fn window_duration(self, duration: Duration) -> Self {
        self.window(Window::Time(duration))
    }

    /// Outcomes the window must hold before the failure rate is judged; at least 1 and at most a
    /// count window's size (default: the count window's size, or 100 for a time window, so that a
    /// time window on a low-traffic dependency needs a smaller `min_calls` to trip at all). The
    /// value in effect shows in the config summary, given or not (`min_calls=100`).
    pub fn min_calls(mut self, calls: u32) -> Self {
        self.min_calls = Some(calls);
        self
    }

    /// Time open before a probe call is let through (default 30s).
    pub fn reset_timeout(mut self, timeout: Duration) -> Self {
        self.reset_timeout = Some(timeout);
        self
    }

    /// How long a half-open probe may run: one that has run this long (`>=`) counts as failed,
    /// and the circuit re-opens (a new open period of `reset_timeout`), so that a probe that
    /// never finishes cannot hold its slot forever. Longer than zero. Default: the
    /// `reset_timeout`, or 30s when that is zero.
    ///
    /// Each probe's time runs from its own admission (the first probe's from the moment the
    /// circuit went half-open). The deadline is checked when a call asks to be admitted and when
    /// a probe's outcome arrives, not by a timer: [`state`](CircuitBreaker::state) reports
    /// half-open until then.
    /// The late probe's own outcome changes nothing once it has been counted as failed.
    ///
    /// ```
    /// use resilience::{CircuitBreaker, CircuitState};
    /// use std::time::Duration;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let breaker = CircuitBreaker::builder("doc-half-open-deadline")
    ///     .failure_threshold(1)
    ///     .reset_timeout(Duration::from_secs(10))
    ///     .half_open_timeout(Duration::from_secs(2))
    ///     .build()
    ///     .unwrap();
    /// breaker.record_failure();
    /// tokio::time::advance(Duration::from_secs(10)).await;
    /// let stuck_probe = breaker.try_acquire().unwrap();
    /// assert_eq!(breaker.state(), CircuitState::HalfOpen);
    ///
    /// // Two seconds later the probe counts as failed: the circuit re-opens for 10s.
    /// tokio::time::advance(Duration::from_secs(2)).await;
    /// let rejected = breaker.try_acquire().unwrap_err();
    /// assert_eq!(rejected.retry_after(), Some(Duration::from_secs(10)));
    /// assert_eq!(breaker.state(), CircuitState::Open);
    /// stuck_probe.success(); // too late: changes nothing
    /// assert_eq!(breaker.state(), CircuitState::Open);
    /// # }
    /// ```
    pub fn half_open_timeout(mut self, timeout: Duration) -> Self {
        self.half_open_timeout = Some(timeout);
        self
    }

    /// Probe calls in flight at once while half-open; at least 1 (default 1).
    pub fn half_open_max_calls(mut self, calls: u32) -> Self {
        self.half_open_max_calls = Some(calls);
        self
    }

    /// Probe successes that close the circuit; at least 1 (default 1). It may exceed
    /// `half_open_max_calls`: probes are then admitted batch after batch.
    pub fn success_threshold(mut self, successes: u32) -> Self {
        self.success_threshold = Some(successes);
        self
    }

    /// A success that took strictly longer than `limit` counts as a failure; longer than zero.
    pub fn slow_call(mut self, limit: Duration) -> Self {
        self.slow_call = Some(limit);
        self
    }

    /// Whether the dependency is critical to the service: an open or half-open circuit then makes
    /// the registry's health unhealthy rather than degraded (OPERATIONS.md §3). Default `false`.
    /// The flag changes nothing about the calls; it is what `#[circuit_breaker(critical)]` and a
    /// file's `critical = true` set.
    ///
    /// ```
    /// use resilience::CircuitBreaker;
    ///
    /// let breaker = CircuitBreaker::builder("doc-critical").critical(true).build().unwrap();
    /// assert!(breaker.is_critical());
    /// assert!(breaker.config().critical);
    /// assert!(!CircuitBreaker::builder("doc-not-critical").build().unwrap().is_critical());
    /// ```
    pub fn critical(mut self, critical: bool) -> Self {
        self.critical = Some(critical);
        self
    }

    /// Whether the circuit's state is shared by every instance of the service (key `shared`;
    /// default `false`), through the registry's [`SharedStore`](crate::SharedStore): each
    /// instance decides locally, with no store round trip on a call's path, and a background
    /// task syncs its outcome counts and transitions with the fleet every
    /// [`sync_interval`](crate::SharedStore::sync_interval). The trip rule is then also judged
    /// on the fleet's counts, a transition made anywhere is followed everywhere within one
    /// interval, and half-open probes are bounded fleet-wide by `half_open_max_calls`. Until a
    /// store is [set](crate::Registry::set_store), and while it fails to answer, the breaker
    /// runs on its local state alone. Only a breaker in the [registry](crate::registry) syncs
    /// (an attribute's always is; one built by hand, once registered with
    /// [`circuit_breaker_or_register`](crate::Registry::circuit_breaker_or_register)). See the
    /// [`store`](crate::store) module.
    ///
    /// ```
    /// use resilience::CircuitBreaker;
    ///
    /// let breaker = CircuitBreaker::builder("doc-shared").shared(true).build().unwrap();
    /// assert!(breaker.config().shared);
    /// ```
    pub fn shared(mut self, shared: bool) -> Self {
        self.shared = Some(shared);
        self
    }

    /// For a keyed breaker: how long a closed key with no call in flight is kept once idle (key
    /// `key_idle`); default three reset timeouts (`3 × reset_timeout`), at least a second;
    /// greater than zero. Evicting such a key loses its failure streak (fewer failures than open
    /// it): its next call starts a fresh closed circuit. Open and half-open keys are never
    /// evicted. See [`CircuitBreaker::call_key`] and [the `keyed` module](crate::keyed).
    pub fn key_idle(mut self, key_idle: Duration) -> Self {
        self.key_idle = Some(key_idle);
        self
    }

    /// For a keyed breaker: the most keys held at once (key `max_keys`); default 100 000, at
    /// least 1. Past it the least recently active closed keys with no call in flight are
    /// evicted; open, half-open and busy keys are kept even over the cap.
    pub fn max_keys(mut self, max_keys: u32) -> Self {
        self.max_keys = Some(max_keys);
        self
    }

    /// `key_idle` and `max_keys` as given, for the registry's layers.
    pub(crate) fn key_settings(&self) -> (Option<Duration>, Option<u32>) {
        (self.key_idle, self.max_keys)
    }

    /// Checks the settings, with the checks `#[circuit_breaker]` runs at compile time, and builds
    /// the breaker.
    pub fn build(self) -> Result<CircuitBreaker, ConfigError> {
        ConfigError::check_name(&self.name)?;
        if let Some(key_idle) = self.key_idle {
            settings::KEY_IDLE
                .check_duration(key_idle)
                .map_err(ConfigError::from_problem)?;
        }
        if let Some(max_keys) = self.max_keys {
            settings::MAX_KEYS
                .check_count(max_keys.into())
                .map_err(ConfigError::from_problem)?;
        }
        self.settings().check().map_err(ConfigError::from_problem)?;
        let config = self.config();
        CircuitBreaker::new(self.name, config)
    }

    /// The settings given, by key, as the shared checks see them.
    /// The `half_open_timeout` given, if any.
    pub(crate) fn given_half_open_timeout(&self) -> Option<Duration> {
        self.half_open_timeout
    }

    pub(crate) fn settings(&self) -> BreakerSettings {
        BreakerSettings {
            failure_threshold: self.failure_threshold,
            failure_rate: self.failure_rate,
            window: self.window.map(Window::setting),
            min_calls: self.min_calls,
            reset_timeout: self.reset_timeout,
            half_open_max_calls: self.half_open_max_calls,
            success_threshold: self.success_threshold,
            slow_call: self.slow_call,
            half_open_timeout: None,
            critical: self.critical,
            shared: self.shared,
        }
    }

    /// The configuration these settings describe, with defaults for the rest; checked settings
    /// give one trip rule.
    fn config(&self) -> CircuitBreakerConfig {
        let defaults = CircuitBreakerConfig::default();
        let trip = match (self.failure_threshold, self.failure_rate) {
            (Some(threshold), _) => TripRule::ConsecutiveFailures(threshold),
            (None, Some(rate)) => {
                let window = self.window.unwrap_or(Window::Calls(DEFAULT_WINDOW_CALLS));
                let min_calls = self.min_calls.unwrap_or(match window {
                    Window::Calls(size) => size,
                    Window::Time(_) => DEFAULT_TIME_WINDOW_MIN_CALLS,
                });
                TripRule::FailureRate {
                    rate,
                    window,
                    min_calls,
                }
            }
            (None, None) => defaults.trip,
        };
        CircuitBreakerConfig {
            trip,
            reset_timeout: self.reset_timeout.unwrap_or(defaults.reset_timeout),
            half_open_timeout: self.half_open_timeout.or(defaults.half_open_timeout),
            half_open_max_calls: self
                .half_open_max_calls
                .unwrap_or(defaults.half_open_max_calls),
            success_threshold: self.success_threshold.unwrap_or(defaults.success_threshold),
            slow_call: self.slow_call.or(defaults.slow_call),
            critical: self.critical.unwrap_or(defaults.critical),
            shared: self.shared.unwrap_or(defaults.shared),
            key_idle: self.key_idle.or(defaults.key_idle),
            max_keys: self.max_keys.unwrap_or(defaults.max_keys),
        }
    }

    /// The keys set on this builder whose values differ from `existing`'s configuration, spelled
    /// as the attribute spells them: empty when this builder agrees with the breaker already
    /// registered under its name. Settings left at their default never conflict.
    ///
    /// ```
    /// use resilience::CircuitBreaker;
    ///
    /// let existing = CircuitBreaker::builder("doc-conflicts").failure_threshold(3).build().unwrap();
    /// let joining = CircuitBreaker::builder("doc-conflicts");
    /// assert!(joining.conflicts_with(&existing).is_empty());
    /// let other = CircuitBreaker::builder("doc-conflicts").failure_threshold(4).half_open_max_calls(1);
    /// assert_eq!(other.conflicts_with(&existing), ["failure_threshold"]);
    /// ```
    pub fn conflicts_with(&self, existing: &CircuitBreaker) -> Vec<&'static str> {
        let config = existing.config();
        let (threshold, rate, window, min_calls) = match config.trip {
            TripRule::ConsecutiveFailures(threshold) => (Some(threshold), None, None, None),
            TripRule::FailureRate {
                rate,
                window,
                min_calls,
            } => (None, Some(rate), Some(window), Some(min_calls)),
        };
        let mut keys = Vec::new();
        let mut check = |key: &'static str, differs: bool| {
            if differs {
                keys.push(key);
            }
        };
        check(
            "failure_threshold",
            self.failure_threshold
                .is_some_and(|mine| Some(mine) != threshold),
        );
        check(
            "failure_rate",
            self.failure_rate.is_some_and(|mine| Some(mine) != rate),
        );
        check(
            "window",
            self.window.is_some_and(|mine| Some(mine) != window),
        );
        check(
            "min_calls",
            self.min_calls.is_some_and(|mine| Some(mine) != min_calls),
        );
        check(
            "reset_timeout",
            self.reset_timeout
                .is_some_and(|mine| mine != config.reset_timeout),
        );
        check(
            "half_open_timeout",
            self.half_open_timeout
                .is_some_and(|mine| mine != config.effective_half_open_timeout()),
        );
        check(
            "half_open_max_calls",
            self.half_open_max_calls
                .is_some_and(|mine| mine != config.half_open_max_calls),
        );
        check(
            "success_threshold",
            self.success_threshold
                .is_some_and(|mine| mine != config.success_threshold),
        );
        check(
            "slow_call",
            self.slow_call
                .is_some_and(|mine| Some(mine) != config.slow_call),
        );
        check(
            "critical",
            self.critical.is_some_and(|mine| mine != config.critical),
        );
        check(
            "shared",
            self.shared.is_some_and(|mine| mine != config.shared),
        );
        check(
            "key_idle",
            self.key_idle
                .is_some_and(|mine| Some(mine) != config.key_idle),
        );
        check(
            "max_keys",
            self.max_keys.is_some_and(|mine| mine != config.max_keys),
        );
        keys
    }
}
