//! A timeout's settings and the builder that validates them.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use resilience_settings::timeout::{self as settings, TimeoutSettings};

use super::Timeout;
use crate::ConfigError;

/// The settings of a [`Timeout`].
///
/// ```
/// use resilience::{Timeout, TimeoutConfig};
/// use std::time::Duration;
///
/// let timeout = Timeout::new("db", Duration::from_millis(250)).unwrap();
/// assert_eq!(timeout.config().duration, Duration::from_millis(250));
/// assert_eq!(timeout.config().to_string(), "duration=250ms");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct TimeoutConfig {
    /// How long the call may stay pending before it is dropped; greater than zero.
    pub duration: Duration,
}

impl TimeoutConfig {
    /// The keys, spelled as the `#[timeout]` table names the setting, whose values differ in
    /// `other`.
    pub(crate) fn changed_keys(&self, other: &TimeoutConfig) -> Vec<&'static str> {
        if self.duration == other.duration {
            Vec::new()
        } else {
            vec![settings::DURATION.setting]
        }
    }
}

/// A compact one-line summary, as the registry's table shows it: `duration=5s`.
impl fmt::Display for TimeoutConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "duration={:?}", self.duration)
    }
}

/// Builds a [`Timeout`]; made by [`Timeout::builder`].
///
/// The duration has no default, as with `tokio::time::timeout`: [`build`](Self::build) fails
/// without one.
///
/// ```
/// use resilience::Timeout;
/// use std::time::Duration;
///
/// let timeout = Timeout::builder("db").duration(Duration::from_secs(2)).build().unwrap();
/// assert_eq!(timeout.config().duration, Duration::from_secs(2));
///
/// assert!(Timeout::builder("db").build().is_err());
/// assert!(Timeout::builder("db").duration(Duration::ZERO).build().is_err());
/// ```
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct TimeoutBuilder {
    name: Arc<str>,
    /// `None` until set, so the registry can tell an explicit setting from an absent one.
    duration: Option<Duration>,
}

impl TimeoutBuilder {
    pub(super) fn new(name: Arc<str>) -> Self {
        TimeoutBuilder {
            name,
            duration: None,
        }
    }

    /// How long the call may stay pending (attribute keys `ms`, `secs` or `duration`); required,
    /// greater than zero.
    pub fn duration(mut self, duration: Duration) -> Self {
        self.duration = Some(duration);
        self
    }

    /// The registry name the timeout will have.
    pub fn name(&self) -> &Arc<str> {
        &self.name
    }

    /// The duration given, if any.
    pub(crate) fn given_duration(&self) -> Option<Duration> {
        self.duration
    }

    /// The keys set on this builder whose values differ from `existing`'s configuration:
    /// empty when this builder agrees with the timeout already registered under its name.
    pub fn conflicts_with(&self, existing: &Timeout) -> Vec<&'static str> {
        match self.duration {
            Some(duration) if duration != existing.config().duration => vec!["duration"],
            _ => Vec::new(),
        }
    }

    /// Validates the settings and builds the timeout.
    ///
    /// # Errors
    ///
    /// [`ConfigError::OutOfRange`], with the checks `#[timeout]` runs at compile time: key
    /// `"duration"` when no duration was given or it is zero, key `"name"` for a blank name.
    pub fn build(self) -> Result<Timeout, ConfigError> {
        ConfigError::check_name(&self.name)?;
        let duration = TimeoutSettings {
            duration: self.duration,
        }
        .resolve()
        .map_err(ConfigError::from_problem)?;
        Ok(Timeout::from_parts(self.name, TimeoutConfig { duration }))
    }
}
