//! A health monitor's settings and the builder that checks them.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::HealthMonitor;
use crate::ConfigError;

/// The largest `max_crashes`: the monitor keeps up to `max_crashes + 1` crash times.
const MAX_CRASHES_LIMIT: u32 = 100_000;
/// The largest `max_worker_crashes`: each tracked worker keeps up to `max_worker_crashes + 1`
/// crash times, for up to [`HealthMonitor::MAX_TRACKED_WORKERS`] workers.
const MAX_WORKER_CRASHES_LIMIT: u32 = 100;

/// The settings in force, checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Settings {
    pub(super) max_crashes: u32,
    pub(super) window: Duration,
    pub(super) max_worker_crashes: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            max_crashes: 10,
            window: Duration::from_secs(60),
            max_worker_crashes: 3,
        }
    }
}

/// The registry table's `CONFIG` column: `max_crashes=10 window=60s max_worker_crashes=3`.
impl fmt::Display for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "max_crashes={} window={:?} max_worker_crashes={}",
            self.max_crashes, self.window, self.max_worker_crashes
        )
    }
}

/// Builds a [`HealthMonitor`]; made by [`HealthMonitor::builder`].
///
/// | setting | default | allowed |
/// |---|---|---|
/// | [`max_crashes`](Self::max_crashes) | 10 | 1 to 100 000 |
/// | [`window`](Self::window) | 60 s | longer than zero |
/// | [`max_worker_crashes`](Self::max_worker_crashes) | 3 | 1 to 100 |
///
/// The upper limits keep the monitor's memory bounded: see [`HealthMonitor`].
///
/// ```
/// use resilience::{ConfigError, HealthMonitor};
/// use std::time::Duration;
///
/// let monitor = HealthMonitor::builder("workers")
///     .max_crashes(5)
///     .window(Duration::from_secs(30))
///     .build()
///     .unwrap();
/// assert_eq!(monitor.max_crashes(), 5);
/// assert_eq!(monitor.max_worker_crashes(), 3, "the default");
///
/// let refused = HealthMonitor::builder("workers").window(Duration::ZERO).build();
/// assert!(matches!(refused, Err(ConfigError::OutOfRange { key: "window", .. })));
/// ```
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct HealthMonitorBuilder {
    name: Arc<str>,
    // `None` until set, so the registry can tell an explicit setting from a default.
    max_crashes: Option<u32>,
    window: Option<Duration>,
    max_worker_crashes: Option<u32>,
}

impl HealthMonitorBuilder {
    pub(super) fn new(name: Arc<str>) -> Self {
        HealthMonitorBuilder {
            name,
            max_crashes: None,
            window: None,
            max_worker_crashes: None,
        }
    }

    /// Crashes of the whole pool the window may hold while the monitor stays healthy: one more
    /// makes it unhealthy. Default 10; from 1 to 100 000.
    pub fn max_crashes(mut self, max_crashes: u32) -> Self {
        self.max_crashes = Some(max_crashes);
        self
    }

    /// How long a crash counts: a crash recorded at `t` is in the window until `t + window`,
    /// excluded. Default 60 s; longer than zero.
    pub fn window(mut self, window: Duration) -> Self {
        self.window = Some(window);
        self
    }

    /// Crashes of one worker the window may hold while that worker stays healthy. Default 3;
    /// from 1 to 100.
    pub fn max_worker_crashes(mut self, max_worker_crashes: u32) -> Self {
        self.max_worker_crashes = Some(max_worker_crashes);
        self
    }

    /// The registry name the monitor will have.
    pub fn name(&self) -> &Arc<str> {
        &self.name
    }

    /// The settings given explicitly, with their values as text, in the order of the table
    /// above: what the registry's snapshot reports as set by code.
    pub(crate) fn given(&self) -> Vec<(&'static str, String)> {
        let mut given = Vec::new();
        if let Some(max) = self.max_crashes {
            given.push(("max_crashes", max.to_string()));
        }
        if let Some(window) = self.window {
            given.push(("window", format!("{window:?}")));
        }
        if let Some(max) = self.max_worker_crashes {
            given.push(("max_worker_crashes", max.to_string()));
        }
        given
    }

    /// The keys set on this builder whose values differ from `existing`'s settings: empty when
    /// this builder agrees with the monitor already registered under its name.
    ///
    /// ```
    /// use resilience::HealthMonitor;
    ///
    /// let existing = HealthMonitor::builder("pool").max_crashes(5).build().unwrap();
    /// let other = HealthMonitor::builder("pool").max_crashes(7).max_worker_crashes(3);
    /// assert_eq!(other.conflicts_with(&existing), ["max_crashes"]);
    /// ```
    pub fn conflicts_with(&self, existing: &HealthMonitor) -> Vec<&'static str> {
        let settings = existing.settings();
        let mut keys = Vec::new();
        if self.max_crashes.is_some_and(|n| n != settings.max_crashes) {
            keys.push("max_crashes");
        }
        if self.window.is_some_and(|w| w != settings.window) {
            keys.push("window");
        }
        if self
            .max_worker_crashes
            .is_some_and(|n| n != settings.max_worker_crashes)
        {
            keys.push("max_worker_crashes");
        }
        keys
    }

    /// Checks the settings and builds the monitor.
    ///
    /// # Errors
    ///
    /// [`ConfigError::OutOfRange`] naming the key: `"max_crashes"` or `"max_worker_crashes"`
    /// outside its range (zero included), `"window"` of zero, `"name"` for a blank name.
    pub fn build(self) -> Result<HealthMonitor, ConfigError> {
        ConfigError::check_name(&self.name)?;
        let defaults = Settings::default();
        let settings = Settings {
            max_crashes: in_range(
                "max_crashes",
                self.max_crashes.unwrap_or(defaults.max_crashes),
                MAX_CRASHES_LIMIT,
                "a whole number from 1 to 100000",
            )?,
            window: match self.window.unwrap_or(defaults.window) {
                Duration::ZERO => {
                    return Err(ConfigError::OutOfRange {
                        key: "window",
                        value: "0s".to_owned(),
                        allowed: "longer than zero",
                    })
                }
                window => window,
            },
            max_worker_crashes: in_range(
                "max_worker_crashes",
                self.max_worker_crashes
                    .unwrap_or(defaults.max_worker_crashes),
                MAX_WORKER_CRASHES_LIMIT,
                "a whole number from 1 to 100",
            )?,
        };
        Ok(HealthMonitor::from_parts(self.name, settings))
    }
}

fn in_range(
    key: &'static str,
    value: u32,
    max: u32,
    allowed: &'static str,
) -> Result<u32, ConfigError> {
    if (1..=max).contains(&value) {
        Ok(value)
    } else {
        Err(ConfigError::OutOfRange {
            key,
            value: value.to_string(),
            allowed,
        })
    }
}
