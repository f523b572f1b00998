//! Building a [`Chaos`] policy.

use std::sync::Arc;
use std::time::Duration;

use resilience_settings::chaos::ChaosSettings;

use super::{Chaos, ChaosConfig};
use crate::ConfigError;

/// Settings for a [`Chaos`] policy; each not given keeps its default (`fault_rate` 0, no
/// `latency`, `latency_rate` 1). It is built disabled, whatever the settings.
///
/// ```
/// use resilience::Chaos;
/// use std::time::Duration;
///
/// let chaos = Chaos::builder("doc-chaos-builder")
///     .fault_rate(0.05)
///     .latency(Duration::from_millis(200))
///     .latency_rate(0.1)
///     .seed(42)
///     .build()
///     .unwrap();
/// assert!(!chaos.is_enabled());
/// assert_eq!(chaos.config().to_string(), "fault_rate=0.05 latency=200ms latency_rate=0.1");
/// ```
#[derive(Debug, Clone, PartialEq)]
#[must_use]
pub struct ChaosBuilder {
    name: Arc<str>,
    settings: ChaosSettings,
    seed: Option<u64>,
}

impl ChaosBuilder {
    pub(crate) fn new(name: Arc<str>) -> Self {
        ChaosBuilder {
            name,
            settings: ChaosSettings::default(),
            seed: None,
        }
    }

    /// The share of calls failed while enabled, `0 ≤ p ≤ 1`.
    pub fn fault_rate(mut self, rate: f64) -> Self {
        self.settings.fault_rate = Some(rate);
        self
    }

    /// The delay added to a delayed call.
    pub fn latency(mut self, latency: Duration) -> Self {
        self.settings.latency = Some(latency);
        self
    }

    /// The share of calls delayed while enabled, `0 ≤ p ≤ 1` (default 1 once a `latency` is
    /// given).
    pub fn latency_rate(mut self, rate: f64) -> Self {
        self.settings.latency_rate = Some(rate);
        self
    }

    /// Seeds the random draws, for reproducible runs; unseeded, they come from the OS.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// The name the policy is registered under.
    pub fn name(&self) -> &Arc<str> {
        &self.name
    }

    pub(crate) fn settings(&self) -> ChaosSettings {
        self.settings
    }

    pub(crate) fn with_settings(mut self, settings: ChaosSettings) -> Self {
        self.settings = settings;
        self
    }

    pub(crate) fn seed_given(&self) -> Option<u64> {
        self.seed
    }

    /// The settings in effect: these over the defaults.
    pub(crate) fn config(&self) -> ChaosConfig {
        let defaults = ChaosConfig::default();
        ChaosConfig {
            fault_rate: self.settings.fault_rate.unwrap_or(defaults.fault_rate),
            latency: self.settings.latency,
            latency_rate: self.settings.latency_rate.unwrap_or(defaults.latency_rate),
        }
    }

    /// The policy, disabled, or the first setting the shared table refuses.
    ///
    /// # Errors
    ///
    /// [`ConfigError::OutOfRange`] for a blank name or a rate outside `0 ≤ p ≤ 1`.
    pub fn build(self) -> Result<Chaos, ConfigError> {
        ConfigError::check_name(&self.name)?;
        self.settings.check().map_err(ConfigError::from_problem)?;
        let config = self.config();
        Ok(Chaos::new(self.name, config, self.seed))
    }
}

impl ChaosBuilder {
    /// The policy with the defaults, for a site whose settings were refused: only a blank
    /// name can be, which the attribute refuses at compile time.
    pub(crate) fn build_unchecked(self) -> Chaos {
        Chaos::new(self.name, ChaosConfig::default(), None)
    }
}
