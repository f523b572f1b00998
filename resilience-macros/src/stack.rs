//! Validation of the stack as a whole: combinations of attributes, each valid alone, that cannot
//! do what the user meant. Judged on the values written in the attributes (what a registered
//! policy of the same name may hold instead is known only at run time).

use std::time::Duration;

use proc_macro2::Span;
use syn::ItemFn;

use resilience_settings::circuit_breaker::DEFAULT_RESET_TIMEOUT;
use resilience_settings::retry::{
    DEFAULT_DELAY, DEFAULT_FACTOR, DEFAULT_MAX_ATTEMPTS, DEFAULT_MAX_DELAY,
};

use crate::args::Errors;
use crate::attrs::{
    BackoffArg, FallbackArgs, FallbackFn, JitterArg, PolicyAttr, RetryArgs, Settings,
};

/// `stack` is outermost first; `spans[i]` is where `stack[i]` is written.
pub(crate) fn check(stack: &[PolicyAttr], spans: &[Span], errors: &mut Errors) {
    for (below, layer) in stack.iter().enumerate() {
        let span = spans.get(below).copied().unwrap_or_else(Span::call_site);
        match &layer.settings {
            Settings::Fallback(fallback) if fallback.fallback_if.is_none() => {
                if let Some(above) = stack[..below].iter().find_map(|a| counted_by(&a.settings)) {
                    errors.at(span, hidden_failures(above));
                }
            }
            Settings::Timeout(timeout) => {
                let retry = stack[below + 1..].iter().find_map(|l| match &l.settings {
                    Settings::Retry(retry) => Some(retry),
                    _ => None,
                });
                if let Some(first) = retry.and_then(least_first_delay) {
                    if timeout.duration <= first {
                        errors.at(span, no_second_attempt(timeout.duration, first));
                    }
                }
            }
            Settings::Retry(retry)
                if retry
                    .retry_on
                    .as_ref()
                    .is_some_and(|kinds| kinds.contains(&"circuit_open")) =>
            {
                let reset = stack[below + 1..].iter().find_map(|l| match &l.settings {
                    Settings::CircuitBreaker(breaker) => {
                        Some(breaker.reset_timeout.unwrap_or(DEFAULT_RESET_TIMEOUT))
                    }
                    _ => None,
                });
                if let (Some(reset), Some(schedule)) = (reset, longest_schedule(retry)) {
                    if schedule < reset {
                        errors.at(span, open_circuit_retried_too_soon(schedule, reset));
                    }
                }
            }
            _ => {}
        }
    }
}

fn open_circuit_retried_too_soon(schedule: Duration, reset: Duration) -> String {
    format!(
        "`#[retry]` retries an open circuit (`retry_on` has \"circuit_open\"), but its whole \
         schedule ({schedule:?} at most) ends before the breaker below lets a probe through \
         (its `reset_timeout`, {reset:?}): every retry of an open circuit would be rejected \
         again; lengthen the schedule (`max_attempts`, `delay`), shorten the breaker's \
         `reset_timeout`, or drop \"circuit_open\" from `retry_on`"
    )
}

/// The longest the retry can sleep in all, over every retry its `max_attempts` allows, when the
/// attribute fixes it; `None` when a function of the user's computes the delays.
fn longest_schedule(retry: &RetryArgs) -> Option<Duration> {
    let retries = retry
        .max_attempts
        .unwrap_or(DEFAULT_MAX_ATTEMPTS)
        .saturating_sub(1);
    let cap = retry.max_delay.unwrap_or(DEFAULT_MAX_DELAY);
    let default = BackoffArg::Exponential {
        base: DEFAULT_DELAY,
        factor: DEFAULT_FACTOR,
    };
    let backoff = retry.backoff.as_ref().unwrap_or(&default);
    if retries > 10_000 {
        // Too many to add up at compile time; such a schedule outlasts any breaker anyway.
        return None;
    }
    let mut total = Duration::ZERO;
    for n in 1..=retries {
        let delay = match backoff {
            BackoffArg::Exponential { base, factor } => {
                let exponent = i32::try_from(n - 1).unwrap_or(i32::MAX);
                Duration::try_from_secs_f64(base.as_secs_f64() * factor.powi(exponent))
                    .unwrap_or(Duration::MAX)
            }
            BackoffArg::Fixed(delay) => *delay,
            BackoffArg::Linear(base) => base.saturating_mul(n),
            BackoffArg::None => Duration::ZERO,
            BackoffArg::Schedule(delays) => {
                let index = usize::try_from(n - 1).unwrap_or(usize::MAX);
                *delays.get(index).or(delays.last())?
            }
            BackoffArg::Custom(_) => return None,
        };
        let delay = match &retry.jitter {
            Some(JitterArg::Proportional(fraction)) => {
                Duration::try_from_secs_f64(delay.as_secs_f64() * (1.0 + fraction))
                    .unwrap_or(Duration::MAX)
            }
            Some(JitterArg::Decorrelated) => cap,
            _ => delay,
        };
        total = total.saturating_add(delay.min(cap));
    }
    Some(retry.max_elapsed.map_or(total, |limit| total.min(limit)))
}

/// The attribute above a fallback that needs to see the failures the fallback would answer.
fn counted_by(settings: &Settings) -> Option<&'static str> {
    match settings {
        Settings::CircuitBreaker(_) => Some("circuit_breaker"),
        Settings::Retry(_) => Some("retry"),
        _ => None,
    }
}

fn hidden_failures(above: &'static str) -> String {
    let consequence = if above == "retry" {
        "so the retry never retries"
    } else {
        "so the breaker never opens"
    };
    format!(
        "`#[fallback]` without `fallback_if` answers every failure before `#[{above}]` above it \
         sees one, {consequence}; write `#[fallback]` above `#[{above}]` (it then answers what \
         is left once `#[{above}]` is done), or give it `fallback_if = path` so that the \
         failures `#[{above}]` must see go through"
    )
}

fn no_second_attempt(timeout: Duration, first: Duration) -> String {
    format!(
        "`#[timeout]` above `#[retry]` bounds all attempts together, and {timeout:?} is no \
         longer than the retry's first delay ({first:?}): no second attempt can ever start; \
         lengthen the timeout, shorten the delay, or write `#[timeout]` below `#[retry]` to \
         bound each attempt"
    )
}

/// The shortest sleep the retry can take before its second attempt, when the attribute fixes
/// it; `None` when there is no second attempt or its delay is the user's function's.
fn least_first_delay(retry: &RetryArgs) -> Option<Duration> {
    if retry.max_attempts == Some(1) {
        return None;
    }
    let first = match &retry.backoff {
        None => DEFAULT_DELAY,
        Some(BackoffArg::Exponential { base, .. }) => *base,
        Some(BackoffArg::Fixed(delay) | BackoffArg::Linear(delay)) => *delay,
        Some(BackoffArg::Schedule(delays)) => *delays.first()?,
        Some(BackoffArg::None | BackoffArg::Custom(_)) => return None,
    };
    let first = retry.max_delay.map_or(first, |cap| first.min(cap));
    let least = match &retry.jitter {
        None | Some(JitterArg::Decorrelated) => first,
        Some(JitterArg::Proportional(fraction)) => first.mul_f64((1.0 - fraction).max(0.0)),
        Some(JitterArg::Equal) => first / 2,
        Some(JitterArg::Full) => Duration::ZERO,
    };
    (!least.is_zero()).then_some(least)
}

/// `#[fallback(self.method)]` calls a method of the receiver: the function must have one.
pub(crate) fn check_method_fallback(function: &ItemFn, stack: &[PolicyAttr], errors: &mut Errors) {
    if function.sig.receiver().is_some() {
        return;
    }
    for layer in stack {
        if let Settings::Fallback(FallbackArgs {
            function: FallbackFn::Method { receiver, .. },
            ..
        }) = &layer.settings
        {
            errors.at(
                receiver.span,
                "`#[fallback(self.method)]` calls a method of `self`, and this function takes no `self`; name the fallback by its path instead: `#[fallback(Self::method)]` or `#[fallback(function)]`",
            );
        }
    }
}

/// The stack's attributes that say `crate = ".."` must agree: the expansion reaches one runtime.
pub(crate) fn check_one_crate(stack: &[PolicyAttr], spans: &[Span], errors: &mut Errors) {
    let mut given = stack.iter().zip(spans).filter_map(|(layer, span)| {
        layer
            .krate
            .as_ref()
            .map(|krate| (crate::item::path_segments(krate), span))
    });
    let Some((first, _)) = given.next() else {
        return;
    };
    for (other, span) in given {
        if other != first {
            errors.at(
                *span,
                format!(
                    "the attributes of one stack reach one runtime crate, but this one says `crate = \"{}\"` and an attribute above it `crate = \"{}\"`; give `crate` once, on the top attribute",
                    other.join("::"),
                    first.join("::")
                ),
            );
        }
    }
}
