//! `#[timeout(...)]` arguments: exactly one of `ms`, `secs` or `duration`.

use std::time::Duration;

use resilience_settings::timeout::{TimeoutSettings, DURATION};

use super::ArgSet;

/// Validated `#[timeout]` settings.
pub(crate) struct TimeoutArgs {
    pub(crate) name: Option<super::PolicyName>,
    pub(crate) duration: Duration,
}

pub(crate) fn parse(set: &mut ArgSet<'_>) -> Option<TimeoutArgs> {
    let name = set.name();
    let spellings: Vec<&str> = set.spellings(DURATION.setting);
    let duration = match set.given(&spellings).as_slice() {
        [first, rest @ ..] if !rest.is_empty() => {
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
        _ => set.duration(&DURATION),
    };
    let settings = TimeoutSettings { duration };
    set.report(settings.problems(), &settings.given());
    Some(TimeoutArgs {
        name,
        duration: duration?,
    })
}
