//! A rate limiter's settings and the builder that validates them.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use resilience_settings::rate_limit::{self as settings, RateLimitSettings};

use super::RateLimiter;
use crate::ConfigError;

/// The period `rate` counts over when no `per` is given.
pub(super) const DEFAULT_PER: Duration = settings::DEFAULT_PER;
/// The most keys a keyed limiter holds when no `max_keys` is given.
pub(super) const DEFAULT_MAX_KEYS: u32 = settings::DEFAULT_MAX_KEYS;

/// The settings of a [`RateLimiter`]: `rate` cells per `per`, at most `burst` at once, and how
/// long a caller may `wait` for one.
///
/// ```
/// use resilience::RateLimiter;
/// use std::time::Duration;
///
/// let limiter = RateLimiter::builder("api").rate(100).burst(10).build().unwrap();
/// let config = limiter.config();
/// assert_eq!((config.rate, config.per, config.burst), (100, Duration::from_secs(1), 10));
/// assert_eq!(config.wait, Duration::ZERO);
/// assert_eq!(config.interval(), Duration::from_millis(10));
/// assert_eq!(config.to_string(), "rate=100/1s burst=10");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct RateLimiterConfig {
    /// Cells gained per `per`; at least 1.
    pub rate: u32,
    /// The period `rate` counts over; greater than zero. Default 1 s.
    pub per: Duration,
    /// Cells available at once, after a quiet spell; at least 1. Default: `rate`, so a quiet
    /// limiter admits a whole period's worth at once.
    pub burst: u32,
    /// The longest a caller waits for a cell before it is rejected. Default zero: reject at
    /// once.
    pub wait: Duration,
    /// Whether the limit holds across instances, through the registry's
    /// [`SharedStore`](crate::SharedStore) (key `shared`, default `false`): see
    /// [`RateLimiterBuilder::shared`].
    pub shared: bool,
    /// For a keyed limiter: how long a key whose bucket is full is kept. `None`: the default,
    /// three periods (`3 × per`), and at least the time a bucket takes to refill.
    pub key_idle: Option<Duration>,
    /// For a keyed limiter: the most keys held at once. Default 100 000.
    pub max_keys: u32,
}

impl RateLimiterConfig {
    /// The time between two cells: `per / rate`, rounded up to the nanosecond so the limiter
    /// never admits more than `rate` per `per`.
    pub fn interval(&self) -> Duration {
        Duration::from_nanos(interval_nanos(self.per, self.rate))
    }

    /// The keys, spelled as in `#[rate_limit]`, whose values differ in `other`.
    pub(crate) fn changed_keys(&self, other: &RateLimiterConfig) -> Vec<&'static str> {
        let mut keys = Vec::new();
        if self.rate != other.rate {
            keys.push(settings::RATE.setting);
        }
        if self.per != other.per {
            keys.push(settings::PER.setting);
        }
        if self.burst != other.burst {
            keys.push(settings::BURST.setting);
        }
        if self.wait != other.wait {
            keys.push(settings::WAIT.setting);
        }
        if self.shared != other.shared {
            keys.push(settings::SHARED.setting);
        }
        if self.key_idle != other.key_idle {
            keys.push(settings::KEY_IDLE.setting);
        }
        if self.max_keys != other.max_keys {
            keys.push(settings::MAX_KEYS.setting);
        }
        keys
    }

    /// How long a key whose bucket is full is kept, the default filled in: `key_idle`, else
    /// three periods and at least a refill.
    pub fn effective_key_idle(&self) -> Duration {
        self.key_idle.unwrap_or_else(|| {
            let refill = self.interval().saturating_mul(self.burst);
            self.per.saturating_mul(3).max(refill)
        })
    }
}

/// `per / rate` in nanoseconds, rounded up; `u64::MAX` when it does not fit.
pub(super) fn interval_nanos(per: Duration, rate: u32) -> u64 {
    // The same rounding the builder's refill check uses.
    let nanos = settings::interval_nanos(per, rate);
    u64::try_from(nanos).unwrap_or(u64::MAX)
}

/// A compact one-line summary, as the registry's table shows it: `rate=100/1s burst=10`, with
/// the wait added when there is one.
impl fmt::Display for RateLimiterConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "rate={}/{:?} burst={}", self.rate, self.per, self.burst)?;
        if !self.wait.is_zero() {
            write!(f, " wait={:?}", self.wait)?;
        }
        if self.shared {
            f.write_str(" shared")?;
        }
        Ok(())
    }
}

/// Builds a [`RateLimiter`]; made by [`RateLimiter::builder`].
///
/// `rate` is required; `per` defaults to 1 s, `burst` to `rate`, `wait` to zero.
///
/// ```
/// use resilience::{ConfigError, RateLimiter};
/// use std::time::Duration;
///
/// let limiter = RateLimiter::builder("api")
///     .rate(5)
///     .per(Duration::from_secs(60))
///     .burst(2)
///     .wait(Duration::from_millis(500))
///     .build()
///     .unwrap();
/// assert_eq!(limiter.config().interval(), Duration::from_secs(12));
///
/// let err = RateLimiter::builder("api").rate(0).build().unwrap_err();
/// assert!(matches!(err, ConfigError::OutOfRange { key: "rate", .. }));
/// ```
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct RateLimiterBuilder {
    name: Arc<str>,
    // `None` until set, so the registry can tell an explicit setting from a default.
    rate: Option<u32>,
    per: Option<Duration>,
    burst: Option<u32>,
    wait: Option<Duration>,
    shared: Option<bool>,
    key_idle: Option<Duration>,
    max_keys: Option<u32>,
}

impl RateLimiterBuilder {
    pub(super) fn new(name: Arc<str>) -> Self {
        RateLimiterBuilder {
            name,
            rate: None,
            per: None,
            burst: None,
            wait: None,
            shared: None,
            key_idle: None,
            max_keys: None,
        }
    }

    /// For a keyed limiter: how long a key whose bucket has been full is kept (key
    /// `key_idle`); default three periods (`3 × per`), at least the time a bucket takes to
    /// refill; greater than zero. Evicting such a key loses nothing: it would start full again.
    /// See [the `keyed` module](crate::keyed).
    pub fn key_idle(mut self, key_idle: Duration) -> Self {
        self.key_idle = Some(key_idle);
        self
    }

    /// For a keyed limiter: the most keys held at once (key `max_keys`); default 100 000, at
    /// least 1. Past it the least recently active eighth is evicted in one sweep.
    pub fn max_keys(mut self, max_keys: u32) -> Self {
        self.max_keys = Some(max_keys);
        self
    }

    /// `key_idle` and `max_keys` as given, for the registry's layers.
    pub(crate) fn key_settings(&self) -> (Option<Duration>, Option<u32>) {
        (self.key_idle, self.max_keys)
    }

    /// Cells gained per `per` (key `rate`); required, at least 1, and at most one per
    /// nanosecond of `per`.
    pub fn rate(mut self, rate: u32) -> Self {
        self.rate = Some(rate);
        self
    }

    /// The period `rate` counts over (key `per`); default 1 s, greater than zero.
    pub fn per(mut self, per: Duration) -> Self {
        self.per = Some(per);
        self
    }

    /// Cells available at once (key `burst`); default `rate`, at least 1.
    pub fn burst(mut self, burst: u32) -> Self {
        self.burst = Some(burst);
        self
    }

    /// The longest a caller waits for a cell (key `wait`); default zero, reject at once.
    pub fn wait(mut self, wait: Duration) -> Self {
        self.wait = Some(wait);
        self
    }

    /// Whether the limit holds across every instance of the service (key `shared`; default
    /// `false`): each call takes its cell from one bucket kept in the registry's
    /// [`SharedStore`](crate::SharedStore) (one round trip, on the store's clock) instead of
    /// this process's. Until a store is [set](crate::Registry::set_store), and whenever the
    /// store fails to answer, the limiter falls back to its local bucket: the store failing
    /// never fails a call.
    pub fn shared(mut self, shared: bool) -> Self {
        self.shared = Some(shared);
        self
    }

    /// The registry name the limiter will have.
    pub fn name(&self) -> &Arc<str> {
        &self.name
    }

    /// The settings given, by key.
    pub(crate) fn settings(&self) -> RateLimitSettings {
        RateLimitSettings {
            rate: self.rate,
            per: self.per,
            burst: self.burst,
            wait: self.wait,
            shared: self.shared,
        }
    }

    /// The keys set on this builder whose values differ from `existing`'s configuration:
    /// empty when this builder agrees with the limiter already registered under its name.
    pub fn conflicts_with(&self, existing: &RateLimiter) -> Vec<&'static str> {
        let config = existing.config();
        let mut keys = Vec::new();
        if self.rate.is_some_and(|v| v != config.rate) {
            keys.push("rate");
        }
        if self.per.is_some_and(|v| v != config.per) {
            keys.push("per");
        }
        if self.burst.is_some_and(|v| v != config.burst) {
            keys.push("burst");
        }
        if self.wait.is_some_and(|v| v != config.wait) {
            keys.push("wait");
        }
        if self.shared.is_some_and(|v| v != config.shared) {
            keys.push("shared");
        }
        if self.key_idle.is_some() && self.key_idle != config.key_idle {
            keys.push("key_idle");
        }
        if self.max_keys.is_some_and(|v| v != config.max_keys) {
            keys.push("max_keys");
        }
        keys
    }

    /// Validates the settings and builds the limiter, with a full bucket.
    ///
    /// # Errors
    ///
    /// [`ConfigError::OutOfRange`], with the checks `#[rate_limit]` runs at compile time: key
    /// `"rate"` when `rate` was not given, is 0 or exceeds one per nanosecond of `per`; `"per"`
    /// when `per` is zero; `"burst"` when `burst` is 0 or `burst × per / rate` exceeds 100 years
    /// (`"per"` when `burst` is not given and defaults to `rate`); `"key_idle"` when zero;
    /// `"max_keys"` when 0; `"name"` for a blank name.
    pub fn build(self) -> Result<RateLimiter, ConfigError> {
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
        let resolved = RateLimitSettings {
            rate: self.rate,
            per: self.per,
            burst: self.burst,
            wait: self.wait,
            shared: self.shared,
        }
        .resolve()
        .map_err(ConfigError::from_problem)?;
        let config = RateLimiterConfig {
            rate: resolved.rate,
            per: resolved.per,
            burst: resolved.burst,
            wait: resolved.wait,
            shared: self.shared.unwrap_or(false),
            key_idle: self.key_idle,
            max_keys: self.max_keys.unwrap_or(settings::DEFAULT_MAX_KEYS),
        };
        Ok(RateLimiter::from_parts(self.name, config))
    }
}
