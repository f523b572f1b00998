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
    /// `key = <expression>`: slots per value, the expression evaluated by reference from the
    /// function's arguments before each call.
    pub(crate) key: Option<syn::Expr>,
}

pub(crate) fn parse(set: &mut ArgSet<'_>) -> Option<BulkheadArgs> {
    let name = set.name();
    let settings = BulkheadSettings {
        max: set.count(&MAX),
        queue: set.count(&QUEUE),
        queue_timeout: set.duration(&QUEUE_TIMEOUT),
    };
    set.report(settings.problems(), &settings.given());
    let key = super::key_expression(set);
    Some(BulkheadArgs {
        name,
        max: settings.max?,
        queue: settings.queue,
        queue_timeout: settings.queue_timeout,
        key,
    })
}
