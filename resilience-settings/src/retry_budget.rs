//! `[retry_budget.NAME]` and `RetryBudget::builder`: keys, defaults and checks. A retry budget
//! has no attribute of its own: `#[retry(budget = "api")]` and `#[hedge(budget = "api")]` name
//! one, and a budget named but never defined has these defaults.

use std::time::Duration;

use crate::spec::LONGER_THAN_ZERO;
use crate::{collect, first, KeySpec, NumberRange, Problem, Rule, ValueKind, NAME};

/// Retries allowed per call over the window when `ratio` is not given: one in five.
pub const DEFAULT_RATIO: f64 = 0.2;
/// Retries allowed per second whatever the traffic when `min_per_sec` is not given.
pub const DEFAULT_MIN_PER_SEC: u32 = 10;
/// The window over which calls and retries are counted when `window` is not given.
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(10);

/// `ratio = 0.2`.
pub const RATIO: KeySpec = KeySpec::new(
    "ratio",
    ValueKind::Number(NumberRange::Ratio),
    "a number r with 0 ≤ r ≤ 1000",
    "0.2",
    "0.2",
    "retries allowed per call over the window, beside the floor",
)
.because(" (retries per call)");
/// `min_per_sec = 10`.
pub const MIN_PER_SEC: KeySpec = KeySpec::new(
    "min_per_sec",
    ValueKind::Count { min: 0 },
    "a whole number from 0 to 4294967295",
    "10",
    "10",
    "retries allowed per second whatever the traffic, so a quiet service can still retry",
);
/// `window = "10s"`.
pub const WINDOW: KeySpec = KeySpec::new(
    "window",
    ValueKind::Duration { positive: true },
    LONGER_THAN_ZERO,
    "10s",
    "\"10s\"",
    "how long a call's deposit and a retry's withdrawal count",
);
/// `window_ms = 10000`.
pub const WINDOW_MS: KeySpec = WINDOW.in_milliseconds("window_ms", "10000");

/// Every retry budget key, in the order messages list them.
pub const KEYS: &[KeySpec] = &[RATIO, MIN_PER_SEC, WINDOW, WINDOW_MS, NAME];

/// Names other libraries use, and ours.
pub const RENAMED: &[(&str, &str)] = &[
    ("retry_percent", "ratio"),
    ("retry_ratio", "ratio"),
    ("percent", "ratio"),
    ("min_retries_per_sec", "min_per_sec"),
    ("min_retries_per_second", "min_per_sec"),
    ("min_per_second", "min_per_sec"),
    ("ttl", "window"),
];

/// A retry budget's settings as plain values; `None` means not given.
///
/// ```
/// use resilience_settings::retry_budget::RetryBudgetSettings;
/// use resilience_settings::Rule;
///
/// let never = RetryBudgetSettings { ratio: Some(0.0), min_per_sec: Some(0), window: None };
/// let problem = never.check().unwrap_err();
/// assert_eq!((problem.key(), problem.rule()), ("ratio", &Rule::NeverRetries));
/// assert!(RetryBudgetSettings { ratio: Some(0.0), ..RetryBudgetSettings::default() }.check().is_ok());
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RetryBudgetSettings {
    /// `ratio`.
    pub ratio: Option<f64>,
    /// `min_per_sec`.
    pub min_per_sec: Option<u32>,
    /// `window` / `window_ms`.
    pub window: Option<Duration>,
}

impl RetryBudgetSettings {
    /// The settings given, by name.
    pub fn given(&self) -> Vec<&'static str> {
        let mut given = Vec::new();
        if self.ratio.is_some() {
            given.push(RATIO.setting);
        }
        if self.min_per_sec.is_some() {
            given.push(MIN_PER_SEC.setting);
        }
        if self.window.is_some() {
            given.push(WINDOW.setting);
        }
        given
    }

    /// Every problem; empty when the settings are valid. A ratio of 0 with a floor of 0 is
    /// refused: it would never allow a retry, which is surely not what was meant.
    pub fn problems(&self) -> Vec<Problem> {
        let mut problems = Vec::new();
        let ratio = self
            .ratio
            .and_then(|ratio| collect(&mut problems, RATIO.check_number(ratio)));
        if let Some(window) = self.window {
            collect(&mut problems, WINDOW.check_duration(window));
        }
        let effective_ratio = ratio.unwrap_or(DEFAULT_RATIO);
        let floor = self.min_per_sec.unwrap_or(DEFAULT_MIN_PER_SEC);
        if effective_ratio == 0.0 && floor == 0 {
            let (spec, value) = if self.ratio.is_some() {
                (&RATIO, effective_ratio.to_string())
            } else {
                (&MIN_PER_SEC, "0".to_owned())
            };
            problems.push(Problem::new(spec, value, Rule::NeverRetries));
        }
        problems
    }

    /// The first problem, if any.
    pub fn check(&self) -> Result<(), Problem> {
        first(self.problems())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_valid() {
        assert!(RetryBudgetSettings::default().check().is_ok());
        assert!(RATIO.check_number(DEFAULT_RATIO).is_ok());
    }

    #[test]
    fn each_key_checks_its_range() {
        for bad in [-0.1, 1000.5, f64::NAN, f64::INFINITY] {
            let settings = RetryBudgetSettings {
                ratio: Some(bad),
                ..RetryBudgetSettings::default()
            };
            assert_eq!(settings.check().unwrap_err().key(), "ratio", "{bad}");
        }
        let zero_window = RetryBudgetSettings {
            window: Some(Duration::ZERO),
            ..RetryBudgetSettings::default()
        };
        assert_eq!(zero_window.check().unwrap_err().key(), "window");
    }

    #[test]
    fn a_budget_that_never_retries_is_refused() {
        let zero_ratio = RetryBudgetSettings {
            ratio: Some(0.0),
            min_per_sec: Some(0),
            window: None,
        };
        assert_eq!(zero_ratio.check().unwrap_err().rule(), &Rule::NeverRetries);
        // Either alone is fine: the other still allows retries.
        assert!(RetryBudgetSettings {
            ratio: Some(0.0),
            ..Default::default()
        }
        .check()
        .is_ok());
        assert!(RetryBudgetSettings {
            min_per_sec: Some(0),
            ..Default::default()
        }
        .check()
        .is_ok());
    }
}
