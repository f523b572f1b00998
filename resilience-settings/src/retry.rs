//! `#[retry]`: keys, defaults and checks.

use std::time::Duration;

use crate::spec::{exclusions, ANY_DURATION, FRACTION, LONGER_THAN_ZERO};
use crate::{
    collect, count_from_one, first, path, Exclusion, KeySpec, NumberRange, Problem, Rule,
    ValueKind, NAME,
};

/// Attempts in all when `max_attempts` is not given.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 3;
/// The first delay when `delay` is not given.
pub const DEFAULT_DELAY: Duration = Duration::from_millis(100);
/// The exponential factor when `factor` is not given.
pub const DEFAULT_FACTOR: f64 = 2.0;
/// The cap on any one delay when `max_delay` is not given.
pub const DEFAULT_MAX_DELAY: Duration = Duration::from_secs(30);
/// The fraction a bare `jitter` flag means: ±25%.
pub const DEFAULT_JITTER_FRACTION: f64 = 0.25;

/// `max_attempts = 3`.
pub const MAX_ATTEMPTS: KeySpec = count_from_one(
    "max_attempts",
    "3",
    "3",
    "attempts in all, the first included",
);
/// `backoff = "exponential"`.
pub const BACKOFF: KeySpec = KeySpec::new(
    "backoff",
    ValueKind::Choice(BackoffStrategy::NAMES),
    "\"exponential\", \"fixed\", \"linear\" or \"none\"",
    "\"exponential\"",
    "\"exponential\"",
    "how the delay changes from one retry to the next",
);
/// `delay = "100ms"`.
pub const DELAY: KeySpec = KeySpec::new(
    "delay",
    ValueKind::Duration { positive: false },
    ANY_DURATION,
    "100ms",
    "\"100ms\"",
    "the first retry's delay (the exponential or linear base, the fixed delay)",
);
/// `delay_ms = 100`.
pub const DELAY_MS: KeySpec = DELAY.in_milliseconds("delay_ms", "100");
/// `factor = 2.0`.
pub const FACTOR: KeySpec = KeySpec::new(
    "factor",
    ValueKind::Number(NumberRange::GreaterThanOne),
    "a finite number greater than 1.0",
    "2.0",
    "2.0",
    "the exponential multiplier",
)
.because(" (each delay is this multiple of the one before)");
/// `max_delay = "30s"`.
pub const MAX_DELAY: KeySpec = KeySpec::new(
    "max_delay",
    ValueKind::Duration { positive: false },
    ANY_DURATION,
    "30s",
    "\"30s\"",
    "the cap on any one delay",
);
/// `max_delay_ms = 30000`.
pub const MAX_DELAY_MS: KeySpec = MAX_DELAY.in_milliseconds("max_delay_ms", "30000");
/// `delays = ["100ms", "200ms", "400ms"]`.
pub const DELAYS: KeySpec = KeySpec::new(
    "delays",
    ValueKind::Durations,
    "a list of at least one duration",
    "none",
    "[\"100ms\", \"1s\"]",
    "an explicit schedule, its last entry repeating",
)
.because(" (its last entry repeats)");
/// `backoff_fn = my_schedule`.
pub const BACKOFF_FN: KeySpec = path(
    "backoff_fn",
    "none",
    "my_schedule",
    "a `fn(retry: u32) -> Duration` computing every delay",
);
/// `jitter`, `jitter = 0.1`, `jitter = "full"`.
pub const JITTER: KeySpec = KeySpec::new(
    "jitter",
    ValueKind::Jitter(JitterStrategy::NAMES),
    FRACTION,
    "off",
    "0.1",
    "randomness added to each delay: a bare flag is ±25%, a fraction sets the share, \"full\", \"equal\" or \"decorrelated\" choose AWS's strategies",
)
.because(" (each delay varies by up to this share of it)");
/// `max_elapsed = "10s"`.
pub const MAX_ELAPSED: KeySpec = KeySpec::new(
    "max_elapsed",
    ValueKind::Duration { positive: true },
    LONGER_THAN_ZERO,
    "no limit",
    "\"10s\"",
    "give up when the next delay would pass this total time",
);
/// `max_elapsed_ms = 10000`.
pub const MAX_ELAPSED_MS: KeySpec = MAX_ELAPSED.in_milliseconds("max_elapsed_ms", "10000");
/// `retry_if = is_transient`.
pub const RETRY_IF: KeySpec = path(
    "retry_if",
    "every `Err`",
    "is_transient",
    "a `fn(&E) -> bool` choosing the errors worth retrying",
);
/// The rejections of the policies below a retry that `retry_on` can name: each is a
/// `resilience::Error`'s `code()` in lower case.
pub const REJECTIONS: &[&str] = &["timeout", "bulkhead_full", "rate_limited", "circuit_open"];
/// The rejections retried when `retry_on` is not given: the transient ones. An open circuit is
/// not among them: the breaker has just said that the dependency is down.
pub const DEFAULT_RETRY_ON: &[&str] = &["timeout", "bulkhead_full", "rate_limited"];
/// `retry_on = ["timeout", "bulkhead_full", "rate_limited"]`.
pub const RETRY_ON: KeySpec = KeySpec::new(
    "retry_on",
    ValueKind::Choices(REJECTIONS),
    "a list of \"timeout\", \"bulkhead_full\", \"rate_limited\" and \"circuit_open\", each at most once; [] retries none",
    "[\"timeout\", \"bulkhead_full\", \"rate_limited\"]",
    "[\"timeout\"]",
    "which rejections of the policies below are retried (`retry_if` sees only the function's own errors)",
);
/// `on_retry = log_retry`.
pub const ON_RETRY: KeySpec = path(
    "on_retry",
    "none",
    "log_retry",
    "a `fn(&RetryContext<'_, E>)` called before each sleep",
);

/// `budget = "api"`.
pub const BUDGET: KeySpec = KeySpec::new(
    "budget",
    ValueKind::Reference,
    "a non-blank string",
    "none",
    "\"api\"",
    "the name of the retry budget each retry draws on (a name never defined has the defaults)",
);

/// Every `#[retry]` key, in the order messages list them.
pub const KEYS: &[KeySpec] = &[
    MAX_ATTEMPTS,
    BACKOFF,
    DELAY,
    DELAY_MS,
    FACTOR,
    MAX_DELAY,
    MAX_DELAY_MS,
    DELAYS,
    BACKOFF_FN,
    JITTER,
    MAX_ELAPSED,
    MAX_ELAPSED_MS,
    RETRY_IF,
    RETRY_ON,
    ON_RETRY,
    BUDGET,
    NAME,
];

/// Names other retry libraries use, and ours.
pub const RENAMED: &[(&str, &str)] = &[
    ("attempts", "max_attempts"),
    ("retries", "max_attempts"),
    ("max_retries", "max_attempts"),
    ("times", "max_attempts"),
    ("initial_delay", "delay"),
    ("base_delay", "delay"),
    ("min_delay", "delay"),
    ("multiplier", "factor"),
    ("when", "retry_if"),
    ("retry_on_rejections", "retry_on"),
    ("retry_rejections", "retry_on"),
    ("condition", "retry_if"),
    ("notify", "on_retry"),
    ("max_duration", "max_elapsed"),
    ("max_elapsed_time", "max_elapsed"),
    ("retry_budget", "budget"),
];

const WHOLE_SCHEDULE: &str = " (`delays` is the whole schedule)";
const EVERY_DELAY: &str = " (`backoff_fn` computes every delay)";

/// An explicit schedule (`delays`) or function (`backoff_fn`) replaces the strategy and its
/// parameters, and the two replace each other.
pub const EXCLUSIONS: &[Exclusion] = &[
    Exclusion {
        first: &BACKOFF,
        second: &DELAYS,
        why: WHOLE_SCHEDULE,
    },
    Exclusion {
        first: &DELAY,
        second: &DELAYS,
        why: WHOLE_SCHEDULE,
    },
    Exclusion {
        first: &FACTOR,
        second: &DELAYS,
        why: WHOLE_SCHEDULE,
    },
    Exclusion {
        first: &BACKOFF,
        second: &BACKOFF_FN,
        why: EVERY_DELAY,
    },
    Exclusion {
        first: &DELAY,
        second: &BACKOFF_FN,
        why: EVERY_DELAY,
    },
    Exclusion {
        first: &FACTOR,
        second: &BACKOFF_FN,
        why: EVERY_DELAY,
    },
    Exclusion {
        first: &DELAYS,
        second: &BACKOFF_FN,
        why: " (each sets the whole schedule)",
    },
];

/// The values of `backoff`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BackoffStrategy {
    /// `delay × factor^(n − 1)` before retry `n`.
    #[default]
    Exponential,
    /// `delay` before every retry.
    Fixed,
    /// `delay × n` before retry `n`.
    Linear,
    /// No delay.
    None,
}

impl BackoffStrategy {
    /// The names `backoff` takes.
    pub const NAMES: &'static [&'static str] = &["exponential", "fixed", "linear", "none"];

    /// The strategy named `name`.
    ///
    /// ```
    /// use resilience_settings::retry::BackoffStrategy;
    ///
    /// assert_eq!(BackoffStrategy::from_name("linear"), Some(BackoffStrategy::Linear));
    /// assert_eq!(BackoffStrategy::from_name("exponentail"), None);
    /// ```
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "exponential" => Some(BackoffStrategy::Exponential),
            "fixed" => Some(BackoffStrategy::Fixed),
            "linear" => Some(BackoffStrategy::Linear),
            "none" => Some(BackoffStrategy::None),
            _ => None,
        }
    }

    /// The strategy's name, as `backoff` writes it.
    pub const fn name(self) -> &'static str {
        match self {
            BackoffStrategy::Exponential => "exponential",
            BackoffStrategy::Fixed => "fixed",
            BackoffStrategy::Linear => "linear",
            BackoffStrategy::None => "none",
        }
    }
}

/// The values of `jitter`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum JitterStrategy {
    /// `delay × uniform[1 − f, 1 + f]`: a bare `jitter` flag, or `jitter = 0.1`.
    Proportional(f64),
    /// `uniform[0, delay]`.
    Full,
    /// `delay / 2 + uniform[0, delay / 2]`.
    Equal,
    /// `min(max_delay, uniform[first delay, previous × 3])`.
    Decorrelated,
}

impl JitterStrategy {
    /// The strategy names `jitter` takes beside a fraction.
    pub const NAMES: &'static [&'static str] = &["full", "equal", "decorrelated"];

    /// The strategy named `name`: `"full"`, `"equal"` or `"decorrelated"`.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "full" => Some(JitterStrategy::Full),
            "equal" => Some(JitterStrategy::Equal),
            "decorrelated" => Some(JitterStrategy::Decorrelated),
            _ => None,
        }
    }
}

/// `#[retry]`'s settings as plain values, by key; `None` (or `false`) means not given.
///
/// ```
/// use resilience_settings::retry::{RetrySettings, BackoffStrategy};
/// use std::time::Duration;
///
/// let settings = RetrySettings {
///     backoff: Some(BackoffStrategy::Fixed),
///     delay: Some(Duration::from_secs(60)),
///     ..RetrySettings::default()
/// };
/// // The default cap of 30 s would cut every delay: a setting that cannot mean what it says.
/// let problem = settings.check().unwrap_err();
/// assert_eq!((problem.key(), problem.allowed()), ("delay", "at most `max_delay`"));
///
/// let settings = RetrySettings { max_delay: Some(Duration::from_secs(60)), ..settings };
/// assert!(settings.check().is_ok());
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RetrySettings {
    /// `max_attempts`.
    pub max_attempts: Option<u32>,
    /// `backoff`.
    pub backoff: Option<BackoffStrategy>,
    /// `delay` / `delay_ms`.
    pub delay: Option<Duration>,
    /// `factor`.
    pub factor: Option<f64>,
    /// `max_delay` / `max_delay_ms`.
    pub max_delay: Option<Duration>,
    /// `delays`.
    pub delays: Option<Vec<Duration>>,
    /// Whether `backoff_fn` is given (its function is no value to check).
    pub backoff_fn: bool,
    /// `jitter`.
    pub jitter: Option<JitterStrategy>,
    /// `max_elapsed` / `max_elapsed_ms`.
    pub max_elapsed: Option<Duration>,
}

impl RetrySettings {
    /// The settings given, by name.
    pub fn given(&self) -> Vec<&'static str> {
        let mut given = Vec::new();
        let mut add = |is_given: bool, spec: &KeySpec| {
            if is_given {
                given.push(spec.setting);
            }
        };
        add(self.max_attempts.is_some(), &MAX_ATTEMPTS);
        add(self.backoff.is_some(), &BACKOFF);
        add(self.delay.is_some(), &DELAY);
        add(self.factor.is_some(), &FACTOR);
        add(self.max_delay.is_some(), &MAX_DELAY);
        add(self.delays.is_some(), &DELAYS);
        add(self.backoff_fn, &BACKOFF_FN);
        add(self.jitter.is_some(), &JITTER);
        add(self.max_elapsed.is_some(), &MAX_ELAPSED);
        given
    }

    /// Every problem of these settings, in the order of the keys; empty when they are valid.
    pub fn problems(&self) -> Vec<Problem> {
        let mut problems = exclusions(EXCLUSIONS, &self.given());
        let excluded = !problems.is_empty();
        if let Some(attempts) = self.max_attempts {
            collect(&mut problems, MAX_ATTEMPTS.check_count(attempts.into()));
        }
        let strategy = self.backoff.unwrap_or_default();
        if let Some(factor) = self.factor {
            collect(&mut problems, FACTOR.check_number(factor));
            if strategy != BackoffStrategy::Exponential {
                problems.push(Problem::new(
                    &FACTOR,
                    factor.to_string(),
                    Rule::FactorNeedsExponential {
                        backoff: strategy.name(),
                    },
                ));
            }
        }
        if let (Some(delay), BackoffStrategy::None) = (self.delay, strategy) {
            problems.push(Problem::new(
                &DELAY,
                format!("{delay:?}"),
                Rule::DelayWithoutBackoff,
            ));
        }
        if self.delays.as_ref().is_some_and(Vec::is_empty) {
            problems.push(Problem::new(&DELAYS, "[]".to_owned(), Rule::Range));
        }
        if let Some(JitterStrategy::Proportional(fraction)) = self.jitter {
            collect(&mut problems, JITTER.check_number(fraction));
        }
        if let Some(max_elapsed) = self.max_elapsed {
            collect(&mut problems, MAX_ELAPSED.check_duration(max_elapsed));
        }
        if !excluded {
            problems.extend(self.delay_over_cap());
        }
        problems
    }

    /// The first problem, if any: what a builder reports.
    pub fn check(&self) -> Result<(), Problem> {
        first(self.problems())
    }

    /// A first delay longer than the cap: `max_delay` cuts every delay, so the first would never
    /// be what was written. Blamed on `max_delay` when that is given, else on the delay.
    fn delay_over_cap(&self) -> Option<Problem> {
        let max_delay = self.max_delay.unwrap_or(DEFAULT_MAX_DELAY);
        let (spec, delay) = if let Some(delays) = &self.delays {
            (&DELAYS, delays.iter().copied().max()?)
        } else if self.backoff_fn || self.backoff == Some(BackoffStrategy::None) {
            return None;
        } else {
            (&DELAY, self.delay.unwrap_or(DEFAULT_DELAY))
        };
        if delay <= max_delay {
            return None;
        }
        let rule = Rule::DelayOverCap {
            delay,
            max_delay,
            max_delay_given: self.max_delay.is_some(),
        };
        Some(if self.max_delay.is_some() {
            Problem::new(&MAX_DELAY, format!("{max_delay:?}"), rule)
        } else {
            Problem::new(spec, format!("{delay:?}"), rule)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(settings: &RetrySettings) -> Vec<&'static str> {
        settings.problems().iter().map(Problem::key).collect()
    }

    #[test]
    fn the_defaults_are_valid() {
        assert!(RetrySettings::default().check().is_ok());
        assert!(MAX_ATTEMPTS
            .check_count(DEFAULT_MAX_ATTEMPTS.into())
            .is_ok());
        assert!(FACTOR.check_number(DEFAULT_FACTOR).is_ok());
        assert!(JITTER.check_number(DEFAULT_JITTER_FRACTION).is_ok());
    }

    #[test]
    fn each_key_checks_its_range() {
        let bad = RetrySettings {
            max_attempts: Some(0),
            factor: Some(f64::NAN),
            delays: None,
            jitter: Some(JitterStrategy::Proportional(1.5)),
            max_elapsed: Some(Duration::ZERO),
            ..RetrySettings::default()
        };
        assert_eq!(
            keys(&bad),
            ["max_attempts", "factor", "jitter", "max_elapsed"]
        );
        let empty = RetrySettings {
            delays: Some(Vec::new()),
            ..RetrySettings::default()
        };
        assert_eq!(keys(&empty), ["delays"]);
    }

    #[test]
    fn a_schedule_excludes_the_strategy() {
        let both = RetrySettings {
            backoff: Some(BackoffStrategy::Fixed),
            delays: Some(vec![Duration::from_millis(1)]),
            backoff_fn: true,
            ..RetrySettings::default()
        };
        let rules: Vec<_> = both.problems().iter().map(|p| *p.rule()).collect();
        assert_eq!(
            rules,
            [
                Rule::Excludes {
                    other: "backoff",
                    why: WHOLE_SCHEDULE
                },
                Rule::Excludes {
                    other: "backoff",
                    why: EVERY_DELAY
                },
                Rule::Excludes {
                    other: "delays",
                    why: " (each sets the whole schedule)"
                },
            ]
        );
    }

    #[test]
    fn factor_and_delay_need_a_strategy_that_uses_them() {
        let fixed = RetrySettings {
            backoff: Some(BackoffStrategy::Fixed),
            factor: Some(3.0),
            ..RetrySettings::default()
        };
        assert_eq!(
            fixed.check().map_err(|p| *p.rule()),
            Err(Rule::FactorNeedsExponential { backoff: "fixed" })
        );
        let none = RetrySettings {
            backoff: Some(BackoffStrategy::None),
            delay: Some(Duration::from_secs(1)),
            ..RetrySettings::default()
        };
        assert_eq!(
            none.check().map_err(|p| *p.rule()),
            Err(Rule::DelayWithoutBackoff)
        );
    }

    #[test]
    fn a_delay_over_the_cap_is_blamed_on_what_was_given() {
        let second = Duration::from_secs(1);
        let over_default = RetrySettings {
            delay: Some(Duration::from_secs(31)),
            ..RetrySettings::default()
        };
        assert_eq!(keys(&over_default), ["delay"]);
        let cap_below_default_delay = RetrySettings {
            max_delay: Some(Duration::from_millis(50)),
            ..RetrySettings::default()
        };
        assert_eq!(keys(&cap_below_default_delay), ["max_delay"]);
        let schedule = RetrySettings {
            delays: Some(vec![second, Duration::from_secs(40)]),
            ..RetrySettings::default()
        };
        assert_eq!(keys(&schedule), ["delays"]);
        let equal = RetrySettings {
            delay: Some(second),
            max_delay: Some(second),
            ..RetrySettings::default()
        };
        assert!(equal.check().is_ok());
        // No delay to cut: none, or a function the table cannot see into.
        for settings in [
            RetrySettings {
                backoff: Some(BackoffStrategy::None),
                max_delay: Some(Duration::ZERO),
                ..RetrySettings::default()
            },
            RetrySettings {
                backoff_fn: true,
                max_delay: Some(Duration::ZERO),
                ..RetrySettings::default()
            },
        ] {
            assert!(settings.check().is_ok(), "{settings:?}");
        }
    }
}
