//! `#[hedge(...)]` arguments.

use std::time::Duration;

use resilience_settings::hedge::{HedgeSettings, BUDGET, DELAY, MAX_HEDGED};

use super::ArgSet;

/// Validated `#[hedge]` settings.
pub(crate) struct HedgeArgs {
    pub(crate) name: Option<super::PolicyName>,
    pub(crate) delay: Option<Duration>,
    pub(crate) max_hedged: Option<u32>,
    pub(crate) budget: Option<String>,
}

pub(crate) fn parse(set: &mut ArgSet<'_>) -> Option<HedgeArgs> {
    let name = set.name();
    let settings = HedgeSettings {
        delay: set.duration(&DELAY),
        max_hedged: set.count(&MAX_HEDGED),
    };
    let budget = set.reference(&BUDGET);
    set.report(settings.problems(), &settings.given());
    Some(HedgeArgs {
        name,
        delay: settings.delay,
        max_hedged: settings.max_hedged,
        budget,
    })
}
