//! `#[bulkhead(...)]` arguments.

use std::time::Duration;

use resilience_settings::bulkhead::{
    BulkheadSettings, KEY_IDLE, MAX, MAX_KEYS, QUEUE, QUEUE_TIMEOUT,
};

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
    pub(crate) key_idle: Option<Duration>,
    pub(crate) max_keys: Option<u32>,
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
    let key_idle = set.duration(&KEY_IDLE);
    let max_keys = set.count(&MAX_KEYS);
    if key.is_none() {
        // Only a keyed bulkhead holds keys: these settings alone would do nothing.
        for spelling in set
            .spellings(KEY_IDLE.setting)
            .into_iter()
            .chain([MAX_KEYS.key])
        {
            if let Some(arg) = set.get(spelling) {
                set.errors.at(
                    arg.key.span(),
                    format!(
                        "`{spelling}` bounds the keys of a keyed bulkhead: add `key = <expression>` (like `key = tenant_id`), or remove `{spelling}`"
                    ),
                );
            }
        }
    }
    Some(BulkheadArgs {
        name,
        max: settings.max?,
        queue: settings.queue,
        queue_timeout: settings.queue_timeout,
        key,
        key_idle,
        max_keys,
    })
}
