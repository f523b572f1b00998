//! `#[circuit_breaker]`: keys, defaults and checks.

use std::fmt;
use std::time::Duration;

use crate::spec::{exclusions, ANY_DURATION, FRACTION, LONGER_THAN_ZERO};
use crate::{
    collect, count_from_one, first, path, Exclusion, KeySpec, NumberRange, Problem, Rule,
    ValueKind, NAME,
};

/// Consecutive failures that open the circuit when no trip rule is given.
pub const DEFAULT_FAILURE_THRESHOLD: u32 = 5;
/// The count window of the failure-rate rule when `window` is not given.
pub const DEFAULT_WINDOW_CALLS: u32 = 100;
/// `min_calls` of a time window when not given (a count window's default is its size).
pub const DEFAULT_TIME_WINDOW_MIN_CALLS: u32 = 100;
/// Time open before half-open when `reset_timeout` is not given.
pub const DEFAULT_RESET_TIMEOUT: Duration = Duration::from_secs(30);
/// Probes in flight at once in half-open when `half_open_max_calls` is not given.
pub const DEFAULT_HALF_OPEN_MAX_CALLS: u32 = 1;
/// Probe successes that close the circuit when `success_threshold` is not given.
pub const DEFAULT_SUCCESS_THRESHOLD: u32 = 1;

/// `failure_threshold = 5`.
pub const FAILURE_THRESHOLD: KeySpec = count_from_one(
    "failure_threshold",
    "5",
    "5",
    "consecutive failures that open the circuit",
);
/// `failure_rate = 0.5`.
pub const FAILURE_RATE: KeySpec = KeySpec::new(
    "failure_rate",
    ValueKind::Number(NumberRange::Fraction),
    FRACTION,
    "none (the consecutive-failure rule)",
    "0.5",
    "the share of failures in the window that opens the circuit",
)
.because(" (the share of failed calls in the window that opens the circuit)");
/// `window = 100` or `window = "60s"`.
pub const WINDOW: KeySpec = KeySpec::new(
    "window",
    ValueKind::CountOrDuration,
    "a whole number of calls from 1 to 4294967295, or a duration longer than zero",
    "100 calls",
    "100",
    "the calls the failure rate is taken over: the last N, or those of the last duration",
);
/// `min_calls = 20`.
pub const MIN_CALLS: KeySpec = count_from_one(
    "min_calls",
    "the window's size (100 for a time window)",
    "20",
    "outcomes the window must hold before the rate is judged",
);
/// `reset_timeout = "30s"`.
pub const RESET_TIMEOUT: KeySpec = KeySpec::new(
    "reset_timeout",
    ValueKind::Duration { positive: false },
    ANY_DURATION,
    "30s",
    "\"30s\"",
    "time open before half-open",
);
/// `reset_timeout_ms = 30000`.
pub const RESET_TIMEOUT_MS: KeySpec = RESET_TIMEOUT.in_milliseconds("reset_timeout_ms", "30000");
/// `half_open_max_calls = 1`.
pub const HALF_OPEN_MAX_CALLS: KeySpec = count_from_one(
    "half_open_max_calls",
    "1",
    "1",
    "probe calls admitted at once in half-open",
);
/// `success_threshold = 1`.
pub const SUCCESS_THRESHOLD: KeySpec = count_from_one(
    "success_threshold",
    "1",
    "1",
    "probe successes that close the circuit",
);
/// `slow_call = "2s"`.
pub const SLOW_CALL: KeySpec = KeySpec::new(
    "slow_call",
    ValueKind::Duration { positive: true },
    LONGER_THAN_ZERO,
    "none",
    "\"2s\"",
    "a success slower than this counts as a failure",
);
/// `slow_call_ms = 2000`.
pub const SLOW_CALL_MS: KeySpec = SLOW_CALL.in_milliseconds("slow_call_ms", "2000");
/// `half_open_timeout = "10s"`.
pub const HALF_OPEN_TIMEOUT: KeySpec = KeySpec::new(
    "half_open_timeout",
    ValueKind::Duration { positive: true },
    LONGER_THAN_ZERO,
    "the `reset_timeout`",
    "\"10s\"",
    "a half-open probe still running this long counts as failed",
);
/// `half_open_timeout_ms = 10000`.
pub const HALF_OPEN_TIMEOUT_MS: KeySpec =
    HALF_OPEN_TIMEOUT.in_milliseconds("half_open_timeout_ms", "10000");
/// `failure_if = is_outage`.
pub const FAILURE_IF: KeySpec = path(
    "failure_if",
    "every `Err`",
    "is_outage",
    "a `fn(&E) -> bool` choosing the errors that count as failures",
);
/// `ignore_if = is_client_error`.
pub const IGNORE_IF: KeySpec = path(
    "ignore_if",
    "none",
    "is_client_error",
    "a `fn(&E) -> bool` choosing the errors that count as neither",
);

/// `critical` or `critical = true`.
pub const CRITICAL: KeySpec = KeySpec::new(
    "critical",
    ValueKind::Flag,
    "`true` or `false`",
    "false",
    "true",
    "an open or half-open circuit makes health unhealthy rather than degraded",
)
.because(" (in an attribute, `critical` alone means `true`)");

/// `shared` or `shared = true`.
pub const SHARED: KeySpec =
    crate::shared("the circuit's state is shared across instances through the registry's store");

/// The most keys a keyed breaker holds when `max_keys` is not given (open keys may pass it).
pub const DEFAULT_MAX_KEYS: u32 = crate::DEFAULT_MAX_KEYS;
/// `key_idle = "10m"`: how long a keyed breaker keeps a closed key with no call.
pub const KEY_IDLE: KeySpec = crate::key_idle(
    "three reset timeouts (`3 × reset_timeout`), at least 1s",
    "how long a keyed breaker keeps a closed key that has had no call",
);
/// `key_idle_ms = 600000`.
pub const KEY_IDLE_MS: KeySpec = KEY_IDLE.in_milliseconds("key_idle_ms", "600000");
/// `max_keys = 100000`.
pub const MAX_KEYS: KeySpec =
    crate::max_keys("the most keys a keyed breaker holds at once (open keys are never evicted)");

/// Every `#[circuit_breaker]` key, in the order messages list them.
pub const KEYS: &[KeySpec] = &[
    NAME,
    FAILURE_THRESHOLD,
    FAILURE_RATE,
    WINDOW,
    MIN_CALLS,
    RESET_TIMEOUT,
    RESET_TIMEOUT_MS,
    HALF_OPEN_MAX_CALLS,
    SUCCESS_THRESHOLD,
    SLOW_CALL,
    SLOW_CALL_MS,
    HALF_OPEN_TIMEOUT,
    HALF_OPEN_TIMEOUT_MS,
    FAILURE_IF,
    IGNORE_IF,
    CRITICAL,
    KEY_IDLE,
    KEY_IDLE_MS,
    MAX_KEYS,
    SHARED,
];

/// Names other breaker libraries use, and ours.
pub const RENAMED: &[(&str, &str)] = &[
    ("threshold", "failure_threshold"),
    ("max_failures", "failure_threshold"),
    ("consecutive_failures", "failure_threshold"),
    ("failure_rate_threshold", "failure_rate"),
    ("timeout", "reset_timeout"),
    ("open_timeout", "reset_timeout"),
    ("cooldown", "reset_timeout"),
    ("wait_duration_in_open_state", "reset_timeout"),
    ("sliding_window_size", "window"),
    ("window_size", "window"),
    ("minimum_number_of_calls", "min_calls"),
    (
        "permitted_number_of_calls_in_half_open_state",
        "half_open_max_calls",
    ),
    ("slow_call_duration_threshold", "slow_call"),
    ("max_wait_duration_in_half_open_state", "half_open_timeout"),
    ("probe_timeout", "half_open_timeout"),
    ("is_failure", "failure_if"),
    ("record_if", "failure_if"),
    ("ignore", "ignore_if"),
    // resilience4j's Spring Boot health indicator: an open circuit takes health down.
    ("allow_health_indicator_to_fail", "critical"),
];

/// The two trip rules exclude each other, and `window` and `min_calls` belong to the rate rule.
pub const EXCLUSIONS: &[Exclusion] = &[
    Exclusion {
        first: &FAILURE_THRESHOLD,
        second: &FAILURE_RATE,
        why: " (they are alternative rules to open the circuit)",
    },
    Exclusion {
        first: &FAILURE_THRESHOLD,
        second: &WINDOW,
        why: " (`window` belongs to the failure-rate rule)",
    },
    Exclusion {
        first: &FAILURE_THRESHOLD,
        second: &MIN_CALLS,
        why: " (`min_calls` belongs to the failure-rate rule)",
    },
];

/// The outcomes the failure-rate rule looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    /// The last `n` calls.
    Calls(u32),
    /// The calls that finished within this much time.
    Time(Duration),
}

/// `50` for a count window, `60s` for a time window, as the attribute writes them.
impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Window::Calls(calls) => write!(f, "{calls}"),
            Window::Time(length) => write!(f, "{length:?}"),
        }
    }
}

/// `#[circuit_breaker]`'s settings as plain values, by key; `None` means not given.
///
/// ```
/// use resilience_settings::circuit_breaker::{BreakerSettings, Window};
///
/// let settings = BreakerSettings {
///     failure_rate: Some(0.5),
///     window: Some(Window::Calls(20)),
///     min_calls: Some(50),
///     ..BreakerSettings::default()
/// };
/// let problem = settings.check().unwrap_err();
/// assert_eq!((problem.key(), problem.allowed()), ("min_calls", "at most the window's size in calls"));
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BreakerSettings {
    /// `failure_threshold`.
    pub failure_threshold: Option<u32>,
    /// `failure_rate`.
    pub failure_rate: Option<f64>,
    /// `window`.
    pub window: Option<Window>,
    /// `min_calls`.
    pub min_calls: Option<u32>,
    /// `reset_timeout` / `reset_timeout_ms`.
    pub reset_timeout: Option<Duration>,
    /// `half_open_max_calls`.
    pub half_open_max_calls: Option<u32>,
    /// `success_threshold`.
    pub success_threshold: Option<u32>,
    /// `slow_call` / `slow_call_ms`.
    pub slow_call: Option<Duration>,
    /// `half_open_timeout` / `half_open_timeout_ms`.
    pub half_open_timeout: Option<Duration>,
    /// `critical`: whether an open or half-open circuit makes health unhealthy rather than
    /// degraded. Any value is valid.
    pub critical: Option<bool>,
    /// `shared`: whether the circuit's state is shared across instances through the
    /// registry's store. Any value is valid.
    pub shared: Option<bool>,
}

impl BreakerSettings {
    /// The settings given, by name.
    pub fn given(&self) -> Vec<&'static str> {
        [
            (self.failure_threshold.is_some(), &FAILURE_THRESHOLD),
            (self.failure_rate.is_some(), &FAILURE_RATE),
            (self.window.is_some(), &WINDOW),
            (self.min_calls.is_some(), &MIN_CALLS),
            (self.reset_timeout.is_some(), &RESET_TIMEOUT),
            (self.half_open_max_calls.is_some(), &HALF_OPEN_MAX_CALLS),
            (self.success_threshold.is_some(), &SUCCESS_THRESHOLD),
            (self.slow_call.is_some(), &SLOW_CALL),
            (self.half_open_timeout.is_some(), &HALF_OPEN_TIMEOUT),
            (self.critical.is_some(), &CRITICAL),
            (self.shared.is_some(), &SHARED),
        ]
        .into_iter()
        .filter_map(|(given, spec)| given.then_some(spec.setting))
        .collect()
    }

    /// Every problem of these settings, in the order of the keys; empty when they are valid.
    pub fn problems(&self) -> Vec<Problem> {
        let mut problems = exclusions(EXCLUSIONS, &self.given());
        if let Some(threshold) = self.failure_threshold {
            collect(
                &mut problems,
                FAILURE_THRESHOLD.check_count(threshold.into()),
            );
        }
        if let Some(rate) = self.failure_rate {
            collect(&mut problems, FAILURE_RATE.check_number(rate));
        }
        let window = match self.window {
            Some(Window::Calls(calls)) => {
                collect(&mut problems, WINDOW.check_count(calls.into())).map(|calls| (calls, true))
            }
            Some(Window::Time(length)) => {
                collect(&mut problems, WINDOW.check_duration(length));
                None
            }
            None => Some((DEFAULT_WINDOW_CALLS, false)),
        };
        let min_calls = self
            .min_calls
            .and_then(|calls| collect(&mut problems, MIN_CALLS.check_count(calls.into())));
        if self.failure_rate.is_none() && self.failure_threshold.is_none() {
            // With a threshold these are exclusions, reported above.
            for (given, spec) in [
                (self.window.map(|w| w.to_string()), &WINDOW),
                (self.min_calls.map(|n| n.to_string()), &MIN_CALLS),
            ] {
                if let Some(value) = given {
                    problems.push(Problem::new(spec, value, Rule::NeedsFailureRate));
                }
            }
        } else if let (Some(_), Some((window, window_given)), Some(min_calls)) =
            (self.failure_rate, window, min_calls)
        {
            if min_calls > window {
                problems.push(Problem::new(
                    &MIN_CALLS,
                    min_calls.to_string(),
                    Rule::MinCallsOverWindow {
                        window,
                        window_given,
                    },
                ));
            }
        }
        for (value, spec) in [
            (self.half_open_max_calls, &HALF_OPEN_MAX_CALLS),
            (self.success_threshold, &SUCCESS_THRESHOLD),
        ] {
            if let Some(count) = value {
                collect(&mut problems, spec.check_count(count.into()));
            }
        }
        for (value, spec) in [
            (self.reset_timeout, &RESET_TIMEOUT),
            (self.slow_call, &SLOW_CALL),
            (self.half_open_timeout, &HALF_OPEN_TIMEOUT),
        ] {
            if let Some(duration) = value {
                collect(&mut problems, spec.check_duration(duration));
            }
        }
        problems
    }

    /// The first problem, if any: what a builder reports.
    pub fn check(&self) -> Result<(), Problem> {
        first(self.problems())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(settings: &BreakerSettings) -> Vec<&'static str> {
        settings.problems().iter().map(Problem::key).collect()
    }

    #[test]
    fn the_defaults_are_valid() {
        assert!(BreakerSettings::default().check().is_ok());
        let defaults = [
            WINDOW.check_count(DEFAULT_WINDOW_CALLS.into()),
            MIN_CALLS.check_count(DEFAULT_TIME_WINDOW_MIN_CALLS.into()),
            FAILURE_THRESHOLD.check_count(DEFAULT_FAILURE_THRESHOLD.into()),
            HALF_OPEN_MAX_CALLS.check_count(DEFAULT_HALF_OPEN_MAX_CALLS.into()),
            SUCCESS_THRESHOLD.check_count(DEFAULT_SUCCESS_THRESHOLD.into()),
        ];
        assert!(defaults.iter().all(Result::is_ok), "{defaults:?}");
    }

    #[test]
    fn each_key_checks_its_range() {
        let zeros = BreakerSettings {
            failure_threshold: Some(0),
            half_open_max_calls: Some(0),
            success_threshold: Some(0),
            slow_call: Some(Duration::ZERO),
            half_open_timeout: Some(Duration::ZERO),
            reset_timeout: Some(Duration::ZERO),
            ..BreakerSettings::default()
        };
        assert_eq!(
            keys(&zeros),
            [
                "failure_threshold",
                "half_open_max_calls",
                "success_threshold",
                "slow_call",
                "half_open_timeout"
            ]
        );
        for rate in [0.0, -0.5, 1.5, f64::NAN, f64::INFINITY] {
            let settings = BreakerSettings {
                failure_rate: Some(rate),
                ..BreakerSettings::default()
            };
            assert_eq!(keys(&settings), ["failure_rate"]);
        }
    }

    #[test]
    fn critical_is_a_flag_that_any_value_satisfies() {
        assert_eq!(CRITICAL.value, ValueKind::Flag);
        assert_eq!(CRITICAL.default, "false");
        for critical in [Some(true), Some(false)] {
            let settings = BreakerSettings {
                critical,
                ..BreakerSettings::default()
            };
            assert!(settings.check().is_ok());
            assert_eq!(settings.given(), ["critical"]);
        }
        assert!(BreakerSettings::default().given().is_empty());
        let problem = Problem::new(&CRITICAL, "\"yes\"".to_owned(), Rule::Range);
        assert_eq!(
            problem.to_string(),
            "`critical` must be `true` or `false` (in an attribute, `critical` alone means `true`), like `critical = true`"
        );
    }

    #[test]
    fn the_rate_rule_owns_window_and_min_calls() {
        let orphan = BreakerSettings {
            window: Some(Window::Calls(50)),
            min_calls: Some(10),
            ..BreakerSettings::default()
        };
        let rules: Vec<_> = orphan
            .problems()
            .iter()
            .map(|p| (p.key(), *p.rule()))
            .collect();
        assert_eq!(
            rules,
            [
                ("window", Rule::NeedsFailureRate),
                ("min_calls", Rule::NeedsFailureRate)
            ]
        );
        let with_threshold = BreakerSettings {
            failure_threshold: Some(3),
            ..orphan
        };
        assert!(with_threshold.problems().iter().all(|p| matches!(
            p.rule(),
            Rule::Excludes {
                other: "failure_threshold",
                ..
            }
        )));
    }

    #[test]
    fn min_calls_fits_a_count_window_given_or_default() {
        let rate = |window, min_calls| BreakerSettings {
            failure_rate: Some(0.5),
            window,
            min_calls: Some(min_calls),
            ..BreakerSettings::default()
        };
        assert!(rate(Some(Window::Calls(10)), 10).check().is_ok());
        assert_eq!(
            rate(Some(Window::Calls(10)), 11)
                .check()
                .map_err(|p| *p.rule()),
            Err(Rule::MinCallsOverWindow {
                window: 10,
                window_given: true
            })
        );
        assert_eq!(
            rate(None, 101).check().map_err(|p| *p.rule()),
            Err(Rule::MinCallsOverWindow {
                window: 100,
                window_given: false
            })
        );
        let minute = Window::Time(Duration::from_secs(60));
        assert!(rate(Some(minute), u32::MAX).check().is_ok());
        // A malformed window is reported once, not again through `min_calls`.
        assert_eq!(keys(&rate(Some(Window::Calls(0)), 5)), ["window"]);
    }
}
