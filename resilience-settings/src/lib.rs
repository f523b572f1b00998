//! The settings of the [`resilience`](https://docs.rs/resilience) policies, in one table that
//! the attribute macros (at compile time) and the runtime builders (at run time) both read, so
//! that the two can never disagree about what a setting allows.
//!
//! For each attribute it holds every key (and its alternative spellings, such as `delay_ms`),
//! the kind of value it takes, its range in words, its default, an example, the keys it excludes,
//! and the names other libraries give it ([`Attribute::renamed`]). And it holds the checks
//! themselves, as plain functions over plain values: per key ([`KeySpec::check_count`],
//! [`KeySpec::check_number`], [`KeySpec::check_duration`]) and across keys (the `problems` and
//! `check` methods of [`retry::RetrySettings`], [`circuit_breaker::BreakerSettings`],
//! [`timeout::TimeoutSettings`], [`bulkhead::BulkheadSettings`] and
//! [`rate_limit::RateLimitSettings`]). A refused setting comes back as a [`Problem`] naming the
//! key and what it allows.
//!
//! ```
//! use resilience_settings::rate_limit::RateLimitSettings;
//! use std::time::Duration;
//!
//! // One call every 150 years: a full bucket would take longer than 100 years to refill.
//! let settings = RateLimitSettings {
//!     rate: Some(1),
//!     per: Some(Duration::from_secs(150 * 365 * 24 * 60 * 60)),
//!     ..RateLimitSettings::default()
//! };
//! let problem = settings.check().unwrap_err();
//! assert_eq!(problem.key(), "per");
//! assert_eq!(problem.allowed(), "`burst` × `per` / `rate` at most 100 years");
//! ```
//!
//! Most users want the `resilience` crate; this one has no `unsafe`, and depends only on
//! `humantime` (durations) and `strsim` (did-you-mean).
#![forbid(unsafe_code)]
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

pub mod bulkhead;
pub mod chaos;
pub mod circuit_breaker;
pub mod fallback;
pub mod hedge;
mod problem;
pub mod rate_limit;
pub mod retry;
pub mod retry_budget;
mod spec;
mod text;
pub mod timeout;

pub use problem::{Problem, Rule};
pub use spec::{Exclusion, KeySpec, NumberRange, ValueKind};
pub use text::{closest, parse_duration};

use spec::FROM_ONE;

/// The attributes, each with its keys: what a `#[retry(...)]` or a `[retry.<name>]` section
/// may say.
///
/// ```
/// use resilience_settings::Attribute;
///
/// let keys: Vec<_> = Attribute::Timeout.keys().iter().map(|spec| spec.key).collect();
/// assert_eq!(keys, ["ms", "secs", "duration", "name"]);
/// assert_eq!(Attribute::Retry.key("retries"), None);
/// assert!(Attribute::Retry.renamed().contains(&("retries", "max_attempts")));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Attribute {
    /// `#[retry]`.
    Retry,
    /// `#[circuit_breaker]`.
    CircuitBreaker,
    /// `#[timeout]`.
    Timeout,
    /// `#[bulkhead]`.
    Bulkhead,
    /// `#[rate_limit]`.
    RateLimit,
    /// `#[fallback]`.
    Fallback,
    /// `#[hedge]`.
    Hedge,
    /// `#[chaos]`.
    Chaos,
    /// A retry budget: no attribute of its own (`#[retry(budget = "api")]` names one), but
    /// keys all the same, for `RetryBudget::builder` and the file's `[retry_budget.NAME]`.
    /// Not in [`ALL`](Self::ALL), which lists the attribute macros.
    RetryBudget,
}

impl Attribute {
    /// Every attribute macro's settings.
    pub const ALL: [Attribute; 8] = [
        Attribute::Retry,
        Attribute::CircuitBreaker,
        Attribute::Timeout,
        Attribute::Bulkhead,
        Attribute::RateLimit,
        Attribute::Fallback,
        Attribute::Hedge,
        Attribute::Chaos,
    ];

    /// The attribute's name: `"retry"`, `"circuit_breaker"`, `"timeout"`, `"bulkhead"`,
    /// `"rate_limit"`, `"fallback"`, `"hedge"`, `"chaos"`, and `"retry_budget"` for the
    /// budget's section.
    pub const fn name(self) -> &'static str {
        match self {
            Attribute::Retry => "retry",
            Attribute::CircuitBreaker => "circuit_breaker",
            Attribute::Timeout => "timeout",
            Attribute::Bulkhead => "bulkhead",
            Attribute::RateLimit => "rate_limit",
            Attribute::Fallback => "fallback",
            Attribute::Hedge => "hedge",
            Attribute::Chaos => "chaos",
            Attribute::RetryBudget => "retry_budget",
        }
    }

    /// Every key, alternative spellings included, in the order messages list them.
    pub fn keys(self) -> &'static [KeySpec] {
        match self {
            Attribute::Retry => retry::KEYS,
            Attribute::CircuitBreaker => circuit_breaker::KEYS,
            Attribute::Timeout => timeout::KEYS,
            Attribute::Bulkhead => bulkhead::KEYS,
            Attribute::RateLimit => rate_limit::KEYS,
            Attribute::Fallback => fallback::KEYS,
            Attribute::Hedge => hedge::KEYS,
            Attribute::Chaos => chaos::KEYS,
            Attribute::RetryBudget => retry_budget::KEYS,
        }
    }

    /// The key spelled `key`, if the attribute has one.
    pub fn key(self, key: &str) -> Option<&'static KeySpec> {
        self.keys().iter().find(|spec| spec.key == key)
    }

    /// The spellings of `setting`: `delay` and `delay_ms` for `delay`.
    pub fn spellings(self, setting: &str) -> impl Iterator<Item = &'static KeySpec> + '_ {
        self.keys()
            .iter()
            .filter(move |spec| spec.setting == setting)
    }

    /// Names other libraries give the attribute's keys, each with ours: `("retries",
    /// "max_attempts")`.
    pub fn renamed(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Attribute::Retry => retry::RENAMED,
            Attribute::CircuitBreaker => circuit_breaker::RENAMED,
            Attribute::Timeout => timeout::RENAMED,
            Attribute::Bulkhead => bulkhead::RENAMED,
            Attribute::RateLimit => rate_limit::RENAMED,
            Attribute::Fallback => fallback::RENAMED,
            Attribute::Hedge => hedge::RENAMED,
            Attribute::Chaos => chaos::RENAMED,
            Attribute::RetryBudget => retry_budget::RENAMED,
        }
    }

    /// The pairs of settings that exclude each other. Two spellings of one setting always
    /// exclude each other too.
    pub fn exclusions(self) -> &'static [Exclusion] {
        match self {
            Attribute::Retry => retry::EXCLUSIONS,
            Attribute::CircuitBreaker => circuit_breaker::EXCLUSIONS,
            Attribute::Timeout
            | Attribute::Bulkhead
            | Attribute::RateLimit
            | Attribute::Fallback
            | Attribute::Hedge
            | Attribute::Chaos
            | Attribute::RetryBudget => &[],
        }
    }
}

/// `name = "api"`: the policy's registry name; every attribute has it.
pub const NAME: KeySpec = KeySpec::new(
    "name",
    ValueKind::Name,
    "a non-blank string",
    "`module_path::fn_name`",
    "\"api\"",
    "the policy's name in the registry",
)
.because(" (it is the policy's name in the registry)");

/// Checks a policy's name: not empty, not only whitespace.
///
/// ```
/// use resilience_settings::check_name;
///
/// assert!(check_name("inventory").is_ok());
/// assert_eq!(check_name("  ").unwrap_err().key(), "name");
/// ```
pub fn check_name(name: &str) -> Result<(), Problem> {
    if name.trim().is_empty() {
        Err(Problem::new(&NAME, format!("{name:?}"), Rule::Range))
    } else {
        Ok(())
    }
}

/// A count from 1: most counts are.
const fn count_from_one(
    key: &'static str,
    default: &'static str,
    example: &'static str,
    doc: &'static str,
) -> KeySpec {
    KeySpec::new(
        key,
        ValueKind::Count { min: 1 },
        FROM_ONE,
        default,
        example,
        doc,
    )
}

/// The most keys a keyed policy holds when `max_keys` is not given.
const DEFAULT_MAX_KEYS: u32 = 100_000;

/// `key_idle = "10m"`: how long a keyed policy keeps an idle key; `default` and `doc` say
/// what idle means for the policy.
const fn key_idle(default: &'static str, doc: &'static str) -> KeySpec {
    KeySpec::new(
        "key_idle",
        ValueKind::Duration { positive: true },
        spec::LONGER_THAN_ZERO,
        default,
        "\"10m\"",
        doc,
    )
}

/// `max_keys = 100000`: the most keys a keyed policy holds at once.
const fn max_keys(doc: &'static str) -> KeySpec {
    count_from_one("max_keys", "100000", "10000", doc)
}

/// `shared` or `shared = true`: the policy's state held across instances.
const fn shared(doc: &'static str) -> KeySpec {
    KeySpec::new(
        "shared",
        ValueKind::Flag,
        "`true` or `false`",
        "false",
        "true",
        doc,
    )
    .because(" (in an attribute, `shared` alone means `true`)")
}

/// A path to a function.
const fn path(
    key: &'static str,
    default: &'static str,
    example: &'static str,
    doc: &'static str,
) -> KeySpec {
    KeySpec::new(
        key,
        ValueKind::Path,
        "a path to a function",
        default,
        example,
        doc,
    )
}

/// The first problem of a list, as a `check` returns it.
fn first(problems: Vec<Problem>) -> Result<(), Problem> {
    match problems.into_iter().next() {
        Some(problem) => Err(problem),
        None => Ok(()),
    }
}

/// Collects the problem of a per-key check.
fn collect<T>(problems: &mut Vec<Problem>, checked: Result<T, Problem>) -> Option<T> {
    match checked {
        Ok(value) => Some(value),
        Err(problem) => {
            problems.push(problem);
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every attribute's keys are unique, every alternative spelling names a setting that is a
    /// key of its own, every exclusion names keys of the attribute, and every renamed key points
    /// at a key: the table is consistent with itself.
    #[test]
    fn the_table_is_consistent() {
        for attribute in Attribute::ALL.into_iter().chain([Attribute::RetryBudget]) {
            let keys = attribute.keys();
            for (i, spec) in keys.iter().enumerate() {
                assert!(
                    keys[..i].iter().all(|other| other.key != spec.key),
                    "{} repeats `{}`",
                    attribute.name(),
                    spec.key
                );
                assert!(
                    attribute.key(spec.setting).is_some(),
                    "`{}` gives `{}`, which is not a key",
                    spec.key,
                    spec.setting
                );
                assert!(!spec.example.is_empty() && !spec.allowed.is_empty());
                assert!(spec.why.is_empty() || spec.why.starts_with(' '));
            }
            for exclusion in attribute.exclusions() {
                assert!(attribute.key(exclusion.first.key).is_some());
                assert!(attribute.key(exclusion.second.key).is_some());
            }
            for (theirs, ours) in attribute.renamed() {
                assert!(attribute.key(ours).is_some(), "{theirs} -> {ours}");
                assert!(attribute.key(theirs).is_none(), "{theirs} is one of ours");
            }
        }
    }

    #[test]
    fn a_blank_name_is_refused() {
        for name in ["", " ", "\t\n"] {
            let problem = check_name(name).unwrap_err();
            assert_eq!(problem.key(), "name");
            assert_eq!(problem.rule(), &Rule::Range);
        }
        assert!(check_name("a").is_ok());
    }
}
