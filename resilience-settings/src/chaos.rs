//! `#[chaos]`: keys, defaults and checks. A chaos policy is off until enabled at run time
//! (`registry().chaos(name)`, or `enabled = true` in the file's `[chaos.NAME]`), so the
//! attribute has no `enabled` key: a binary carrying it is safe to ship.

use std::time::Duration;

use crate::spec::ANY_DURATION;
use crate::{collect, first, path, KeySpec, NumberRange, Problem, ValueKind, NAME};

/// The share of calls failed when `fault_rate` is not given: none.
pub const DEFAULT_FAULT_RATE: f64 = 0.0;
/// The share of calls delayed when `latency_rate` is not given: every call, once a `latency`
/// is given.
pub const DEFAULT_LATENCY_RATE: f64 = 1.0;

const PROBABILITY: &str = "a probability p with 0 ≤ p ≤ 1";

/// `fault_rate = 0.05`.
pub const FAULT_RATE: KeySpec = KeySpec::new(
    "fault_rate",
    ValueKind::Number(NumberRange::Probability),
    PROBABILITY,
    "0",
    "0.05",
    "the share of calls failed with an injected error while enabled",
);
/// `latency = "200ms"`.
pub const LATENCY: KeySpec = KeySpec::new(
    "latency",
    ValueKind::Duration { positive: false },
    ANY_DURATION,
    "none",
    "\"200ms\"",
    "the delay added to a delayed call",
);
/// `latency_ms = 200`.
pub const LATENCY_MS: KeySpec = LATENCY.in_milliseconds("latency_ms", "200");
/// `latency_rate = 0.1`.
pub const LATENCY_RATE: KeySpec = KeySpec::new(
    "latency_rate",
    ValueKind::Number(NumberRange::Probability),
    PROBABILITY,
    "1 when `latency` is given",
    "0.1",
    "the share of calls delayed by `latency` while enabled",
);
/// `error = my_error`.
pub const ERROR: KeySpec = path(
    "error",
    "`resilience::Error::Injected`",
    "injected_error",
    "a `fn() -> E` building the injected error",
);
/// `enabled = true`: the file's alone (the attribute is always off until enabled at run time).
pub const ENABLED: KeySpec = KeySpec::new(
    "enabled",
    ValueKind::Flag,
    "`true` or `false`",
    "false",
    "true",
    "whether faults and delays are injected now",
);

/// Every `#[chaos]` key, in the order messages list them (the attribute refuses `enabled`).
pub const KEYS: &[KeySpec] = &[
    FAULT_RATE,
    LATENCY,
    LATENCY_MS,
    LATENCY_RATE,
    ERROR,
    ENABLED,
    NAME,
];

/// Names other libraries use, and ours.
pub const RENAMED: &[(&str, &str)] = &[
    ("injection_rate", "fault_rate"),
    ("failure_rate", "fault_rate"),
    ("error_rate", "fault_rate"),
    ("probability", "fault_rate"),
    ("delay", "latency"),
    ("delay_rate", "latency_rate"),
    ("fault", "error"),
];

/// `#[chaos]`'s settings as plain values; `None` means not given.
///
/// ```
/// use resilience_settings::chaos::ChaosSettings;
///
/// let settings = ChaosSettings { fault_rate: Some(1.5), ..ChaosSettings::default() };
/// assert_eq!(settings.check().unwrap_err().key(), "fault_rate");
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ChaosSettings {
    /// `fault_rate`.
    pub fault_rate: Option<f64>,
    /// `latency` / `latency_ms`.
    pub latency: Option<Duration>,
    /// `latency_rate`.
    pub latency_rate: Option<f64>,
    /// `enabled` (the file's).
    pub enabled: Option<bool>,
}

impl ChaosSettings {
    /// The settings given, by name.
    pub fn given(&self) -> Vec<&'static str> {
        let mut given = Vec::new();
        if self.fault_rate.is_some() {
            given.push(FAULT_RATE.setting);
        }
        if self.latency.is_some() {
            given.push(LATENCY.setting);
        }
        if self.latency_rate.is_some() {
            given.push(LATENCY_RATE.setting);
        }
        if self.enabled.is_some() {
            given.push(ENABLED.setting);
        }
        given
    }

    /// Every problem; empty when the settings are valid.
    pub fn problems(&self) -> Vec<Problem> {
        let mut problems = Vec::new();
        if let Some(rate) = self.fault_rate {
            collect(&mut problems, FAULT_RATE.check_number(rate));
        }
        if let Some(rate) = self.latency_rate {
            collect(&mut problems, LATENCY_RATE.check_number(rate));
        }
        problems
    }

    /// The first problem, if any.
    pub fn check(&self) -> Result<(), Problem> {
        first(self.problems())
    }
}
