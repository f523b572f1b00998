//! `#[rate_limit(...)]` arguments.

use std::time::Duration;

use resilience_settings::rate_limit::{
    RateLimitSettings, BURST, KEY_IDLE, MAX_KEYS, PER, RATE, SHARED, WAIT,
};

use super::{ArgSet, KEY};

/// Validated `#[rate_limit]` settings; `None` means "not given, use the default".
pub(crate) struct RateLimitArgs {
    pub(crate) name: Option<super::PolicyName>,
    pub(crate) rate: u32,
    pub(crate) per: Option<Duration>,
    pub(crate) burst: Option<u32>,
    pub(crate) wait: Option<Duration>,
    /// The limit holds across instances through the registry's store.
    pub(crate) shared: Option<bool>,
    /// `key = <expression>`: one bucket per value, the expression evaluated by reference from
    /// the function's arguments before each call.
    pub(crate) key: Option<syn::Expr>,
    pub(crate) key_idle: Option<Duration>,
    pub(crate) max_keys: Option<u32>,
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
    let key = super::key_expression(set);
    let key_idle = set.duration(&KEY_IDLE);
    let max_keys = set.count(&MAX_KEYS);
    if let (Some(_), Some(true), Some(arg)) = (&key, settings.shared, set.get(SHARED.key)) {
        set.errors.at(
            arg.key.span(),
            "a keyed limiter is not shared across instances (its keys live in this process): remove `shared`, or `key` for one limit for the whole fleet",
        );
    }
    if set.get(KEY).is_none() {
        // Only a keyed limiter holds keys: these settings alone would do nothing.
        for spelling in set
            .spellings(KEY_IDLE.setting)
            .into_iter()
            .chain([MAX_KEYS.key])
        {
            if let Some(arg) = set.get(spelling) {
                set.errors.at(
                    arg.key.span(),
                    format!(
                        "`{spelling}` bounds the keys of a keyed limiter: add `key = <expression>` (like `key = user_id`), or remove `{spelling}`"
                    ),
                );
            }
        }
    }
    Some(RateLimitArgs {
        name,
        rate: settings.rate?,
        per: settings.per,
        burst: settings.burst,
        wait: settings.wait,
        shared: settings.shared,
        key,
        key_idle,
        max_keys,
    })
}
