//! `#[timeout(...)]` arguments.

use std::time::Duration;

use super::ArgSet;

pub(crate) const KEYS: &[&str] = &["ms", "secs", "duration", "name"];

/// Names other libraries use, and ours.
pub(crate) const RENAMED: &[(&str, &str)] = &[
    ("millis", "ms"),
    ("milliseconds", "ms"),
    ("duration_ms", "ms"),
    ("timeout_ms", "ms"),
    ("seconds", "secs"),
    ("s", "secs"),
    ("sec", "secs"),
    ("after", "duration"),
    ("timeout", "duration"),
];

/// Validated `#[timeout]` settings.
pub(crate) struct TimeoutArgs {
    pub(crate) name: Option<String>,
    pub(crate) duration: Duration,
}

const FORMS: &str =
    "`#[timeout(ms = 5000)]`, `#[timeout(secs = 5)]` or `#[timeout(duration = \"5s\")]`";

pub(crate) fn parse(set: &mut ArgSet<'_>) -> Option<TimeoutArgs> {
    let name = set.name();
    let duration = match set.given(&["ms", "secs", "duration"]).as_slice() {
        [] => {
            set.missing(
                &["ms", "secs", "duration"],
                format!("`#[timeout]` needs a duration: {FORMS}"),
            );
            None
        }
        [arg] => {
            let parsed = match arg.name().as_str() {
                "ms" => set
                    .errors
                    .take(arg.u64_from(0, "5000"))
                    .map(|(ms, span)| (Duration::from_millis(ms), span)),
                "secs" => set
                    .errors
                    .take(arg.u64_from(0, "5"))
                    .map(|(secs, span)| (Duration::from_secs(secs), span)),
                _ => set.errors.take(arg.duration()),
            };
            match parsed {
                Some((value, span)) if value.is_zero() => {
                    set.errors.at(
                        span,
                        format!("a timeout of zero would fail every call; give a positive duration: {FORMS}"),
                    );
                    None
                }
                other => other.map(|(value, _)| value),
            }
        }
        [first, rest @ ..] => {
            for arg in rest {
                set.errors.at(
                    arg.key.span(),
                    format!(
                        "`#[timeout]`: `{}` cannot be combined with `{}`; give exactly one of `ms`, `secs` or `duration`",
                        arg.key, first.key
                    ),
                );
            }
            None
        }
    };
    Some(TimeoutArgs {
        name,
        duration: duration?,
    })
}
