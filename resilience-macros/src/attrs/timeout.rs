//! `#[timeout(...)]` arguments.

use std::time::Duration;

use proc_macro2::Span;

use super::ArgSet;
use crate::args::Arg;

const KEYS: &[&str] = &["ms", "secs", "duration", "name"];

/// Validated `#[timeout]` settings.
pub(crate) struct TimeoutArgs {
    pub(crate) name: Option<String>,
    pub(crate) duration: Duration,
}

pub(crate) fn parse(args: &[Arg], span: Span) -> syn::Result<TimeoutArgs> {
    let mut set = ArgSet::new("timeout", args, KEYS);
    let name = set.name();
    let given: Vec<&Arg> = ["ms", "secs", "duration"]
        .iter()
        .filter_map(|key| set.get(key))
        .collect();
    let mut duration = None;
    match given.as_slice() {
        [] => set.missing(
            span,
            "`#[timeout]` needs a duration: `#[timeout(ms = 5000)]`, `#[timeout(secs = 5)]` or `#[timeout(duration = \"5s\")]`",
        ),
        [arg] => {
            let parsed = match arg.name().as_str() {
                "ms" => set
                    .errors
                    .take(arg.u64("5000"))
                    .map(|(ms, span)| (Duration::from_millis(ms), span)),
                "secs" => set
                    .errors
                    .take(arg.u64("5"))
                    .map(|(secs, span)| (Duration::from_secs(secs), span)),
                _ => set.errors.take(arg.duration()),
            };
            if let Some((value, value_span)) = parsed {
                if value.is_zero() {
                    set.errors
                        .at(value_span, "a timeout of zero would fail every call; give a positive duration");
                } else {
                    duration = Some(value);
                }
            }
        }
        [first, rest @ ..] => {
            for arg in rest {
                set.errors.at(
                    arg.key.span(),
                    format!(
                        "`#[timeout]` takes exactly one of `ms`, `secs`, `duration`; `{}` is already given",
                        first.key
                    ),
                );
            }
        }
    }
    set.finish(())?;
    match duration {
        Some(duration) => Ok(TimeoutArgs { name, duration }),
        None => Err(syn::Error::new(span, "`#[timeout]` needs a duration")),
    }
}
