//! `#[rate_limit(...)]` arguments.

use std::time::Duration;

use super::ArgSet;

pub(crate) const KEYS: &[&str] = &["rate", "per", "per_ms", "burst", "wait", "wait_ms", "name"];

/// Names other libraries use, and ours.
pub(crate) const RENAMED: &[(&str, &str)] = &[
    ("limit", "rate"),
    ("limit_for_period", "rate"),
    ("permits", "rate"),
    ("max_calls", "rate"),
    ("period", "per"),
    ("interval", "per"),
    ("refresh_period", "per"),
    ("limit_refresh_period", "per"),
    ("capacity", "burst"),
    ("max_burst", "burst"),
    ("timeout", "wait"),
    ("timeout_duration", "wait"),
    ("max_wait", "wait"),
];

/// The longest a full bucket may take to refill, as the runtime allows.
const MAX_REFILL: Duration = Duration::from_secs(100 * 365 * 24 * 60 * 60);

/// Validated `#[rate_limit]` settings; `None` means "not given, use the default".
pub(crate) struct RateLimitArgs {
    pub(crate) name: Option<String>,
    pub(crate) rate: u32,
    pub(crate) per: Option<Duration>,
    pub(crate) burst: Option<u32>,
    pub(crate) wait: Option<Duration>,
}

pub(crate) fn parse(set: &mut ArgSet<'_>) -> Option<RateLimitArgs> {
    let name = set.name();
    let rate = set.u32_at_least("rate", 1, "100");
    if set.get("rate").is_none() {
        set.missing(
            &["rate"],
            "`#[rate_limit]` needs `rate`, the calls allowed per period: `#[rate_limit(rate = 100, per = \"1s\")]`",
        );
    }
    let per = set.positive_duration("per", "per_ms");
    let burst = set.u32_at_least("burst", 1, "10");
    let wait = set.duration("wait", "wait_ms");

    let period = per.map_or(Duration::from_secs(1), |(d, _)| d);
    if let Some((rate, span)) = rate {
        if u128::from(rate) > period.as_nanos() {
            set.errors.at(
                span,
                format!("`rate` = {rate} is more than one call per nanosecond of the period ({period:?}); lower it or lengthen `per`"),
            );
        }
        if let Some((burst, burst_span)) = burst {
            let interval = period.as_nanos().div_ceil(u128::from(rate));
            if interval.saturating_mul(u128::from(burst)) > MAX_REFILL.as_nanos() {
                set.errors.at(
                    burst_span,
                    "`burst` × `per` / `rate` must be at most 100 years: the bucket could never refill",
                );
            }
        }
    }
    Some(RateLimitArgs {
        name,
        rate: rate?.0,
        per: per.map(|(d, _)| d),
        burst: burst.map(|(b, _)| b),
        wait: wait.map(|(d, _)| d),
    })
}
