//! Whatever the shared checks of `resilience-settings` accept, the runtime builders build: the
//! attribute macros validate with the same checks, so a setting that compiles never leaves its
//! call site unprotected. And what the checks refuse, the builders refuse with the same key.
//!
//! Random values for every key of every policy, extremes included: zero, `u32::MAX`, durations
//! up to `u64::MAX` seconds, and NaN and infinities for the float keys.

use std::time::Duration;

use proptest::prelude::*;
use resilience::{
    Backoff, Bulkhead, CircuitBreaker, ConfigError, Jitter, RateLimiter, Retry, Timeout, Window,
};
use resilience_settings::bulkhead::BulkheadSettings;
use resilience_settings::circuit_breaker::{self as breaker, BreakerSettings};
use resilience_settings::rate_limit::{RateLimitSettings, MAX_REFILL};
use resilience_settings::retry::{self, BackoffStrategy, JitterStrategy, RetrySettings};
use resilience_settings::timeout::TimeoutSettings;
use resilience_settings::{Problem, Rule};

fn duration() -> impl Strategy<Value = Duration> {
    prop_oneof![
        Just(Duration::ZERO),
        (0u64..=60_000).prop_map(Duration::from_millis),
        any::<u64>().prop_map(Duration::from_nanos),
        any::<u64>().prop_map(Duration::from_secs),
        (any::<u64>(), 0u32..1_000_000_000).prop_map(|(secs, nanos)| Duration::new(secs, nanos)),
        Just(Duration::from_secs(u64::MAX)),
        Just(Duration::MAX),
        // Around the refill cap, to the nanosecond.
        (0u64..=2).prop_map(|n| MAX_REFILL - Duration::from_nanos(1) + Duration::from_nanos(n)),
    ]
}

fn count() -> impl Strategy<Value = u32> {
    prop_oneof![
        Just(0u32),
        Just(1u32),
        0u32..=200,
        any::<u32>(),
        Just(u32::MAX),
    ]
}

fn float() -> impl Strategy<Value = f64> {
    prop_oneof![
        -2.0f64..3.0,
        any::<f64>(),
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(0.0),
        Just(1.0),
        Just(1.0 + f64::EPSILON),
        Just(f64::MIN_POSITIVE),
    ]
}

fn some<T: std::fmt::Debug + Clone>(
    value: impl Strategy<Value = T>,
) -> impl Strategy<Value = Option<T>> {
    prop::option::weighted(0.6, value)
}

/// The error a builder gives for the checks' first problem.
fn expected_error(problem: &Problem) -> ConfigError {
    match *problem.rule() {
        Rule::Excludes { other, .. } => ConfigError::Exclusive {
            first: other,
            second: problem.key(),
        },
        _ => ConfigError::OutOfRange {
            key: problem.key(),
            value: problem.value().to_owned(),
            allowed: problem.allowed(),
        },
    }
}

/// `Ok` and `Err` alike, and the same error.
fn agree<T>(
    built: Result<T, ConfigError>,
    checked: Result<(), Problem>,
) -> Result<(), TestCaseError> {
    match (built, checked) {
        (Ok(_), Ok(())) => Ok(()),
        (Err(error), Err(problem)) => {
            prop_assert_eq!(error, expected_error(&problem));
            Ok(())
        }
        (Ok(_), Err(problem)) => Err(TestCaseError::fail(format!(
            "the checks refused ({problem}) but the builder built"
        ))),
        (Err(error), Ok(())) => Err(TestCaseError::fail(format!(
            "the checks accepted but the builder refused: {error}"
        ))),
    }
}

fn one_second(_: u32) -> Duration {
    Duration::from_secs(1)
}

fn retry_settings() -> impl Strategy<Value = RetrySettings> {
    let strategy = prop_oneof![
        Just(BackoffStrategy::Exponential),
        Just(BackoffStrategy::Fixed),
        Just(BackoffStrategy::Linear),
        Just(BackoffStrategy::None),
    ];
    let jitter = prop_oneof![
        float().prop_map(JitterStrategy::Proportional),
        Just(JitterStrategy::Proportional(retry::DEFAULT_JITTER_FRACTION)),
        Just(JitterStrategy::Full),
        Just(JitterStrategy::Equal),
        Just(JitterStrategy::Decorrelated),
    ];
    (
        some(count()),
        some(strategy),
        some(duration()),
        some(float()),
        some(duration()),
        prop::option::weighted(0.2, prop::collection::vec(duration(), 0..4)),
        prop::bool::weighted(0.1),
        some(jitter),
        some(duration()),
    )
        .prop_map(
            |(
                max_attempts,
                backoff,
                delay,
                factor,
                max_delay,
                delays,
                backoff_fn,
                jitter,
                max_elapsed,
            )| {
                RetrySettings {
                    max_attempts,
                    backoff,
                    delay,
                    factor,
                    max_delay,
                    delays,
                    backoff_fn,
                    jitter,
                    max_elapsed,
                }
            },
        )
}

/// Whether the builder can say what the settings say: the backoff keys that exclude each other,
/// or a parameter of another strategy, have no builder call (the checks refuse them).
fn expressible(settings: &RetrySettings) -> bool {
    let parameters =
        settings.backoff.is_some() || settings.delay.is_some() || settings.factor.is_some();
    let strategy = settings.backoff.unwrap_or_default();
    let schedules = usize::from(settings.delays.is_some()) + usize::from(settings.backoff_fn);
    schedules + usize::from(parameters) <= 1
        && (settings.factor.is_none() || strategy == BackoffStrategy::Exponential)
        && (settings.delay.is_none() || strategy != BackoffStrategy::None)
}

/// The builder calls for the settings, as `#[retry]` expands them.
fn retry_builder(settings: &RetrySettings) -> resilience::RetryBuilder {
    let mut builder = Retry::builder("settings-retry");
    if let Some(attempts) = settings.max_attempts {
        builder = builder.max_attempts(attempts);
    }
    if settings.backoff_fn {
        builder = builder.backoff_fn(one_second);
    } else if let Some(delays) = &settings.delays {
        builder = builder.delays(delays.clone());
    } else if settings.backoff.is_some() || settings.delay.is_some() || settings.factor.is_some() {
        let delay = settings.delay.unwrap_or(retry::DEFAULT_DELAY);
        builder = builder.backoff(match settings.backoff.unwrap_or_default() {
            BackoffStrategy::Exponential => Backoff::Exponential {
                base: delay,
                factor: settings.factor.unwrap_or(retry::DEFAULT_FACTOR),
            },
            BackoffStrategy::Fixed => Backoff::Fixed(delay),
            BackoffStrategy::Linear => Backoff::Linear(delay),
            BackoffStrategy::None => Backoff::None,
        });
    }
    if let Some(max_delay) = settings.max_delay {
        builder = builder.max_delay(max_delay);
    }
    if let Some(jitter) = settings.jitter {
        builder = builder.jitter(match jitter {
            JitterStrategy::Proportional(fraction) => Jitter::Proportional(fraction),
            JitterStrategy::Full => Jitter::Full,
            JitterStrategy::Equal => Jitter::Equal,
            JitterStrategy::Decorrelated => Jitter::Decorrelated,
        });
    }
    if let Some(max_elapsed) = settings.max_elapsed {
        builder = builder.max_elapsed(max_elapsed);
    }
    builder
}

fn breaker_settings() -> impl Strategy<Value = BreakerSettings> {
    let window = prop_oneof![
        count().prop_map(breaker::Window::Calls),
        duration().prop_map(breaker::Window::Time),
    ];
    (
        (some(count()), some(float()), some(window), some(count())),
        (
            some(duration()),
            some(count()),
            some(count()),
            some(duration()),
            some(any::<bool>()),
        ),
    )
        .prop_map(
            |(
                (failure_threshold, failure_rate, window, min_calls),
                (reset_timeout, half_open_max_calls, success_threshold, slow_call, critical),
            )| BreakerSettings {
                failure_threshold,
                failure_rate,
                window,
                min_calls,
                reset_timeout,
                half_open_max_calls,
                success_threshold,
                slow_call,
                // The runtime breaker gains `half_open_timeout` on another branch; until then
                // the builder has no call for it.
                half_open_timeout: None,
                critical,
                shared: None,
            },
        )
}

fn breaker_builder(settings: &BreakerSettings) -> resilience::CircuitBreakerBuilder {
    let mut builder = CircuitBreaker::builder("settings-breaker");
    if let Some(threshold) = settings.failure_threshold {
        builder = builder.failure_threshold(threshold);
    }
    if let Some(rate) = settings.failure_rate {
        builder = builder.failure_rate(rate);
    }
    match settings.window {
        Some(breaker::Window::Calls(calls)) => builder = builder.window(Window::Calls(calls)),
        Some(breaker::Window::Time(length)) => builder = builder.window(Window::Time(length)),
        None => {}
    }
    if let Some(min_calls) = settings.min_calls {
        builder = builder.min_calls(min_calls);
    }
    if let Some(reset_timeout) = settings.reset_timeout {
        builder = builder.reset_timeout(reset_timeout);
    }
    if let Some(calls) = settings.half_open_max_calls {
        builder = builder.half_open_max_calls(calls);
    }
    if let Some(successes) = settings.success_threshold {
        builder = builder.success_threshold(successes);
    }
    if let Some(limit) = settings.slow_call {
        builder = builder.slow_call(limit);
    }
    if let Some(critical) = settings.critical {
        builder = builder.critical(critical);
    }
    builder
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 2000,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn retry_builds_what_the_checks_accept(settings in retry_settings()) {
        let checked = settings.check();
        let built = retry_builder(&settings).build();
        if expressible(&settings) {
            agree(built, checked)?;
        } else {
            prop_assert!(checked.is_err(), "{:?}", settings);
        }
    }

    #[test]
    fn circuit_breaker_builds_what_the_checks_accept(settings in breaker_settings()) {
        agree(breaker_builder(&settings).build(), settings.check())?;
    }

    #[test]
    fn timeout_builds_what_the_checks_accept(duration in some(duration())) {
        let mut builder = Timeout::builder("settings-timeout");
        if let Some(duration) = duration {
            builder = builder.duration(duration);
        }
        agree(builder.build(), TimeoutSettings { duration }.check())?;
    }

    #[test]
    fn bulkhead_builds_what_the_checks_accept(
        max in some(count()),
        queue in some(count()),
        queue_timeout in some(duration()),
    ) {
        let mut builder = Bulkhead::builder("settings-bulkhead");
        if let Some(max) = max {
            builder = builder.max_concurrent(max);
        }
        if let Some(queue) = queue {
            builder = builder.queue(queue);
        }
        if let Some(queue_timeout) = queue_timeout {
            builder = builder.queue_timeout(queue_timeout);
        }
        agree(builder.build(), BulkheadSettings { max, queue, queue_timeout }.check())?;
    }

    #[test]
    fn rate_limiter_builds_what_the_checks_accept(
        rate in some(count()),
        per in some(duration()),
        burst in some(count()),
        wait in some(duration()),
    ) {
        let mut builder = RateLimiter::builder("settings-rate-limiter");
        if let Some(rate) = rate {
            builder = builder.rate(rate);
        }
        if let Some(per) = per {
            builder = builder.per(per);
        }
        if let Some(burst) = burst {
            builder = builder.burst(burst);
        }
        if let Some(wait) = wait {
            builder = builder.wait(wait);
        }
        let built = builder.build();
        if let Ok(limiter) = &built {
            // A limiter built at the extremes admits and refuses without overflow or panic.
            for _ in 0..3 {
                let _ = limiter.try_acquire();
            }
        }
        agree(built, RateLimitSettings { rate, per, burst, wait, shared: None }.check())?;
    }

    #[test]
    fn every_builder_refuses_a_blank_name(name in "[ \t\n]{0,3}|[a-z ]{1,6}") {
        let checked = resilience_settings::check_name(&name);
        agree(Timeout::builder(name.as_str()).duration(Duration::from_secs(1)).build(), checked.clone())?;
        agree(Retry::builder(name.as_str()).build(), checked.clone())?;
        agree(CircuitBreaker::builder(name.as_str()).build(), checked.clone())?;
        agree(Bulkhead::builder(name.as_str()).max_concurrent(1).build(), checked.clone())?;
        agree(RateLimiter::builder(name.as_str()).rate(1).build(), checked.clone())?;
        agree(resilience::Fallback::builder(name.as_str()).build(), checked)?;
    }
}

const YEAR: Duration = Duration::from_secs(31_557_600);

/// `#[rate_limit(rate = 1, per = "150years")]` once compiled and then ran unprotected: `burst`
/// defaults to `rate`, and only the runtime checked the refill of a default burst.
#[test]
fn a_period_too_long_to_refill_is_refused_on_both_sides() {
    let settings = RateLimitSettings {
        rate: Some(1),
        per: Some(150 * YEAR),
        ..RateLimitSettings::default()
    };
    let problem = settings.check().expect_err("150 years cannot refill");
    assert_eq!(problem.key(), "per");
    let built = RateLimiter::builder("settings-150-years")
        .rate(1)
        .per(150 * YEAR)
        .build();
    assert!(matches!(
        built,
        Err(ConfigError::OutOfRange { key: "per", .. })
    ));
    // "100y" as a duration string counts them is the cap itself, and builds.
    assert!(RateLimiter::builder("settings-100-years")
        .rate(1)
        .per(100 * YEAR)
        .build()
        .is_ok());
}

/// The rules the runtime did not check before the table: a retry's first delay over its cap, a
/// zero `max_elapsed`, a queue timeout with no queue.
#[test]
fn the_rules_once_checked_only_by_the_macros_hold_at_run_time() {
    let key = |error: ConfigError| match error {
        ConfigError::OutOfRange { key, .. } => key,
        other => panic!("expected OutOfRange, got {other:?}"),
    };
    let fixed_minute = Retry::builder("settings-cap")
        .fixed(Duration::from_secs(60))
        .build();
    assert_eq!(fixed_minute.map(drop).map_err(key), Err("delay"));
    let capped = Retry::builder("settings-cap")
        .fixed(Duration::from_secs(60))
        .max_delay(Duration::from_secs(10))
        .build();
    assert_eq!(capped.map(drop).map_err(key), Err("max_delay"));
    assert!(Retry::builder("settings-cap")
        .fixed(Duration::from_secs(60))
        .max_delay(Duration::from_secs(60))
        .build()
        .is_ok());
    let no_time = Retry::builder("settings-elapsed")
        .max_elapsed(Duration::ZERO)
        .build();
    assert_eq!(no_time.map(drop).map_err(key), Err("max_elapsed"));
    let no_queue = Bulkhead::builder("settings-queue")
        .max_concurrent(1)
        .queue_timeout(Duration::from_secs(1))
        .build();
    assert_eq!(no_queue.map(drop).map_err(key), Err("queue_timeout"));
}
