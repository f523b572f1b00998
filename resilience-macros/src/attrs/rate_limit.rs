//! `#[rate_limit(...)]` arguments.

use std::time::Duration;

use resilience_settings::rate_limit::{RateLimitSettings, BURST, PER, RATE, SHARED, WAIT};

use super::ArgSet;

/// Validated `#[rate_limit]` settings; `None` means "not given, use the default".
pub(crate) struct RateLimitArgs {
    pub(crate) name: Option<super::PolicyName>,
    pub(crate) rate: u32,
    pub(crate) per: Option<Duration>,
    pub(crate) burst: Option<u32>,
    pub(crate) wait: Option<Duration>,
    /// The limit holds across instances through the registry's store.
    pub(crate) shared: Option<bool>,
}

pub(crate) fn parse(set: &mut ArgSet<'_>) -> Option<RateLimitArgs> {
    let name = set.name();
    let settings = RateLimitSettings {
        rate: set.count(&RATE),
        per: set.duration(&PER),
        burst: set.count(&BURST),
        wait: set.duration(&WAIT),
        shared: set.flag(&SHARED),
    };
    // The refill of a `burst` left to its default (`rate`) is checked too: a `per` of 150
    // years once compiled here and was refused only at run time.
    set.report(settings.problems(), &settings.given());
    Some(RateLimitArgs {
        name,
        rate: settings.rate?,
        per: settings.per,
        burst: settings.burst,
        wait: settings.wait,
        shared: settings.shared,
    })
}
