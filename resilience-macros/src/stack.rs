//! Validation of the stack as a whole: combinations of attributes, each valid alone, that cannot
//! do what the user meant. Judged on the values written in the attributes (what a registered
//! policy of the same name may hold instead is known only at run time).

use std::time::Duration;

use proc_macro2::Span;

use crate::args::Errors;
use crate::attrs::{BackoffArg, JitterArg, PolicyAttr, RetryArgs, Settings};

/// The default first delay of a retry, as `resilience::Retry` has it.
const DEFAULT_DELAY: Duration = Duration::from_millis(100);

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
            _ => {}
        }
    }
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
