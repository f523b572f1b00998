//! `#[circuit_breaker(...)]` arguments.

use std::time::Duration;

use super::ArgSet;
use crate::args::{lit_str, lit_u64, Arg};
use crate::duration;

pub(crate) const KEYS: &[&str] = &[
    "name",
    "failure_threshold",
    "failure_rate",
    "window",
    "min_calls",
    "reset_timeout",
    "reset_timeout_ms",
    "half_open_max_calls",
    "success_threshold",
    "slow_call",
    "slow_call_ms",
    "failure_if",
    "ignore_if",
];

/// Names other breaker libraries use, and ours.
pub(crate) const RENAMED: &[(&str, &str)] = &[
    ("threshold", "failure_threshold"),
    ("max_failures", "failure_threshold"),
    ("consecutive_failures", "failure_threshold"),
    ("failure_rate_threshold", "failure_rate"),
    ("timeout", "reset_timeout"),
    ("open_timeout", "reset_timeout"),
    ("cooldown", "reset_timeout"),
    ("wait_duration_in_open_state", "reset_timeout"),
    ("sliding_window_size", "window"),
    ("window_size", "window"),
    ("minimum_number_of_calls", "min_calls"),
    (
        "permitted_number_of_calls_in_half_open_state",
        "half_open_max_calls",
    ),
    ("slow_call_duration_threshold", "slow_call"),
    ("is_failure", "failure_if"),
    ("record_if", "failure_if"),
    ("ignore", "ignore_if"),
];

/// Validated `#[circuit_breaker]` settings; `None` means "not given, use the default".
pub(crate) struct BreakerArgs {
    pub(crate) name: Option<String>,
    pub(crate) trip: Option<TripArg>,
    pub(crate) reset_timeout: Option<Duration>,
    pub(crate) half_open_max_calls: Option<u32>,
    pub(crate) success_threshold: Option<u32>,
    pub(crate) slow_call: Option<Duration>,
    pub(crate) failure_if: Option<syn::Expr>,
    pub(crate) ignore_if: Option<syn::Expr>,
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
    let trip = trip(set);
    let reset_timeout = set
        .duration("reset_timeout", "reset_timeout_ms")
        .map(|(d, _)| d);
    let half_open_max_calls = set
        .u32_at_least("half_open_max_calls", 1, "1")
        .map(|(n, _)| n);
    let success_threshold = set
        .u32_at_least("success_threshold", 1, "1")
        .map(|(n, _)| n);
    let slow_call = set
        .positive_duration("slow_call", "slow_call_ms")
        .map(|(d, _)| d);
    let failure_if = set.path("failure_if", "is_outage");
    let ignore_if = set.path("ignore_if", "is_client_error");
    Some(BreakerArgs {
        name,
        trip,
        reset_timeout,
        half_open_max_calls,
        success_threshold,
        slow_call,
        failure_if,
        ignore_if,
    })
}

fn trip(set: &mut ArgSet<'_>) -> Option<TripArg> {
    let threshold = set.u32_at_least("failure_threshold", 1, "5");
    if set.exclusive(
        "failure_threshold",
        "failure_rate",
        " (they are alternative rules to open the circuit)",
    ) {
        return None;
    }
    let Some(rate_arg) = set.get("failure_rate") else {
        for key in ["window", "min_calls"] {
            if let Some(arg) = set.get(key) {
                set.errors.at(
                    arg.key.span(),
                    format!("`{key}` belongs to the failure-rate rule; add `failure_rate = 0.5` (or remove `{key}`)"),
                );
            }
        }
        return threshold.map(|(n, _)| TripArg::Consecutive(n));
    };
    let rate = match set.errors.take(rate_arg.f64("0.5")) {
        Some((rate, _)) if rate > 0.0 && rate <= 1.0 => Some(rate),
        Some(_) => {
            set.errors.push(rate_arg.value_error(
                "`failure_rate` is a fraction of calls in (0, 1] (above 0, at most 1), like `failure_rate = 0.5` for 50%",
            ));
            None
        }
        None => None,
    };
    let window = set.get("window").and_then(|arg| window(set, arg));
    let min_calls = set.u32_at_least("min_calls", 1, "20");
    if let (Some(WindowArg::Calls(size)), Some((min, span))) = (&window, &min_calls) {
        if min > size {
            set.errors.at(
                *span,
                format!("`min_calls` ({min}) cannot exceed the window of {size} calls: the rule could never be judged"),
            );
        }
    }
    if window.is_none() && set.get("window").is_none() {
        if let Some((min, span)) = &min_calls {
            if *min > 100 {
                set.errors.at(
                    *span,
                    format!("`min_calls` ({min}) cannot exceed the default window of 100 calls; set `window` too"),
                );
            }
        }
    }
    Some(TripArg::Rate {
        rate: rate?,
        window,
        min_calls: min_calls.map(|(n, _)| n),
    })
}

fn window(set: &mut ArgSet<'_>, arg: &Arg) -> Option<WindowArg> {
    let message =
        "`window` is a number of calls (`window = 100`) or a duration (`window = \"60s\"`)";
    let Some(expr) = &arg.value else {
        set.errors.at(arg.key.span(), message);
        return None;
    };
    if let Some((calls, span)) = lit_u64(expr) {
        return match u32::try_from(calls) {
            Ok(calls) if calls >= 1 => Some(WindowArg::Calls(calls)),
            _ => {
                set.errors.at(
                    span,
                    format!(
                        "`window` must count from 1 to {} calls, like `window = 100`, or be a duration like `window = \"60s\"`",
                        u32::MAX
                    ),
                );
                None
            }
        };
    }
    if let Some((text, span)) = lit_str(expr) {
        return match duration::parse(&text) {
            Ok(d) if d.is_zero() => {
                set.errors.at(
                    span,
                    "a time `window` must be longer than zero, like `window = \"60s\"`",
                );
                None
            }
            Ok(d) => Some(WindowArg::Time(d)),
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
