//! Building a [`RetryBudget`].

use std::sync::Arc;
use std::time::Duration;

use resilience_settings::retry_budget::RetryBudgetSettings;

use super::{RetryBudget, RetryBudgetConfig};
use crate::ConfigError;

/// Settings for a [`RetryBudget`]; each not given keeps its default (`ratio` 0.2,
/// `min_per_sec` 10, `window` 10 s).
///
/// ```
/// use resilience::{ConfigError, RetryBudget};
///
/// // A budget that would never allow a retry is refused, not built.
/// let err = RetryBudget::builder("doc-never").ratio(0.0).min_per_sec(0).build().unwrap_err();
/// assert!(matches!(err, ConfigError::OutOfRange { key: "ratio", .. }));
/// ```
#[derive(Debug, Clone, PartialEq)]
#[must_use]
pub struct RetryBudgetBuilder {
    name: Arc<str>,
    settings: RetryBudgetSettings,
}

impl RetryBudgetBuilder {
    pub(crate) fn new(name: Arc<str>) -> Self {
        RetryBudgetBuilder {
            name,
            settings: RetryBudgetSettings::default(),
        }
    }

    /// Retries allowed per call over the window, beside the floor: `0 ≤ ratio ≤ 1000`, exact to
    /// a millionth.
    pub fn ratio(mut self, ratio: f64) -> Self {
        self.settings.ratio = Some(ratio);
        self
    }

    /// Retries allowed per second whatever the traffic (over a window, `min_per_sec × window`).
    pub fn min_per_sec(mut self, min_per_sec: u32) -> Self {
        self.settings.min_per_sec = Some(min_per_sec);
        self
    }

    /// How long a call's deposit and a retry's withdrawal count; longer than zero.
    pub fn window(mut self, window: Duration) -> Self {
        self.settings.window = Some(window);
        self
    }

    /// The name the budget is registered under.
    pub fn name(&self) -> &Arc<str> {
        &self.name
    }

    /// The settings given, as the shared table checks them.
    pub(crate) fn settings(&self) -> RetryBudgetSettings {
        self.settings
    }

    /// The settings given with their values as text, for the snapshot.
    pub(crate) fn given(&self) -> Vec<(&'static str, String)> {
        let s = self.settings;
        let mut given = Vec::new();
        if let Some(ratio) = s.ratio {
            given.push(("ratio", ratio.to_string()));
        }
        if let Some(floor) = s.min_per_sec {
            given.push(("min_per_sec", floor.to_string()));
        }
        if let Some(window) = s.window {
            given.push(("window", format!("{window:?}")));
        }
        given
    }

    /// The settings in effect: these over the defaults.
    pub(crate) fn config(&self) -> RetryBudgetConfig {
        let defaults = RetryBudgetConfig::default();
        RetryBudgetConfig {
            ratio: self.settings.ratio.unwrap_or(defaults.ratio),
            min_per_sec: self.settings.min_per_sec.unwrap_or(defaults.min_per_sec),
            window: self.settings.window.unwrap_or(defaults.window),
        }
    }

    /// The settings given explicitly that differ from what `budget` runs with.
    pub(crate) fn conflicts_with(&self, budget: &RetryBudget) -> Vec<&'static str> {
        let theirs = budget.config();
        let mine = self.config();
        let s = self.settings;
        mine.changed_keys(&theirs)
            .into_iter()
            .filter(|key| match *key {
                "ratio" => s.ratio.is_some(),
                "min_per_sec" => s.min_per_sec.is_some(),
                _ => s.window.is_some(),
            })
            .collect()
    }

    /// The budget, or the first setting the shared table refuses.
    ///
    /// # Errors
    ///
    /// [`ConfigError::OutOfRange`] for a blank name, a value out of its range, or a ratio of 0
    /// with a floor of 0 (a budget that would never allow a retry).
    pub fn build(self) -> Result<RetryBudget, ConfigError> {
        ConfigError::check_name(&self.name)?;
        self.settings.check().map_err(ConfigError::from_problem)?;
        let config = self.config();
        Ok(RetryBudget::new(self.name, config))
    }
}
