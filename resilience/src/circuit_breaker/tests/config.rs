//! Building: defaults, validation, conflicts, the summary line.

use std::time::Duration;

use crate::{CircuitBreaker, CircuitBreakerConfig, ConfigError, TripRule, Window};

fn out_of_range_key(result: Result<CircuitBreaker, ConfigError>) -> &'static str {
    match result {
        Err(ConfigError::OutOfRange { key, .. }) => key,
        other => panic!("expected OutOfRange, got {other:?}"),
    }
}

#[test]
fn defaults_are_five_failures_and_thirty_seconds() {
    let breaker = CircuitBreaker::builder("defaults")
        .build()
        .expect("defaults are valid");
    assert_eq!(breaker.config(), CircuitBreakerConfig::default());
    assert_eq!(
        breaker.config(),
        CircuitBreakerConfig {
            trip: TripRule::ConsecutiveFailures(5),
            reset_timeout: Duration::from_secs(30),
            half_open_timeout: None,
            half_open_max_calls: 1,
            success_threshold: 1,
            slow_call: None,
            critical: false,
            shared: false,
            key_idle: None,
            max_keys: 100_000,
        }
    );
    assert!(
        !breaker.is_critical(),
        "a breaker is not critical unless told"
    );
    assert_eq!(
        CircuitBreaker::with_defaults("defaults").config(),
        breaker.config()
    );
    assert_eq!(
        breaker.config().effective_half_open_timeout(),
        Duration::from_secs(30),
        "the half-open timeout defaults to the reset timeout"
    );
    assert_eq!(breaker.name(), "defaults");
    assert_eq!(&**breaker.name_arc(), "defaults");
}

#[test]
fn the_rate_rule_defaults_its_window_and_min_calls() {
    let trip =
        |builder: crate::CircuitBreakerBuilder| builder.build().expect("valid").config().trip;
    assert_eq!(
        trip(CircuitBreaker::builder("r").failure_rate(0.5)),
        TripRule::FailureRate {
            rate: 0.5,
            window: Window::Calls(100),
            min_calls: 100
        }
    );
    assert_eq!(
        trip(
            CircuitBreaker::builder("r")
                .failure_rate(0.5)
                .window_calls(20)
        ),
        TripRule::FailureRate {
            rate: 0.5,
            window: Window::Calls(20),
            min_calls: 20
        }
    );
    let minute = Duration::from_secs(60);
    assert_eq!(
        trip(
            CircuitBreaker::builder("r")
                .failure_rate(0.5)
                .window_duration(minute)
        ),
        TripRule::FailureRate {
            rate: 0.5,
            window: Window::Time(minute),
            min_calls: 100
        }
    );
    assert_eq!(
        trip(CircuitBreaker::builder("r").failure_rate(0.25).min_calls(7)),
        TripRule::FailureRate {
            rate: 0.25,
            window: Window::Calls(100),
            min_calls: 7
        }
    );
}

#[test]
fn out_of_range_values_name_their_key() {
    let b = || CircuitBreaker::builder("invalid");
    assert_eq!(
        out_of_range_key(b().failure_threshold(0).build()),
        "failure_threshold"
    );
    assert_eq!(
        out_of_range_key(b().half_open_max_calls(0).build()),
        "half_open_max_calls"
    );
    assert_eq!(
        out_of_range_key(b().success_threshold(0).build()),
        "success_threshold"
    );
    for rate in [0.0, -0.5, 1.5, f64::NAN, f64::INFINITY] {
        assert_eq!(
            out_of_range_key(b().failure_rate(rate).build()),
            "failure_rate"
        );
    }
    assert!(b().failure_rate(1.0).build().is_ok());
    assert_eq!(
        out_of_range_key(b().failure_rate(0.5).window_calls(0).build()),
        "window"
    );
    assert_eq!(
        out_of_range_key(
            b().failure_rate(0.5)
                .window_duration(Duration::ZERO)
                .build()
        ),
        "window"
    );
    assert_eq!(
        out_of_range_key(b().failure_rate(0.5).min_calls(0).build()),
        "min_calls"
    );
    assert_eq!(
        out_of_range_key(b().failure_rate(0.5).window_calls(10).min_calls(11).build()),
        "min_calls"
    );
    assert!(b()
        .failure_rate(0.5)
        .window_calls(10)
        .min_calls(10)
        .build()
        .is_ok());
    assert!(b()
        .failure_rate(0.5)
        .window_duration(Duration::from_secs(1))
        .min_calls(1000)
        .build()
        .is_ok());
    assert_eq!(
        out_of_range_key(b().slow_call(Duration::ZERO).build()),
        "slow_call"
    );
    assert!(b().reset_timeout(Duration::ZERO).build().is_ok());
    assert_eq!(
        out_of_range_key(b().half_open_timeout(Duration::ZERO).build()),
        "half_open_timeout"
    );
    let config = CircuitBreakerConfig {
        half_open_timeout: Some(Duration::ZERO),
        ..CircuitBreakerConfig::default()
    };
    assert_eq!(
        out_of_range_key(CircuitBreaker::new("new", config)),
        "half_open_timeout"
    );
}

#[test]
fn the_half_open_timeout_defaults_to_the_reset_timeout() {
    let timeout = |builder: crate::CircuitBreakerBuilder| {
        let breaker = builder.build().expect("valid");
        breaker.config().effective_half_open_timeout()
    };
    let b = || CircuitBreaker::builder("half-open-timeout");
    assert_eq!(
        timeout(b().reset_timeout(Duration::from_secs(7))),
        Duration::from_secs(7)
    );
    assert_eq!(
        timeout(
            b().reset_timeout(Duration::from_secs(7))
                .half_open_timeout(Duration::from_millis(1500))
        ),
        Duration::from_millis(1500)
    );
    // A zero reset timeout is no time for a probe to run in: the default then is 30s.
    assert_eq!(
        timeout(b().reset_timeout(Duration::ZERO)),
        Duration::from_secs(30)
    );
    // On a config changed by hand, the default follows the reset timeout it ends up with.
    let config = CircuitBreakerConfig {
        reset_timeout: Duration::from_secs(3),
        ..CircuitBreakerConfig::default()
    };
    assert_eq!(config.effective_half_open_timeout(), Duration::from_secs(3));
}

#[test]
fn the_two_trip_rules_exclude_each_other() {
    let b = || CircuitBreaker::builder("exclusive").failure_threshold(3);
    for (builder, second) in [
        (b().failure_rate(0.5), "failure_rate"),
        (b().window_calls(10), "window"),
        (b().min_calls(10), "min_calls"),
    ] {
        assert_eq!(
            builder.build().map(drop),
            Err(ConfigError::Exclusive {
                first: "failure_threshold",
                second
            })
        );
    }
}

#[test]
fn window_and_min_calls_need_a_failure_rate() {
    let b = || CircuitBreaker::builder("orphan");
    assert_eq!(out_of_range_key(b().window_calls(10).build()), "window");
    assert_eq!(out_of_range_key(b().min_calls(10).build()), "min_calls");
}

#[test]
fn new_checks_a_config_like_the_builder() {
    let config = CircuitBreakerConfig {
        trip: TripRule::FailureRate {
            rate: 0.5,
            window: Window::Calls(5),
            min_calls: 6,
        },
        ..CircuitBreakerConfig::default()
    };
    assert_eq!(
        out_of_range_key(CircuitBreaker::new("new", config)),
        "min_calls"
    );
    let config = CircuitBreakerConfig {
        trip: TripRule::ConsecutiveFailures(0),
        ..CircuitBreakerConfig::default()
    };
    assert_eq!(
        out_of_range_key(CircuitBreaker::new("new", config)),
        "failure_threshold"
    );
}

#[test]
fn conflicts_are_explicit_settings_that_differ() {
    let existing = CircuitBreaker::builder("shared")
        .failure_threshold(3)
        .reset_timeout(Duration::from_secs(10))
        .build()
        .expect("valid");
    let joining = CircuitBreaker::builder("shared");
    assert!(
        joining.conflicts_with(&existing).is_empty(),
        "a bare name joins"
    );
    let same = CircuitBreaker::builder("shared")
        .failure_threshold(3)
        .reset_timeout(Duration::from_secs(10))
        .half_open_max_calls(1);
    assert!(
        same.conflicts_with(&existing).is_empty(),
        "equal values agree"
    );
    let same_deadline =
        CircuitBreaker::builder("shared").half_open_timeout(Duration::from_secs(10));
    assert!(
        same_deadline.conflicts_with(&existing).is_empty(),
        "the half-open timeout in effect is the reset timeout's"
    );
    let different = CircuitBreaker::builder("shared")
        .failure_threshold(4)
        .reset_timeout(Duration::from_secs(10))
        .half_open_timeout(Duration::from_secs(20))
        .half_open_max_calls(2)
        .success_threshold(2)
        .slow_call(Duration::from_secs(1))
        .critical(true);
    assert_eq!(
        different.conflicts_with(&existing),
        [
            "failure_threshold",
            "half_open_timeout",
            "half_open_max_calls",
            "success_threshold",
            "slow_call",
            "critical"
        ]
    );
    // `critical = false` given is the existing breaker's value: no conflict.
    let not_critical = CircuitBreaker::builder("shared").critical(false);
    assert!(not_critical.conflicts_with(&existing).is_empty());
    let rate = CircuitBreaker::builder("shared")
        .failure_rate(0.5)
        .window_calls(10)
        .min_calls(5);
    assert_eq!(
        rate.conflicts_with(&existing),
        ["failure_rate", "window", "min_calls"]
    );
}

#[test]
fn conflicts_with_a_rate_rule_compare_only_the_keys_given() {
    let existing = CircuitBreaker::builder("shared-rate")
        .failure_rate(0.5)
        .window_duration(Duration::from_secs(60))
        .build()
        .expect("valid");
    let rate_only = CircuitBreaker::builder("shared-rate").failure_rate(0.5);
    assert!(rate_only.conflicts_with(&existing).is_empty());
    let other_window = CircuitBreaker::builder("shared-rate")
        .failure_rate(0.5)
        .window_calls(100);
    assert_eq!(other_window.conflicts_with(&existing), ["window"]);
    let threshold = CircuitBreaker::builder("shared-rate").failure_threshold(5);
    assert_eq!(threshold.conflicts_with(&existing), ["failure_threshold"]);
}

#[test]
fn the_summary_is_one_compact_line() {
    let summary = |builder: crate::CircuitBreakerBuilder| {
        builder.build().expect("valid").config().to_string()
    };
    assert_eq!(
        summary(CircuitBreaker::builder("s")),
        "threshold=5 reset=30s half_open_timeout=30s"
    );
    assert_eq!(
        summary(
            CircuitBreaker::builder("s")
                .reset_timeout(Duration::from_secs(10))
                .half_open_timeout(Duration::from_secs(2))
        ),
        "threshold=5 reset=10s half_open_timeout=2s"
    );
    // A low-traffic time window: `min_calls` defaults to 100, and the summary says so.
    assert_eq!(
        summary(
            CircuitBreaker::builder("s")
                .failure_rate(0.5)
                .window_duration(Duration::from_secs(10))
        ),
        "rate=0.5 window=10s min_calls=100 reset=30s half_open_timeout=30s"
    );
    assert_eq!(
        summary(
            CircuitBreaker::builder("s")
                .failure_rate(0.25)
                .window_duration(Duration::from_secs(60))
                .reset_timeout(Duration::from_millis(1500))
                .half_open_max_calls(2)
                .success_threshold(3)
                .slow_call(Duration::from_millis(250))
        ),
        "rate=0.25 window=60s min_calls=100 reset=1.5s half_open_timeout=1.5s half_open=2 success=3 slow=250ms"
    );
    // `critical` shows only when set.
    assert_eq!(
        summary(CircuitBreaker::builder("s").critical(true)),
        "threshold=5 reset=30s half_open_timeout=30s critical"
    );
    assert_eq!(
        summary(CircuitBreaker::builder("s").critical(false)),
        "threshold=5 reset=30s half_open_timeout=30s"
    );
}

#[test]
fn shared_is_off_by_default_and_shows_in_the_summary_and_the_changed_keys() {
    let local = CircuitBreaker::builder("cfg-local").build().unwrap();
    assert!(!local.is_shared());
    assert!(!local.config().shared);
    let shared = CircuitBreaker::builder("cfg-shared")
        .shared(true)
        .build()
        .unwrap();
    assert!(shared.is_shared());
    assert!(shared.config().to_string().ends_with(" shared"));
    assert_eq!(local.config().changed_keys(&shared.config()), ["shared"]);
    let joining = CircuitBreaker::builder("cfg-shared").shared(false);
    assert_eq!(joining.conflicts_with(&shared), ["shared"]);
    assert!(CircuitBreaker::builder("cfg-shared")
        .conflicts_with(&shared)
        .is_empty());
}
