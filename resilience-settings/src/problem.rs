//! What a check says about a setting it refuses.

use std::fmt;
use std::time::Duration;

use crate::spec::KeySpec;

/// A setting refused by a check: which key, the value as text, and which rule it breaks.
///
/// The macros turn it into a compile error spanned on the key's token; the runtime builders into
/// `ConfigError::OutOfRange { key, value, allowed }` (or `Exclusive` for [`Rule::Excludes`]).
/// Its `Display` is a whole sentence that says what is allowed.
///
/// ```
/// use resilience_settings::{retry::RetrySettings, Rule};
///
/// let settings = RetrySettings { max_attempts: Some(0), ..RetrySettings::default() };
/// let problem = settings.check().unwrap_err();
/// assert_eq!(problem.key(), "max_attempts");
/// assert_eq!(problem.value(), "0");
/// assert_eq!(problem.rule(), &Rule::Range);
/// assert_eq!(problem.allowed(), "a whole number from 1 to 4294967295");
/// assert_eq!(
///     problem.to_string(),
///     "`max_attempts` must be a whole number from 1 to 4294967295, like `max_attempts = 3`",
/// );
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    spec: &'static KeySpec,
    value: String,
    rule: Rule,
}

/// Which check a [`Problem`] failed. The variants other than `Range`, `Required` and `Excludes`
/// are checks across keys, and carry the other values the verdict was made with.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum Rule {
    /// The value is outside the key's own range ([`KeySpec::allowed`]).
    Range,
    /// A required key is not given.
    Required,
    /// The key cannot be given together with `other`.
    Excludes {
        /// The setting it excludes.
        other: &'static str,
        /// Why, to follow "cannot be combined with `other`".
        why: &'static str,
    },
    /// `window` or `min_calls` without `failure_rate`: they belong to the failure-rate rule.
    NeedsFailureRate,
    /// `queue_timeout` without a `queue` of at least 1: no caller ever waits.
    NeedsQueue,
    /// `factor` with a backoff that is not exponential.
    FactorNeedsExponential {
        /// The backoff given.
        backoff: &'static str,
    },
    /// A `delay` with `backoff = "none"`.
    DelayWithoutBackoff,
    /// A first delay (or an entry of `delays`) longer than `max_delay`: every such delay would
    /// be cut to `max_delay`, so the setting could never mean what it says.
    DelayOverCap {
        /// The delay.
        delay: Duration,
        /// The cap.
        max_delay: Duration,
        /// Whether `max_delay` was given (else it is the default).
        max_delay_given: bool,
    },
    /// `min_calls` larger than the count window: the rate rule could never be judged.
    MinCallsOverWindow {
        /// The window's size in calls.
        window: u32,
        /// Whether `window` was given (else it is the default).
        window_given: bool,
    },
    /// `rate` more than one call per nanosecond of `per`.
    FasterThanNanoseconds {
        /// The period.
        per: Duration,
    },
    /// A full bucket would take longer than [`MAX_REFILL`](crate::rate_limit::MAX_REFILL) to
    /// refill: `burst × per / rate` (the interval rounded up to the nanosecond).
    RefillTooLong {
        /// The rate.
        rate: u32,
        /// The period.
        per: Duration,
        /// The burst.
        burst: u32,
        /// Whether `burst` was given (else it is `rate`).
        burst_given: bool,
    },
    /// A retry budget's `ratio` of 0 with a `min_per_sec` of 0: it would never allow a retry.
    NeverRetries,
}

impl Problem {
    pub(crate) fn new(spec: &'static KeySpec, value: String, rule: Rule) -> Self {
        Problem { spec, value, rule }
    }

    /// The key refused: the setting, as its main spelling writes it (`per` for `per_ms`).
    pub fn key(&self) -> &'static str {
        self.spec.key
    }

    /// The refused key's entry in the table.
    pub fn spec(&self) -> &'static KeySpec {
        self.spec
    }

    /// The refused value as text: `"0"`, `"150s"`, `"not set"` for a missing key.
    pub fn value(&self) -> &str {
        &self.value
    }

    /// The refused value, taken.
    pub fn into_value(self) -> String {
        self.value
    }

    /// The rule broken.
    pub fn rule(&self) -> &Rule {
        &self.rule
    }

    /// What the key allows, in words: the key's range, or what the rule across keys demands.
    pub fn allowed(&self) -> &'static str {
        match self.rule {
            Rule::Range | Rule::Required => self.spec.allowed,
            Rule::Excludes { .. } => "not together with the key it excludes",
            Rule::NeedsFailureRate => "only together with `failure_rate`",
            Rule::NeedsQueue => "only with `queue` of at least 1",
            Rule::FactorNeedsExponential { .. } => "only with `backoff = \"exponential\"`",
            Rule::DelayWithoutBackoff => "no delay with `backoff = \"none\"`",
            Rule::DelayOverCap { .. } if self.spec.setting == "max_delay" => {
                "at least the first delay"
            }
            Rule::DelayOverCap { .. } => "at most `max_delay`",
            Rule::MinCallsOverWindow { .. } => "at most the window's size in calls",
            Rule::FasterThanNanoseconds { .. } => "at most one call per nanosecond of `per`",
            Rule::RefillTooLong { .. } => "`burst` × `per` / `rate` at most 100 years",
            Rule::NeverRetries => "above 0 when `min_per_sec` is 0",
        }
    }

    /// The other settings the verdict depends on, beside [`key`](Self::key). A tool that could
    /// not read one of them (a malformed value) should drop the problem rather than report a
    /// verdict made with a default in its place.
    pub fn involves(&self) -> &'static [&'static str] {
        match self.rule {
            Rule::Range | Rule::Required | Rule::Excludes { .. } => &[],
            Rule::NeedsFailureRate => &["failure_rate", "failure_threshold"],
            Rule::NeedsQueue => &["queue"],
            Rule::FactorNeedsExponential { .. } | Rule::DelayWithoutBackoff => &["backoff"],
            Rule::DelayOverCap { .. } => &["backoff", "delay", "delays", "max_delay"],
            Rule::MinCallsOverWindow { .. } => &["window"],
            Rule::FasterThanNanoseconds { .. } => &["rate", "per"],
            Rule::RefillTooLong { .. } => &["rate", "per", "burst"],
            Rule::NeverRetries => &["min_per_sec"],
        }
    }

    /// The same problem told in another spelling of its key (`per_ms` for `per`), so that a
    /// message speaks of what was written. Only a range problem changes: the other rules'
    /// sentences name settings.
    pub fn spelled_as(self, spec: &'static KeySpec) -> Self {
        if self.rule == Rule::Range && spec.setting == self.spec.setting {
            Problem { spec, ..self }
        } else {
            self
        }
    }
}

/// A whole sentence: what is wrong, what is allowed, and how to fix it.
impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let key = self.spec.key;
        match self.rule {
            Rule::Range => write!(
                f,
                "`{key}` must be {}{}, like `{key} = {}`",
                self.spec.allowed, self.spec.why, self.spec.example
            ),
            Rule::Required => write!(
                f,
                "`{key}` is required: {}, like `{key} = {}`",
                self.spec.doc, self.spec.example
            ),
            Rule::Excludes { other, why } => {
                write!(
                    f,
                    "`{key}` cannot be combined with `{other}`{why}; keep one of them"
                )
            }
            Rule::NeedsFailureRate => write!(
                f,
                "`{key}` belongs to the failure-rate rule; add `failure_rate = 0.5` (or remove `{key}`)"
            ),
            Rule::NeedsQueue => write!(
                f,
                "`{key}` bounds the wait in the queue; it needs `queue` of at least 1, like `queue = 10`"
            ),
            Rule::FactorNeedsExponential { backoff } => write!(
                f,
                "`factor` applies only to `backoff = \"exponential\"`, not \"{backoff}\""
            ),
            Rule::DelayWithoutBackoff => f.write_str(
                "`backoff = \"none\"` retries at once; remove the delay, or choose \"fixed\"",
            ),
            Rule::DelayOverCap {
                delay,
                max_delay,
                max_delay_given,
            } => {
                let cap = if max_delay_given {
                    format!("{max_delay:?}")
                } else {
                    format!("{max_delay:?} by default")
                };
                match self.spec.setting {
                    "max_delay" => write!(
                        f,
                        "`max_delay` ({max_delay:?}) is shorter than the first delay ({delay:?}): every delay would be cut to it; raise `max_delay` or shorten the delay"
                    ),
                    "delays" => write!(
                        f,
                        "`delays` lists {delay:?}, longer than `max_delay` ({cap}): it would be cut to that; shorten it or raise `max_delay`"
                    ),
                    _ => write!(
                        f,
                        "`{key}` ({delay:?}) is longer than `max_delay` ({cap}): every delay would be cut to it; raise `max_delay` too, or shorten `{key}`"
                    ),
                }
            }
            Rule::MinCallsOverWindow {
                window,
                window_given: true,
            } => write!(
                f,
                "`min_calls` ({}) cannot exceed the window of {window} calls: the rule could never be judged",
                self.value
            ),
            Rule::MinCallsOverWindow {
                window,
                window_given: false,
            } => write!(
                f,
                "`min_calls` ({}) cannot exceed the default window of {window} calls; set `window` too",
                self.value
            ),
            Rule::FasterThanNanoseconds { per } => write!(
                f,
                "`rate` = {} is more than one call per nanosecond of the period ({per:?}); lower it or lengthen `per`",
                self.value
            ),
            Rule::RefillTooLong {
                burst_given: true, ..
            } => f.write_str(
                "`burst` × `per` / `rate` must be at most 100 years: the bucket could never refill",
            ),
            Rule::RefillTooLong {
                rate,
                burst_given: false,
                ..
            } => write!(
                f,
                "`burst` × `per` / `rate` must be at most 100 years: with `burst` at its default, `rate` ({rate}), a full bucket takes all of `per` to refill; shorten `per`"
            ),
            Rule::NeverRetries => f.write_str(
                "a retry budget with `ratio = 0` and `min_per_sec = 0` would never allow a retry; give `ratio` above 0 (like `ratio = 0.2`) or a floor (like `min_per_sec = 10`), or remove `budget` from the retry",
            ),
        }
    }
}

impl std::error::Error for Problem {}
