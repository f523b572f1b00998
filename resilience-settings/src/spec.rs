//! What a key is: its spelling, the setting it gives, the value it takes, its range, its default,
//! and the checks of a single value against that range.

use std::time::Duration;

use crate::problem::{Problem, Rule};

/// One key of an attribute, as `#[retry(max_attempts = 3)]` writes it and as a configuration
/// file's section will.
///
/// A setting may have several spellings: `delay = "100ms"` and `delay_ms = 100` both give the
/// setting `delay`, and `#[timeout]`'s `ms`, `secs` and `duration` all give `duration`. Each
/// spelling has its own `KeySpec` (its own value kind and example); `setting` ties them together.
///
/// ```
/// use resilience_settings::{retry, ValueKind};
///
/// assert_eq!(retry::MAX_ATTEMPTS.key, "max_attempts");
/// assert_eq!(retry::MAX_ATTEMPTS.value, ValueKind::Count { min: 1 });
/// assert_eq!(retry::DELAY_MS.setting, "delay");
/// assert_eq!(retry::DELAY_MS.value, ValueKind::Milliseconds { positive: false });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeySpec {
    /// The key as written: `"max_attempts"`, `"delay_ms"`.
    pub key: &'static str,
    /// The setting the key gives: the key itself, or for an alternative spelling the key it
    /// stands for (`"delay"` for `delay_ms`). Problems name settings.
    pub setting: &'static str,
    /// The kind of value the key takes.
    pub value: ValueKind,
    /// The values allowed, in words that read after "must be": `"longer than zero"`.
    pub allowed: &'static str,
    /// Why the range is what it is, to follow `allowed` in a message (empty, or starting with
    /// a space): `" (each delay is this multiple of the one before)"`.
    pub why: &'static str,
    /// The default in words: `"3"`, `"100ms"`, `"the \`reset_timeout\`"`, `"required"`.
    pub default: &'static str,
    /// A value as it is written after `key = `, for messages: `"3"`, `"\"100ms\""`.
    pub example: &'static str,
    /// What the setting means, in a few words that read after the key's name.
    pub doc: &'static str,
}

/// The kind of value a key takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ValueKind {
    /// A whole number from `min` to `u32::MAX`.
    Count {
        /// The least value allowed.
        min: u32,
    },
    /// A number with a fraction, in `range`.
    Number(NumberRange),
    /// A duration in human form: `"250ms"`, `"5s"`, `"1m30s"`.
    Duration {
        /// Whether zero is refused.
        positive: bool,
    },
    /// A duration as a whole number of milliseconds (`delay_ms = 250`, `#[timeout(ms = 250)]`).
    Milliseconds {
        /// Whether zero is refused.
        positive: bool,
    },
    /// A duration as a whole number of seconds (`#[timeout(secs = 5)]`).
    Seconds {
        /// Whether zero is refused.
        positive: bool,
    },
    /// The policy's registry name: a string that is not blank.
    Name,
    /// One of these strings.
    Choice(&'static [&'static str]),
    /// A path to a function: `retry_if = is_transient`.
    Path,
    /// A list of durations, at least one: `delays = ["100ms", "1s"]`.
    Durations,
    /// A list of these strings, each at most once, possibly empty: `retry_on = ["timeout"]`.
    Choices(&'static [&'static str]),
    /// A whole number from 1 (a count of calls) or a duration longer than zero.
    CountOrDuration,
    /// No value (a flag), a fraction in (0, 1], or one of these strategy names.
    Jitter(&'static [&'static str]),
    /// On or off: in an attribute the bare key (`critical`, on) or `key = true` / `key = false`;
    /// in a file a boolean (`critical = true`).
    Flag,
    /// The name of another policy this one uses (`budget = "api"`): a string that is not blank.
    Reference,
}

/// The range of a [`ValueKind::Number`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum NumberRange {
    /// Finite and greater than 1.0.
    GreaterThanOne,
    /// `0 < f ≤ 1`.
    Fraction,
    /// `0 ≤ p ≤ 1`: a probability, where zero means never.
    Probability,
    /// `0 ≤ r ≤ 1000`: a ratio of one count to another (a retry budget's retries per call).
    Ratio,
}

impl NumberRange {
    /// Whether `value` lies in the range; NaN never does.
    pub fn contains(self, value: f64) -> bool {
        match self {
            // Written so that NaN fails both.
            NumberRange::GreaterThanOne => value.is_finite() && value > 1.0,
            NumberRange::Fraction => value > 0.0 && value <= 1.0,
            NumberRange::Probability => (0.0..=1.0).contains(&value),
            NumberRange::Ratio => (0.0..=1000.0).contains(&value),
        }
    }
}

/// The `allowed` text of a count from 1.
pub(crate) const FROM_ONE: &str = "a whole number from 1 to 4294967295";
/// The `allowed` text of a fraction.
pub(crate) const FRACTION: &str = "a fraction f with 0 < f ≤ 1";
/// The `allowed` text of a positive duration.
pub(crate) const LONGER_THAN_ZERO: &str = "longer than zero";
/// The `allowed` text of a duration that may be zero.
pub(crate) const ANY_DURATION: &str = "a duration";

impl KeySpec {
    /// A key that is its own setting, with no `why`.
    pub(crate) const fn new(
        key: &'static str,
        value: ValueKind,
        allowed: &'static str,
        default: &'static str,
        example: &'static str,
        doc: &'static str,
    ) -> Self {
        KeySpec {
            key,
            setting: key,
            value,
            allowed,
            why: "",
            default,
            example,
            doc,
        }
    }

    /// The same key, with a reason for its range.
    pub(crate) const fn because(self, why: &'static str) -> Self {
        KeySpec { why, ..self }
    }

    /// The `<key>_ms` spelling of a duration key: the same setting in whole milliseconds.
    pub(crate) const fn in_milliseconds(self, key: &'static str, example: &'static str) -> Self {
        let positive = matches!(self.value, ValueKind::Duration { positive: true });
        KeySpec {
            key,
            value: ValueKind::Milliseconds { positive },
            example,
            ..self
        }
    }

    /// Whether the key refuses a zero duration.
    fn positive(&self) -> bool {
        matches!(
            self.value,
            ValueKind::Duration { positive: true }
                | ValueKind::Milliseconds { positive: true }
                | ValueKind::Seconds { positive: true }
                | ValueKind::CountOrDuration
        )
    }

    /// Checks a whole number for this key, whatever integer type it was written in: from the
    /// key's least value to `u32::MAX`. Keys that take no count accept any `u32`.
    ///
    /// ```
    /// use resilience_settings::{bulkhead, retry};
    ///
    /// assert_eq!(retry::MAX_ATTEMPTS.check_count(3), Ok(3));
    /// assert!(retry::MAX_ATTEMPTS.check_count(0).is_err());
    /// assert!(retry::MAX_ATTEMPTS.check_count(-1).is_err());
    /// assert!(retry::MAX_ATTEMPTS.check_count(5_000_000_000).is_err());
    /// assert_eq!(bulkhead::QUEUE.check_count(0), Ok(0));
    /// ```
    pub fn check_count(&'static self, value: i128) -> Result<u32, Problem> {
        let min = match self.value {
            ValueKind::Count { min } => min,
            ValueKind::CountOrDuration => 1,
            _ => 0,
        };
        match u32::try_from(value) {
            Ok(count) if count >= min => Ok(count),
            _ => Err(Problem::new(self, value.to_string(), Rule::Range)),
        }
    }

    /// Checks a number for this key against its [`NumberRange`] (a jitter fraction against
    /// `0 < f ≤ 1`). NaN and infinities are refused wherever a range applies.
    ///
    /// ```
    /// use resilience_settings::{circuit_breaker, retry};
    ///
    /// assert!(retry::FACTOR.check_number(2.0).is_ok());
    /// assert!(retry::FACTOR.check_number(1.0).is_err());
    /// assert!(retry::FACTOR.check_number(f64::INFINITY).is_err());
    /// assert!(circuit_breaker::FAILURE_RATE.check_number(1.0).is_ok());
    /// assert!(circuit_breaker::FAILURE_RATE.check_number(f64::NAN).is_err());
    /// ```
    pub fn check_number(&'static self, value: f64) -> Result<f64, Problem> {
        let range = match self.value {
            ValueKind::Number(range) => range,
            ValueKind::Jitter(_) => NumberRange::Fraction,
            _ => return Ok(value),
        };
        if range.contains(value) {
            Ok(value)
        } else {
            Err(Problem::new(self, value.to_string(), Rule::Range))
        }
    }

    /// Checks a duration for this key: zero is refused where the key wants one longer than zero.
    /// No key caps a duration by itself; the rate limiter's refill is capped across keys.
    ///
    /// ```
    /// use resilience_settings::{circuit_breaker, retry};
    /// use std::time::Duration;
    ///
    /// assert!(circuit_breaker::SLOW_CALL.check_duration(Duration::ZERO).is_err());
    /// assert!(retry::MAX_DELAY.check_duration(Duration::ZERO).is_ok());
    /// assert!(retry::MAX_DELAY.check_duration(Duration::MAX).is_ok());
    /// ```
    pub fn check_duration(&'static self, value: Duration) -> Result<Duration, Problem> {
        if value.is_zero() && self.positive() {
            Err(Problem::new(self, format!("{value:?}"), Rule::Range))
        } else {
            Ok(value)
        }
    }
}

/// Two settings that cannot both be given. The message names both and says why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exclusion {
    /// One of the settings.
    pub first: &'static KeySpec,
    /// The other; a problem is reported on it.
    pub second: &'static KeySpec,
    /// Why, to follow "cannot be combined with": `" (each sets the whole schedule)"`.
    pub why: &'static str,
}

/// The settings' exclusion problems among `given`, in table order.
pub(crate) fn exclusions(table: &[Exclusion], given: &[&str]) -> Vec<Problem> {
    table
        .iter()
        .filter(|exclusion| {
            given.contains(&exclusion.first.setting) && given.contains(&exclusion.second.setting)
        })
        .map(|exclusion| {
            Problem::new(
                exclusion.second,
                "given".to_owned(),
                Rule::Excludes {
                    other: exclusion.first.setting,
                    why: exclusion.why,
                },
            )
        })
        .collect()
}
