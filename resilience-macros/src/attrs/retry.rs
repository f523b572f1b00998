//! `#[retry(...)]` arguments.

use std::time::Duration;

use super::ArgSet;
use crate::args::{array_elements, lit_str, lit_u64, Arg};
use crate::{duration, suggest};

pub(crate) const KEYS: &[&str] = &[
    "max_attempts",
    "backoff",
    "delay",
    "delay_ms",
    "factor",
    "max_delay",
    "max_delay_ms",
    "delays",
    "backoff_fn",
    "jitter",
    "max_elapsed",
    "max_elapsed_ms",
    "retry_if",
    "on_retry",
    "name",
];

/// Validated `#[retry]` settings; `None` means "not given, use the default".
pub(crate) struct RetryArgs {
    pub(crate) name: Option<String>,
    pub(crate) max_attempts: Option<u32>,
    pub(crate) backoff: Option<BackoffArg>,
    pub(crate) max_delay: Option<Duration>,
    pub(crate) jitter: Option<JitterArg>,
    pub(crate) max_elapsed: Option<Duration>,
    pub(crate) retry_if: Option<syn::Expr>,
    pub(crate) on_retry: Option<syn::Expr>,
}

pub(crate) enum BackoffArg {
    Exponential { base: Duration, factor: f64 },
    Fixed(Duration),
    Linear(Duration),
    None,
    Schedule(Vec<Duration>),
    Custom(syn::Expr),
}

pub(crate) enum JitterArg {
    Proportional(f64),
    Full,
    Equal,
    Decorrelated,
}

/// Names other retry libraries use, and ours.
pub(crate) const RENAMED: &[(&str, &str)] = &[
    ("attempts", "max_attempts"),
    ("retries", "max_attempts"),
    ("max_retries", "max_attempts"),
    ("times", "max_attempts"),
    ("initial_delay", "delay"),
    ("base_delay", "delay"),
    ("min_delay", "delay"),
    ("multiplier", "factor"),
    ("when", "retry_if"),
    ("retry_on", "retry_if"),
    ("condition", "retry_if"),
    ("notify", "on_retry"),
    ("max_duration", "max_elapsed"),
    ("max_elapsed_time", "max_elapsed"),
];

const STRATEGIES: &[&str] = &["exponential", "fixed", "linear", "none"];
const JITTERS: &[&str] = &["full", "equal", "decorrelated"];

const DEFAULT_DELAY: Duration = Duration::from_millis(100);
const DEFAULT_FACTOR: f64 = 2.0;

pub(crate) fn parse(set: &mut ArgSet<'_>) -> Option<RetryArgs> {
    let name = set.name();
    let max_attempts = set
        .u32_at_least("max_attempts", 1, "3")
        .map(|(value, _)| value);
    let backoff = backoff(set);
    let max_delay = set.duration("max_delay", "max_delay_ms").map(|(d, _)| d);
    let jitter = jitter(set);
    let max_elapsed = set
        .positive_duration("max_elapsed", "max_elapsed_ms")
        .map(|(d, _)| d);
    let retry_if = set.path("retry_if", "is_transient");
    let on_retry = set.path("on_retry", "log_retry");
    Some(RetryArgs {
        name,
        max_attempts,
        backoff,
        max_delay,
        jitter,
        max_elapsed,
        retry_if,
        on_retry,
    })
}

fn backoff(set: &mut ArgSet<'_>) -> Option<BackoffArg> {
    // An explicit schedule or function replaces the strategy and its parameters.
    let mut replaced = false;
    for (replacement, why) in [
        ("delays", " (`delays` is the whole schedule)"),
        ("backoff_fn", " (`backoff_fn` computes every delay)"),
    ] {
        for parameter in ["backoff", "delay", "delay_ms", "factor"] {
            replaced |= set.exclusive(parameter, replacement, why);
        }
    }
    replaced |= set.exclusive("delays", "backoff_fn", " (each sets the whole schedule)");
    if replaced {
        return None;
    }
    if let Some(arg) = set.get("backoff_fn") {
        return set
            .errors
            .take(arg.path("my_schedule"))
            .map(BackoffArg::Custom);
    }
    if let Some(arg) = set.get("delays") {
        return schedule(set, arg).map(BackoffArg::Schedule);
    }

    let strategy = match set.get("backoff") {
        Some(arg) => {
            let (text, span) = set.errors.take(arg.string("\"exponential\""))?;
            if !STRATEGIES.contains(&text.as_str()) {
                set.errors.at(
                    span,
                    suggest::unknown_value(
                        "backoff",
                        &text,
                        STRATEGIES,
                        "; for your own schedule use `delays = [..]` or `backoff_fn = path`",
                    ),
                );
                return None;
            }
            Some((text, span))
        }
        None => None,
    };
    let delay = set.duration("delay", "delay_ms").map(|(d, _)| d);
    let factor = match set.get("factor") {
        Some(arg) => {
            let (value, span) = set.errors.take(arg.f64("2.0"))?;
            if !(value.is_finite() && value > 1.0) {
                set.errors.push(arg.value_error(
                    "`factor` must be greater than 1.0 (each delay is this multiple of the one before), like `factor = 2.0`",
                ));
                return None;
            }
            Some((value, span))
        }
        None => None,
    };
    let strategy_name = strategy.as_ref().map(|(name, _)| name.as_str());
    if let (Some((_, factor_span)), Some(name)) = (&factor, strategy_name) {
        if name != "exponential" {
            set.errors.at(
                *factor_span,
                format!("`factor` applies only to `backoff = \"exponential\"`, not \"{name}\""),
            );
        }
    }
    if let (Some(arg), Some("none")) = (set.get("delay").or(set.get("delay_ms")), strategy_name) {
        set.errors.at(
            arg.key.span(),
            "`backoff = \"none\"` retries at once; remove the delay, or choose \"fixed\"",
        );
    }
    if strategy.is_none() && delay.is_none() && factor.is_none() {
        return None;
    }
    let base = delay.unwrap_or(DEFAULT_DELAY);
    Some(match strategy_name.unwrap_or("exponential") {
        "fixed" => BackoffArg::Fixed(base),
        "linear" => BackoffArg::Linear(base),
        "none" => BackoffArg::None,
        _ => BackoffArg::Exponential {
            base,
            factor: factor.map_or(DEFAULT_FACTOR, |(f, _)| f),
        },
    })
}

fn schedule(set: &mut ArgSet<'_>, arg: &Arg) -> Option<Vec<Duration>> {
    let Some(expr) = &arg.value else {
        set.errors.at(
            arg.key.span(),
            "`delays` needs a list: `delays = [\"100ms\", \"200ms\", \"400ms\"]`",
        );
        return None;
    };
    let Some(elements) = array_elements(expr) else {
        set.errors.push(arg.value_error(
            "`delays` takes a list of durations, like `delays = [\"100ms\", \"200ms\", \"400ms\"]`",
        ));
        return None;
    };
    if elements.is_empty() {
        set.errors.push(arg.value_error(
            "`delays` must list at least one duration, like `delays = [\"100ms\", \"1s\"]`; its last entry repeats",
        ));
        return None;
    }
    let mut delays = Vec::with_capacity(elements.len());
    let mut ok = true;
    for element in elements {
        if let Some((text, span)) = lit_str(element) {
            match duration::parse(&text) {
                Ok(d) => delays.push(d),
                Err(reason) => {
                    set.errors.at(
                        span,
                        format!("{reason}; write durations like \"250ms\", \"5s\" or \"1m30s\""),
                    );
                    ok = false;
                }
            }
        } else if let Some((ms, span)) = lit_u64(element) {
            set.errors.at(
                span,
                format!("`delays` entries are duration strings: write \"{ms}ms\""),
            );
            ok = false;
        } else {
            set.errors.push(syn::Error::new_spanned(
                element,
                "`delays` entries are duration strings like \"250ms\", \"5s\" or \"1m30s\"",
            ));
            ok = false;
        }
    }
    ok.then_some(delays)
}

fn jitter(set: &mut ArgSet<'_>) -> Option<JitterArg> {
    let arg = set.get("jitter")?;
    if arg.is_flag() {
        return Some(JitterArg::Proportional(0.25));
    }
    if let Ok((text, span)) = arg.string("\"full\"") {
        return match text.as_str() {
            "full" => Some(JitterArg::Full),
            "equal" => Some(JitterArg::Equal),
            "decorrelated" => Some(JitterArg::Decorrelated),
            other => {
                set.errors.at(
                    span,
                    suggest::unknown_value(
                        "jitter",
                        other,
                        JITTERS,
                        ", a fraction like `jitter = 0.1`, or no value (`jitter` alone is ±25%)",
                    ),
                );
                None
            }
        };
    }
    match arg.f64("0.1") {
        Ok((fraction, _)) => {
            if fraction > 0.0 && fraction <= 1.0 {
                Some(JitterArg::Proportional(fraction))
            } else {
                set.errors.push(arg.value_error(
                    "`jitter` as a fraction must be in (0, 1] (above 0, at most 1), like `jitter = 0.1` for ±10%",
                ));
                None
            }
        }
        Err(_) => {
            set.errors.push(arg.value_error(
                "`jitter` takes a fraction like `jitter = 0.1`, a strategy \"full\", \"equal\" or \"decorrelated\", or no value (±25%)",
            ));
            None
        }
    }
}
