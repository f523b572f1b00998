//! `#[timeout]`: keys and checks. The duration has no default.

use std::time::Duration;

use crate::spec::LONGER_THAN_ZERO;
use crate::{KeySpec, Problem, Rule, ValueKind, NAME};

/// Why a timeout must be longer than zero.
const ZERO_FAILS: &str = " (a timeout of zero would fail every call)";

/// `ms = 5000`.
pub const MS: KeySpec = KeySpec {
    setting: "duration",
    ..KeySpec::new(
        "ms",
        ValueKind::Milliseconds { positive: true },
        LONGER_THAN_ZERO,
        "required",
        "5000",
        "how long a call may stay pending, in milliseconds",
    )
    .because(ZERO_FAILS)
};
/// `secs = 5`.
pub const SECS: KeySpec = KeySpec {
    setting: "duration",
    ..KeySpec::new(
        "secs",
        ValueKind::Seconds { positive: true },
        LONGER_THAN_ZERO,
        "required",
        "5",
        "how long a call may stay pending, in seconds",
    )
    .because(ZERO_FAILS)
};
/// `duration = "5s"`.
pub const DURATION: KeySpec = KeySpec::new(
    "duration",
    ValueKind::Duration { positive: true },
    LONGER_THAN_ZERO,
    "required",
    "\"5s\"",
    "how long a call may stay pending",
)
.because(ZERO_FAILS);

/// Every `#[timeout]` key: `ms`, `secs` and `duration` are three spellings of `duration`, so
/// exactly one of them is given.
pub const KEYS: &[KeySpec] = &[MS, SECS, DURATION, NAME];

/// Names other libraries use, and ours.
pub const RENAMED: &[(&str, &str)] = &[
    ("millis", "ms"),
    ("milliseconds", "ms"),
    ("duration_ms", "ms"),
    ("timeout_ms", "ms"),
    ("seconds", "secs"),
    ("s", "secs"),
    ("sec", "secs"),
    ("after", "duration"),
    ("timeout", "duration"),
];

/// `#[timeout]`'s setting as a plain value; `None` means not given.
///
/// ```
/// use resilience_settings::timeout::TimeoutSettings;
/// use std::time::Duration;
///
/// assert_eq!(TimeoutSettings { duration: Some(Duration::from_secs(5)) }.resolve(), Ok(Duration::from_secs(5)));
/// assert_eq!(TimeoutSettings { duration: None }.resolve().unwrap_err().value(), "not set");
/// assert_eq!(TimeoutSettings { duration: Some(Duration::ZERO) }.resolve().unwrap_err().key(), "duration");
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TimeoutSettings {
    /// `ms`, `secs` or `duration`.
    pub duration: Option<Duration>,
}

impl TimeoutSettings {
    /// The settings given, by name.
    pub fn given(&self) -> Vec<&'static str> {
        self.duration
            .map(|_| DURATION.setting)
            .into_iter()
            .collect()
    }

    /// Every problem; empty when the setting is valid.
    pub fn problems(&self) -> Vec<Problem> {
        self.resolve().err().into_iter().collect()
    }

    /// The first problem, if any.
    pub fn check(&self) -> Result<(), Problem> {
        self.resolve().map(drop)
    }

    /// The timeout's duration, checked.
    pub fn resolve(&self) -> Result<Duration, Problem> {
        match self.duration {
            Some(duration) => DURATION.check_duration(duration),
            None => Err(Problem::new(
                &DURATION,
                "not set".to_owned(),
                Rule::Required,
            )),
        }
    }
}
