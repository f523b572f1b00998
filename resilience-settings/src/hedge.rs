//! `#[hedge]`: keys, defaults and checks.

use std::time::Duration;

use crate::spec::ANY_DURATION;
use crate::{collect, count_from_one, first, KeySpec, Problem, ValueKind, NAME};

/// How long the first attempt runs alone when `delay` is not given.
pub const DEFAULT_DELAY: Duration = Duration::from_millis(50);
/// Extra attempts when `max_hedged` is not given.
pub const DEFAULT_MAX_HEDGED: u32 = 1;

/// `delay = "50ms"`.
pub const DELAY: KeySpec = KeySpec::new(
    "delay",
    ValueKind::Duration { positive: false },
    ANY_DURATION,
    "50ms",
    "\"50ms\"",
    "how long an attempt runs before the next one starts beside it (0 starts them all at once)",
);
/// `delay_ms = 50`.
pub const DELAY_MS: KeySpec = DELAY.in_milliseconds("delay_ms", "50");
/// `max_hedged = 1`.
pub const MAX_HEDGED: KeySpec = count_from_one(
    "max_hedged",
    "1",
    "1",
    "extra attempts started beside the first, at most",
);
/// `budget = "api"`.
pub const BUDGET: KeySpec = KeySpec::new(
    "budget",
    ValueKind::Reference,
    "a non-blank string",
    "none",
    "\"api\"",
    "the name of the retry budget each extra attempt draws on",
);

/// Every `#[hedge]` key, in the order messages list them.
pub const KEYS: &[KeySpec] = &[DELAY, DELAY_MS, MAX_HEDGED, BUDGET, NAME];

/// Names other libraries use, and ours.
pub const RENAMED: &[(&str, &str)] = &[
    ("hedge_delay", "delay"),
    ("after", "delay"),
    ("max_hedged_attempts", "max_hedged"),
    ("max_attempts", "max_hedged"),
    ("hedges", "max_hedged"),
    ("retry_budget", "budget"),
];

/// `#[hedge]`'s settings as plain values; `None` means not given.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HedgeSettings {
    /// `delay` / `delay_ms`.
    pub delay: Option<Duration>,
    /// `max_hedged`.
    pub max_hedged: Option<u32>,
}

impl HedgeSettings {
    /// The settings given, by name.
    pub fn given(&self) -> Vec<&'static str> {
        let mut given = Vec::new();
        if self.delay.is_some() {
            given.push(DELAY.setting);
        }
        if self.max_hedged.is_some() {
            given.push(MAX_HEDGED.setting);
        }
        given
    }

    /// Every problem; empty when the settings are valid.
    pub fn problems(&self) -> Vec<Problem> {
        let mut problems = Vec::new();
        if let Some(max_hedged) = self.max_hedged {
            collect(&mut problems, MAX_HEDGED.check_count(max_hedged.into()));
        }
        problems
    }

    /// The first problem, if any.
    pub fn check(&self) -> Result<(), Problem> {
        first(self.problems())
    }
}
