//! `#[rate_limit]`: keys, defaults and checks.

use std::time::Duration;

use crate::spec::{ANY_DURATION, LONGER_THAN_ZERO};
use crate::{collect, count_from_one, first, KeySpec, Problem, Rule, ValueKind, NAME};

/// The period `rate` counts over when `per` is not given.
pub const DEFAULT_PER: Duration = Duration::from_secs(1);
/// The longest a caller waits for a cell when `wait` is not given: not at all.
pub const DEFAULT_WAIT: Duration = Duration::ZERO;
/// The longest a full bucket may take to refill (`burst × per / rate`): 100 years as a duration
/// string counts them (`"100y"`, 365.25 days each). It keeps the limiter's nanosecond
/// arithmetic far from `u64`'s limit (584 years) for any realistic uptime.
pub const MAX_REFILL: Duration = Duration::from_secs(100 * 31_557_600);

/// `rate = 100`.
pub const RATE: KeySpec = count_from_one("rate", "required", "100", "the calls allowed per period");
/// `per = "1s"`.
pub const PER: KeySpec = KeySpec::new(
    "per",
    ValueKind::Duration { positive: true },
    LONGER_THAN_ZERO,
    "1s",
    "\"1s\"",
    "the period `rate` counts over",
);
/// `per_ms = 1000`.
pub const PER_MS: KeySpec = PER.in_milliseconds("per_ms", "1000");
/// `burst = 10`.
pub const BURST: KeySpec = count_from_one(
    "burst",
    "`rate`",
    "10",
    "calls allowed at once after a quiet spell",
);
/// `wait = "500ms"`.
pub const WAIT: KeySpec = KeySpec::new(
    "wait",
    ValueKind::Duration { positive: false },
    ANY_DURATION,
    "zero (reject at once)",
    "\"500ms\"",
    "the longest a caller waits for a cell before it is rejected",
);
/// `wait_ms = 500`.
pub const WAIT_MS: KeySpec = WAIT.in_milliseconds("wait_ms", "500");

/// `shared` or `shared = true`.
pub const SHARED: KeySpec =
    crate::shared("the limit holds across instances through the registry's store");

/// The most keys a keyed limiter holds when `max_keys` is not given.
pub const DEFAULT_MAX_KEYS: u32 = crate::DEFAULT_MAX_KEYS;
/// `key_idle = "10m"`: how long a keyed limiter keeps a key whose bucket is full.
pub const KEY_IDLE: KeySpec = crate::key_idle(
    "three periods (`3 × per`), at least the time a bucket takes to refill",
    "how long a keyed limiter keeps a key whose bucket has been full",
);
/// `key_idle_ms = 600000`.
pub const KEY_IDLE_MS: KeySpec = KEY_IDLE.in_milliseconds("key_idle_ms", "600000");
/// `max_keys = 100000`.
pub const MAX_KEYS: KeySpec = crate::max_keys("the most keys a keyed limiter holds at once");

/// Every `#[rate_limit]` key, in the order messages list them.
pub const KEYS: &[KeySpec] = &[
    RATE,
    PER,
    PER_MS,
    BURST,
    WAIT,
    WAIT_MS,
    KEY_IDLE,
    KEY_IDLE_MS,
    MAX_KEYS,
    SHARED,
    NAME,
];

/// Names other libraries use, and ours.
pub const RENAMED: &[(&str, &str)] = &[
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

/// The time between two cells, `per / rate` in nanoseconds, rounded up so that a limiter never
/// admits more than `rate` per `per`.
///
/// ```
/// use resilience_settings::rate_limit::interval_nanos;
/// use std::time::Duration;
///
/// assert_eq!(interval_nanos(Duration::from_secs(1), 3), 333_333_334);
/// ```
pub fn interval_nanos(per: Duration, rate: u32) -> u128 {
    per.as_nanos().div_ceil(u128::from(rate.max(1)))
}

/// `#[rate_limit]`'s settings as plain values, by key; `None` means not given.
///
/// ```
/// use resilience_settings::rate_limit::{RateLimitSettings, Resolved};
/// use std::time::Duration;
///
/// let settings = RateLimitSettings { rate: Some(100), ..RateLimitSettings::default() };
/// assert_eq!(
///     settings.resolve(),
///     Ok(Resolved { rate: 100, per: Duration::from_secs(1), burst: 100, wait: Duration::ZERO }),
/// );
/// let too_fast = RateLimitSettings { rate: Some(2000), per: Some(Duration::from_micros(1)), ..settings };
/// assert_eq!(too_fast.check().unwrap_err().key(), "rate");
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RateLimitSettings {
    /// `rate`: required.
    pub rate: Option<u32>,
    /// `per` / `per_ms`.
    pub per: Option<Duration>,
    /// `burst`.
    pub burst: Option<u32>,
    /// `wait` / `wait_ms`.
    pub wait: Option<Duration>,
    /// `shared`: whether the limit holds across instances through the registry's store. Any
    /// value is valid.
    pub shared: Option<bool>,
}

/// A rate limiter's checked settings, defaults filled in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resolved {
    /// Cells per `per`.
    pub rate: u32,
    /// The period.
    pub per: Duration,
    /// Cells at once.
    pub burst: u32,
    /// The longest wait for a cell.
    pub wait: Duration,
}

impl RateLimitSettings {
    /// The settings given, by name.
    pub fn given(&self) -> Vec<&'static str> {
        [
            (self.rate.is_some(), &RATE),
            (self.per.is_some(), &PER),
            (self.burst.is_some(), &BURST),
            (self.wait.is_some(), &WAIT),
            (self.shared.is_some(), &SHARED),
        ]
        .into_iter()
        .filter_map(|(given, spec)| given.then_some(spec.setting))
        .collect()
    }

    /// Every problem of these settings, in the order of the keys; empty when they are valid.
    pub fn problems(&self) -> Vec<Problem> {
        let mut problems = Vec::new();
        let rate = match self.rate {
            Some(rate) => collect(&mut problems, RATE.check_count(rate.into())),
            None => {
                problems.push(Problem::new(&RATE, "not set".to_owned(), Rule::Required));
                None
            }
        };
        let per = match self.per {
            Some(per) => collect(&mut problems, PER.check_duration(per)),
            None => Some(DEFAULT_PER),
        };
        let burst = match self.burst {
            Some(burst) => collect(&mut problems, BURST.check_count(burst.into())),
            None => rate,
        };
        if let Some(wait) = self.wait {
            collect(&mut problems, WAIT.check_duration(wait));
        }
        let (Some(rate), Some(per), Some(burst)) = (rate, per, burst) else {
            return problems;
        };
        if u128::from(rate) > per.as_nanos() {
            problems.push(Problem::new(
                &RATE,
                rate.to_string(),
                Rule::FasterThanNanoseconds { per },
            ));
        } else if interval_nanos(per, rate).saturating_mul(u128::from(burst))
            > MAX_REFILL.as_nanos()
        {
            // Blamed on what was written: `burst`, else the period that makes the refill long.
            let (spec, value) = if let Some(burst) = self.burst {
                (&BURST, burst.to_string())
            } else if self.per.is_some() {
                (&PER, format!("{per:?}"))
            } else {
                (&RATE, rate.to_string())
            };
            problems.push(Problem::new(
                spec,
                value,
                Rule::RefillTooLong {
                    rate,
                    per,
                    burst,
                    burst_given: self.burst.is_some(),
                },
            ));
        }
        problems
    }

    /// The first problem, if any: what a builder reports.
    pub fn check(&self) -> Result<(), Problem> {
        first(self.problems())
    }

    /// The checked settings with their defaults (`burst` defaults to `rate`).
    pub fn resolve(&self) -> Result<Resolved, Problem> {
        self.check()?;
        match self.rate {
            Some(rate) => Ok(Resolved {
                rate,
                per: self.per.unwrap_or(DEFAULT_PER),
                burst: self.burst.unwrap_or(rate),
                wait: self.wait.unwrap_or(DEFAULT_WAIT),
            }),
            // `check` refuses a missing `rate`; kept total rather than unwrapped.
            None => Err(Problem::new(&RATE, "not set".to_owned(), Rule::Required)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const YEAR: Duration = Duration::from_secs(31_557_600);

    fn settings(rate: u32, per: Duration, burst: Option<u32>) -> RateLimitSettings {
        RateLimitSettings {
            rate: Some(rate),
            per: Some(per),
            burst,
            wait: None,
            shared: None,
        }
    }

    #[test]
    fn a_default_burst_is_checked_like_a_given_one() {
        // The case that once compiled and then failed to build: `burst` defaults to `rate`.
        let problem = settings(1, 150 * YEAR, None).check().unwrap_err();
        assert_eq!(problem.key(), "per");
        assert!(matches!(
            problem.rule(),
            Rule::RefillTooLong {
                burst: 1,
                burst_given: false,
                ..
            }
        ));
        assert!(settings(1, 100 * YEAR, None).check().is_ok());
        assert_eq!(
            settings(1, YEAR, Some(101)).check().unwrap_err().key(),
            "burst"
        );
        assert!(settings(1, YEAR, Some(100)).check().is_ok());
        assert!(settings(1, Duration::MAX, None).check().is_err());
        assert!(settings(u32::MAX, Duration::MAX, None).check().is_err());
    }

    #[test]
    fn at_most_one_call_per_nanosecond() {
        assert!(settings(1000, Duration::from_micros(1), None)
            .check()
            .is_ok());
        let problem = settings(1001, Duration::from_micros(1), None)
            .check()
            .unwrap_err();
        assert_eq!((problem.key(), problem.value()), ("rate", "1001"));
        // The default period is one second.
        let fast = RateLimitSettings {
            rate: Some(u32::MAX),
            ..RateLimitSettings::default()
        };
        assert!(fast.check().is_err());
    }

    #[test]
    fn rate_is_required() {
        let problem = RateLimitSettings::default().check().unwrap_err();
        assert_eq!((problem.key(), problem.rule()), ("rate", &Rule::Required));
    }
}
