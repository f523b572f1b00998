//! `#[bulkhead(...)]` arguments.

use std::time::Duration;

use resilience_settings::bulkhead::{BulkheadSettings, MAX, QUEUE, QUEUE_TIMEOUT};

use super::ArgSet;

/// Validated `#[bulkhead]` settings.
pub(crate) struct BulkheadArgs {
    pub(crate) name: Option<super::PolicyName>,
    pub(crate) max: u32,
    pub(crate) queue: Option<u32>,
    pub(crate) queue_timeout: Option<Duration>,
}

pub(crate) fn parse(set: &mut ArgSet<'_>) -> Option<BulkheadArgs> {
    let name = set.name();
    let settings = BulkheadSettings {
        max: set.count(&MAX),
        queue: set.count(&QUEUE),
        queue_timeout: set.duration(&QUEUE_TIMEOUT),
    };
    set.report(settings.problems(), &settings.given());
    Some(BulkheadArgs {
        name,
        max: settings.max?,
        queue: settings.queue,
        queue_timeout: settings.queue_timeout,
    })
}
