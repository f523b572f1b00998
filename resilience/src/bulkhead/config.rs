//! A bulkhead's settings and the builder that validates them.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use resilience_settings::bulkhead::{self as settings, BulkheadSettings};

use super::Bulkhead;
use crate::ConfigError;

/// How long a queued caller waits for a slot when no `queue_timeout` is given.
pub(super) const DEFAULT_QUEUE_TIMEOUT: Duration = settings::DEFAULT_QUEUE_TIMEOUT;

/// The settings of a [`Bulkhead`].
///
/// ```
/// use resilience::Bulkhead;
/// use std::time::Duration;
///
/// let bulkhead = Bulkhead::builder("db").max_concurrent(10).queue(5).build().unwrap();
/// let config = bulkhead.config();
/// assert_eq!((config.max_concurrent, config.queue), (10, 5));
/// assert_eq!(config.queue_timeout, Duration::from_secs(1));
/// assert_eq!(config.to_string(), "max=10 queue=5 queue_timeout=1s");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct BulkheadConfig {
    /// Calls admitted at once (attribute key `max`); at least 1.
    pub max_concurrent: u32,
    /// Callers allowed to wait for a slot when all are taken; beyond them, calls are rejected
    /// at once. Default 0: no waiting.
    pub queue: u32,
    /// The longest a queued caller waits for a slot before it is rejected; greater than zero.
    /// Default 1 s. Has no effect while `queue` is 0.
    pub queue_timeout: Duration,
    /// For a keyed bulkhead: how long a key with every slot free and nobody queued is kept
    /// (default 1 minute); evicting it loses nothing.
    pub key_idle: Duration,
    /// For a keyed bulkhead: the most keys held at once, busy keys aside (default 100 000).
    pub max_keys: u32,
}

impl BulkheadConfig {
    /// The keys, spelled as in `#[bulkhead]`, whose values differ in `other`.
    pub(crate) fn changed_keys(&self, other: &BulkheadConfig) -> Vec<&'static str> {
        let mut keys = Vec::new();
        if self.max_concurrent != other.max_concurrent {
            keys.push(settings::MAX.setting);
        }
        if self.queue != other.queue {
            keys.push(settings::QUEUE.setting);
        }
        if self.queue_timeout != other.queue_timeout {
            keys.push(settings::QUEUE_TIMEOUT.setting);
        }
        if self.key_idle != other.key_idle {
            keys.push(settings::KEY_IDLE.setting);
        }
        if self.max_keys != other.max_keys {
            keys.push(settings::MAX_KEYS.setting);
        }
        keys
    }
}

/// A compact one-line summary, as the registry's table shows it: `max=10 queue=0`, with the
/// queue timeout added when there is a queue.
impl fmt::Display for BulkheadConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "max={} queue={}", self.max_concurrent, self.queue)?;
        if self.queue > 0 {
            write!(f, " queue_timeout={:?}", self.queue_timeout)?;
        }
        Ok(())
    }
}

/// Builds a [`Bulkhead`]; made by [`Bulkhead::builder`].
///
/// `max_concurrent` is required, as `max` is in the attribute; `queue` defaults to 0 and
/// `queue_timeout` to 1 s.
///
/// ```
/// use resilience::{Bulkhead, ConfigError};
/// use std::time::Duration;
///
/// let bulkhead = Bulkhead::builder("db")
///     .max_concurrent(4)
///     .queue(16)
///     .queue_timeout(Duration::from_millis(250))
///     .build()
///     .unwrap();
/// assert_eq!(bulkhead.config().queue_timeout, Duration::from_millis(250));
///
/// let err = Bulkhead::builder("db").max_concurrent(0).build().unwrap_err();
/// assert!(matches!(err, ConfigError::OutOfRange { key: "max", .. }));
/// ```
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct BulkheadBuilder {
    name: Arc<str>,
    // `None` until set, so the registry can tell an explicit setting from a default.
    max_concurrent: Option<u32>,
    queue: Option<u32>,
    queue_timeout: Option<Duration>,
    key_idle: Option<Duration>,
    max_keys: Option<u32>,
}

impl BulkheadBuilder {
    pub(super) fn new(name: Arc<str>) -> Self {
        BulkheadBuilder {
            name,
            max_concurrent: None,
            queue: None,
            queue_timeout: None,
            key_idle: None,
            max_keys: None,
        }
    }

    /// Calls admitted at once (attribute key `max`); required, at least 1.
    pub fn max_concurrent(mut self, max_concurrent: u32) -> Self {
        self.max_concurrent = Some(max_concurrent);
        self
    }

    /// Callers allowed to wait for a slot when all are taken (key `queue`); default 0.
    pub fn queue(mut self, queue: u32) -> Self {
        self.queue = Some(queue);
        self
    }

    /// The longest a queued caller waits (key `queue_timeout`); default 1 s, greater than zero.
    pub fn queue_timeout(mut self, queue_timeout: Duration) -> Self {
        self.queue_timeout = Some(queue_timeout);
        self
    }

    /// The registry name the bulkhead will have.
    pub fn name(&self) -> &Arc<str> {
        &self.name
    }

    /// For a keyed bulkhead: how long a key with every slot free and nobody queued is kept (key
    /// `key_idle`); default 1 minute, greater than zero. See [`Bulkhead::acquire_key`].
    pub fn key_idle(mut self, key_idle: Duration) -> Self {
        self.key_idle = Some(key_idle);
        self
    }

    /// For a keyed bulkhead: the most keys held at once (key `max_keys`); default 100 000, at
    /// least 1. Keys with a slot held or a caller queued are kept even over it.
    pub fn max_keys(mut self, max_keys: u32) -> Self {
        self.max_keys = Some(max_keys);
        self
    }

    /// `key_idle` and `max_keys` as given, for the registry's layers.
    pub(crate) fn key_settings(&self) -> (Option<Duration>, Option<u32>) {
        (self.key_idle, self.max_keys)
    }

    /// The settings given, by key.
    pub(crate) fn settings(&self) -> BulkheadSettings {
        BulkheadSettings {
            max: self.max_concurrent,
            queue: self.queue,
            queue_timeout: self.queue_timeout,
        }
    }

    /// The keys set on this builder whose values differ from `existing`'s configuration:
    /// empty when this builder agrees with the bulkhead already registered under its name.
    pub fn conflicts_with(&self, existing: &Bulkhead) -> Vec<&'static str> {
        let config = existing.config();
        let mut keys = Vec::new();
        if self
            .max_concurrent
            .is_some_and(|v| v != config.max_concurrent)
        {
            keys.push("max");
        }
        if self.queue.is_some_and(|v| v != config.queue) {
            keys.push("queue");
        }
        if self
            .queue_timeout
            .is_some_and(|v| v != config.queue_timeout)
        {
            keys.push("queue_timeout");
        }
        if self.key_idle.is_some_and(|v| v != config.key_idle) {
            keys.push("key_idle");
        }
        if self.max_keys.is_some_and(|v| v != config.max_keys) {
            keys.push("max_keys");
        }
        keys
    }

    /// Validates the settings and builds the bulkhead.
    ///
    /// # Errors
    ///
    /// [`ConfigError::OutOfRange`], with the checks `#[bulkhead]` runs at compile time: key
    /// `"max"` when `max_concurrent` was not given or is 0, key `"queue_timeout"` when that is
    /// zero or given without a `queue` of at least 1 (no caller would ever wait), key `"name"`
    /// for a blank name.
    pub fn build(self) -> Result<Bulkhead, ConfigError> {
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
        let resolved = BulkheadSettings {
            max: self.max_concurrent,
            queue: self.queue,
            queue_timeout: self.queue_timeout,
        }
        .resolve()
        .map_err(ConfigError::from_problem)?;
        let config = BulkheadConfig {
            max_concurrent: resolved.max,
            queue: resolved.queue,
            queue_timeout: resolved.queue_timeout,
            key_idle: self.key_idle.unwrap_or(settings::DEFAULT_KEY_IDLE),
            max_keys: self.max_keys.unwrap_or(settings::DEFAULT_MAX_KEYS),
        };
        Ok(Bulkhead::from_parts(self.name, config))
    }
}
