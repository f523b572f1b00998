//! `#[circuit_breaker(...)]` arguments.

use std::time::Duration;

use resilience_settings::circuit_breaker::SHARED;
use resilience_settings::circuit_breaker::{
    BreakerSettings, Window, CRITICAL, FAILURE_IF, FAILURE_RATE, FAILURE_THRESHOLD,
    HALF_OPEN_MAX_CALLS, HALF_OPEN_TIMEOUT, IGNORE_IF, KEY_IDLE, MAX_KEYS, MIN_CALLS,
    RESET_TIMEOUT, SLOW_CALL, SUCCESS_THRESHOLD, WINDOW,
};

use super::ArgSet;
use crate::args::{lit_str, Arg};

/// Validated `#[circuit_breaker]` settings; `None` means "not given, use the default".
pub(crate) struct BreakerArgs {
    pub(crate) name: Option<super::PolicyName>,
    pub(crate) trip: Option<TripArg>,
    pub(crate) reset_timeout: Option<Duration>,
    pub(crate) half_open_max_calls: Option<u32>,
    pub(crate) success_threshold: Option<u32>,
    pub(crate) slow_call: Option<Duration>,
    /// A half-open probe still running this long counts as failed (default: the
    /// `reset_timeout`).
    pub(crate) half_open_timeout: Option<Duration>,
    pub(crate) failure_if: Option<syn::Expr>,
    pub(crate) ignore_if: Option<syn::Expr>,
    /// An open or half-open circuit makes health unhealthy rather than degraded.
    pub(crate) critical: Option<bool>,
    /// The circuit's state is shared across instances through the registry's store.
    pub(crate) shared: Option<bool>,
    /// `key = <expression>`: one circuit per value, the expression evaluated by reference from
    /// the function's arguments before each call.
    pub(crate) key: Option<syn::Expr>,
    pub(crate) key_idle: Option<Duration>,
    pub(crate) max_keys: Option<u32>,
}

pub(crate) enum TripArg {
    Consecutive(u32),
    Rate {
        rate: f64,
        window: Option<WindowArg>,
        min_calls: Option<u32>,
    },
}

pub(crate) enum WindowArg {
    Calls(u32),
    Time(Duration),
}

pub(crate) fn parse(set: &mut ArgSet<'_>) -> Option<BreakerArgs> {
    let name = set.name();
    let failure_threshold = set.count(&FAILURE_THRESHOLD);
    let failure_rate = set.number(&FAILURE_RATE);
    let window = set.get(WINDOW.key).and_then(|arg| window(set, arg));
    let min_calls = set.count(&MIN_CALLS);
    let reset_timeout = set.duration(&RESET_TIMEOUT);
    let half_open_max_calls = set.count(&HALF_OPEN_MAX_CALLS);
    let success_threshold = set.count(&SUCCESS_THRESHOLD);
    let slow_call = set.duration(&SLOW_CALL);
    let half_open_timeout = set.duration(&HALF_OPEN_TIMEOUT);
    let failure_if = set.path(FAILURE_IF.key, FAILURE_IF.example);
    let ignore_if = set.path(IGNORE_IF.key, IGNORE_IF.example);
    let critical = set.flag(&CRITICAL);
    let shared = set.flag(&SHARED);

    let settings = BreakerSettings {
        failure_threshold,
        failure_rate,
        window: window.as_ref().map(|window| match window {
            WindowArg::Calls(calls) => Window::Calls(*calls),
            WindowArg::Time(length) => Window::Time(*length),
        }),
        min_calls,
        reset_timeout,
        half_open_max_calls,
        success_threshold,
        slow_call,
        half_open_timeout,
        critical,
        shared,
    };
    set.report(settings.problems(), &settings.given());
    let key = super::key_expression(set);
    let key_idle = set.duration(&KEY_IDLE);
    let max_keys = set.count(&MAX_KEYS);
    keyed_checks(set, key.is_some(), shared);

    let trip = match (failure_threshold, failure_rate) {
        (Some(threshold), _) => Some(TripArg::Consecutive(threshold)),
        (None, Some(rate)) => Some(TripArg::Rate {
            rate,
            window,
            min_calls,
        }),
        (None, None) => None,
    };
    Some(BreakerArgs {
        name,
        trip,
        reset_timeout,
        half_open_max_calls,
        success_threshold,
        slow_call,
        half_open_timeout,
        failure_if,
        ignore_if,
        critical,
        shared,
        key,
        key_idle,
        max_keys,
    })
}

/// What `key` excludes, and what only `key` allows.
fn keyed_checks(set: &mut ArgSet<'_>, keyed: bool, shared: Option<bool>) {
    if keyed {
        if let (Some(true), Some(arg)) = (shared, set.get(SHARED.key)) {
            set.errors.at(
                arg.key.span(),
                "a keyed breaker is not shared across instances (its keys live in this process): remove `shared`, or `key` for one circuit for the whole fleet",
            );
        }
        for spelling in [FAILURE_RATE.key, WINDOW.key, MIN_CALLS.key] {
            if let Some(arg) = set.get(spelling) {
                set.errors.at(
                    arg.key.span(),
                    format!(
                        "a keyed breaker's keys trip on consecutive failures (a failure-rate window per key would cost kilobytes a key): remove `{spelling}` and use `failure_threshold`"
                    ),
                );
            }
        }
        return;
    }
    // Only a keyed breaker holds keys: these settings alone would do nothing.
    for spelling in set
        .spellings(KEY_IDLE.setting)
        .into_iter()
        .chain([MAX_KEYS.key])
    {
        if let Some(arg) = set.get(spelling) {
            set.errors.at(
                arg.key.span(),
                format!(
                    "`{spelling}` bounds the keys of a keyed breaker: add `key = <expression>` (like `key = host`), or remove `{spelling}`"
                ),
            );
        }
    }
}

/// `window = 100` (calls) or `window = "60s"` (time), in the table's range.
fn window(set: &mut ArgSet<'_>, arg: &Arg) -> Option<WindowArg> {
    let message =
        "`window` is a number of calls (`window = 100`) or a duration (`window = \"60s\"`)";
    let Some(expr) = &arg.value else {
        set.errors.at(arg.key.span(), message);
        return None;
    };
    if let Ok((calls, _)) = arg.whole_number(WINDOW.example) {
        return match WINDOW.check_count(calls) {
            Ok(calls) => Some(WindowArg::Calls(calls)),
            Err(problem) => {
                set.errors.push(arg.value_error(problem));
                None
            }
        };
    }
    if let Some((text, span)) = lit_str(expr) {
        return match resilience_settings::parse_duration(&text) {
            Ok(length) => match WINDOW.check_duration(length) {
                Ok(length) => Some(WindowArg::Time(length)),
                Err(problem) => {
                    set.errors.at(span, problem);
                    None
                }
            },
            Err(reason) => {
                set.errors.at(
                    span,
                    format!("{reason}; a time window is written like \"60s\" or \"1m30s\""),
                );
                None
            }
        };
    }
    set.errors.push(arg.value_error(message));
    None
}
