//! `#[retry(...)]` arguments.

use std::time::Duration;

use resilience_settings::retry::{
    self, BackoffStrategy, JitterStrategy, RetrySettings, BACKOFF, BACKOFF_FN, DELAY, DELAYS,
    FACTOR, JITTER, MAX_ATTEMPTS, MAX_DELAY, MAX_ELAPSED, ON_RETRY, REJECTIONS, RETRY_IF, RETRY_ON,
};

use super::ArgSet;
use crate::args::{array_elements, lit_str, lit_u64, Arg};
use crate::suggest;

/// Validated `#[retry]` settings; `None` means "not given, use the default".
pub(crate) struct RetryArgs {
    pub(crate) name: Option<super::PolicyName>,
    pub(crate) max_attempts: Option<u32>,
    pub(crate) backoff: Option<BackoffArg>,
    pub(crate) max_delay: Option<Duration>,
    pub(crate) jitter: Option<JitterArg>,
    pub(crate) max_elapsed: Option<Duration>,
    pub(crate) retry_if: Option<syn::Expr>,
    /// `retry_on`: the rejections retried, each a name of the table's `REJECTIONS`, once.
    pub(crate) retry_on: Option<Vec<&'static str>>,
    pub(crate) on_retry: Option<syn::Expr>,
    /// `budget = "api"`: the retry budget each retry draws on.
    pub(crate) budget: Option<String>,
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

pub(crate) fn parse(set: &mut ArgSet<'_>) -> Option<RetryArgs> {
    let name = set.name();
    let max_attempts = set.count(&MAX_ATTEMPTS);
    let strategy = strategy(set);
    let delay = set.duration(&DELAY);
    let factor = set.number(&FACTOR);
    let max_delay = set.duration(&MAX_DELAY);
    let delays = set.get(DELAYS.key).and_then(|arg| schedule(set, arg));
    let backoff_fn = set.path(BACKOFF_FN.key, BACKOFF_FN.example);
    let jitter = jitter(set);
    let max_elapsed = set.duration(&MAX_ELAPSED);
    let retry_if = set.path(RETRY_IF.key, RETRY_IF.example);
    let retry_on = set.get(RETRY_ON.key).and_then(|arg| rejections(set, arg));
    let on_retry = set.path(ON_RETRY.key, ON_RETRY.example);
    let budget = set.reference(&retry::BUDGET);

    let settings = RetrySettings {
        max_attempts,
        backoff: strategy,
        delay,
        factor,
        max_delay,
        delays: delays.clone(),
        backoff_fn: backoff_fn.is_some(),
        jitter: jitter.as_ref().map(|jitter| match jitter {
            JitterArg::Proportional(fraction) => JitterStrategy::Proportional(*fraction),
            JitterArg::Full => JitterStrategy::Full,
            JitterArg::Equal => JitterStrategy::Equal,
            JitterArg::Decorrelated => JitterStrategy::Decorrelated,
        }),
        max_elapsed,
    };
    set.report(settings.problems(), &settings.given());

    // An explicit schedule or function replaces the strategy and its parameters (the table
    // refuses both at once).
    let backoff = if let Some(path) = backoff_fn {
        Some(BackoffArg::Custom(path))
    } else if let Some(delays) = delays {
        Some(BackoffArg::Schedule(delays))
    } else if strategy.is_none() && delay.is_none() && factor.is_none() {
        None
    } else {
        let base = delay.unwrap_or(retry::DEFAULT_DELAY);
        Some(match strategy.unwrap_or_default() {
            BackoffStrategy::Fixed => BackoffArg::Fixed(base),
            BackoffStrategy::Linear => BackoffArg::Linear(base),
            BackoffStrategy::None => BackoffArg::None,
            BackoffStrategy::Exponential => BackoffArg::Exponential {
                base,
                factor: factor.unwrap_or(retry::DEFAULT_FACTOR),
            },
        })
    };
    Some(RetryArgs {
        name,
        max_attempts,
        backoff,
        max_delay,
        jitter,
        max_elapsed,
        retry_if,
        retry_on,
        on_retry,
        budget,
    })
}

/// `retry_on = ["timeout", "rate_limited"]`: a list of the table's rejection names, each once;
/// `[]` retries none.
fn rejections(set: &mut ArgSet<'_>, arg: &Arg) -> Option<Vec<&'static str>> {
    let usage = "`retry_on` takes a list of the rejections to retry, like `retry_on = [\"timeout\", \"rate_limited\"]` (`[]` retries none)";
    let Some(elements) = arg.value.as_ref().and_then(array_elements) else {
        set.errors.push(arg.value_error(usage));
        return None;
    };
    let mut named: Vec<&'static str> = Vec::with_capacity(elements.len());
    let mut ok = true;
    for element in elements {
        let Some((text, span)) = lit_str(element) else {
            set.errors.push(syn::Error::new_spanned(element, usage));
            ok = false;
            continue;
        };
        match REJECTIONS.iter().find(|known| **known == text) {
            Some(known) if named.contains(known) => {
                set.errors.at(
                    span,
                    format!("`retry_on` names \"{text}\" twice; give it once"),
                );
                ok = false;
            }
            Some(known) => named.push(known),
            None => {
                set.errors.at(
                    span,
                    suggest::unknown_value(
                        "retry_on",
                        &text,
                        REJECTIONS,
                        " (the rejections of the policies below; the function's own errors are `retry_if`'s)",
                    ),
                );
                ok = false;
            }
        }
    }
    ok.then_some(named)
}

/// `backoff = "exponential"`: one of the table's strategies.
fn strategy(set: &mut ArgSet<'_>) -> Option<BackoffStrategy> {
    let arg = set.get(BACKOFF.key)?;
    let (text, span) = set.errors.take(arg.string(BACKOFF.example))?;
    let strategy = BackoffStrategy::from_name(&text);
    if strategy.is_none() {
        set.errors.at(
            span,
            suggest::unknown_value(
                "backoff",
                &text,
                BackoffStrategy::NAMES,
                "; for your own schedule use `delays = [..]` or `backoff_fn = path`",
            ),
        );
    }
    strategy
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
    // An empty list is the table's to refuse, with the other checks.
    let mut delays = Vec::with_capacity(elements.len());
    let mut ok = true;
    for element in elements {
        if let Some((text, span)) = lit_str(element) {
            match resilience_settings::parse_duration(&text) {
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
    let arg = set.get(JITTER.key)?;
    if arg.is_flag() {
        return Some(JitterArg::Proportional(retry::DEFAULT_JITTER_FRACTION));
    }
    if let Ok((text, span)) = arg.string("\"full\"") {
        return match JitterStrategy::from_name(&text) {
            Some(JitterStrategy::Full) => Some(JitterArg::Full),
            Some(JitterStrategy::Equal) => Some(JitterArg::Equal),
            Some(JitterStrategy::Decorrelated) => Some(JitterArg::Decorrelated),
            Some(JitterStrategy::Proportional(_)) | None => {
                set.errors.at(
                    span,
                    suggest::unknown_value(
                        "jitter",
                        &text,
                        JitterStrategy::NAMES,
                        ", a fraction like `jitter = 0.1`, or no value (`jitter` alone is ±25%)",
                    ),
                );
                None
            }
        };
    }
    if arg.f64(JITTER.example).is_err() {
        set.errors.push(arg.value_error(
            "`jitter` takes a fraction like `jitter = 0.1`, a strategy \"full\", \"equal\" or \"decorrelated\", or no value (±25%)",
        ));
        return None;
    }
    set.number(&JITTER).map(JitterArg::Proportional)
}
