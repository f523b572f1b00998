//! A new configuration taken in place: the state, counts and probe slots survive it.

use std::future::{poll_fn, Future};
use std::pin::pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use super::{build, fail, retry_after, succeed, TestError};
use crate::{CircuitBreaker, CircuitBreakerConfig, CircuitState, TripRule, Window};

const RESET: Duration = Duration::from_secs(10);

/// Reconfigures `breaker` with its configuration changed by `change`; returns the changed keys.
fn retune(
    breaker: &CircuitBreaker,
    change: impl FnOnce(&mut CircuitBreakerConfig),
) -> Vec<&'static str> {
    let mut config = breaker.config();
    change(&mut config);
    breaker.reconfigure(config)
}

fn rate_rule(rate: f64, calls: u32) -> TripRule {
    TripRule::FailureRate {
        rate,
        window: Window::Calls(calls),
        min_calls: calls,
    }
}

/// A breaker opened by one failure, with a 10s reset timeout.
async fn opened(builder: crate::CircuitBreakerBuilder) -> CircuitBreaker {
    let breaker = build(builder.failure_threshold(1).reset_timeout(RESET));
    fail(&breaker).await.ok();
    assert_eq!(breaker.state(), CircuitState::Open);
    breaker
}

#[test]
fn the_changed_keys_are_listed_in_the_attribute_order() {
    let breaker = CircuitBreaker::with_defaults("retune-keys");
    assert!(retune(&breaker, |_| {}).is_empty(), "nothing changed");
    assert_eq!(
        retune(&breaker, |config| {
            config.slow_call = Some(Duration::from_secs(2));
            config.half_open_max_calls = 3;
            config.trip = TripRule::ConsecutiveFailures(7);
        }),
        ["failure_threshold", "half_open_max_calls", "slow_call"]
    );
    assert_eq!(breaker.config().trip, TripRule::ConsecutiveFailures(7));
    // Another rule: the keys of both rules.
    assert_eq!(
        retune(&breaker, |config| config.trip = rate_rule(0.5, 20)),
        ["failure_threshold", "failure_rate", "window", "min_calls"]
    );
    assert_eq!(
        retune(&breaker, |config| {
            config.trip = TripRule::FailureRate {
                rate: 0.5,
                window: Window::Time(Duration::from_secs(60)),
                min_calls: 20,
            };
            config.success_threshold = 2;
        }),
        ["window", "success_threshold"]
    );
    // The half-open timeout left to its default follows the reset timeout.
    assert_eq!(
        retune(&breaker, |config| config.reset_timeout = RESET),
        ["reset_timeout", "half_open_timeout"]
    );
    // Setting it to the value already in effect changes nothing, though the config now says so.
    assert!(retune(&breaker, |config| config.half_open_timeout = Some(RESET)).is_empty());
    assert_eq!(breaker.config().half_open_timeout, Some(RESET));
    assert_eq!(
        retune(&breaker, |config| config.reset_timeout = 2 * RESET),
        ["reset_timeout"]
    );
    assert_eq!(
        retune(&breaker, |config| {
            config.critical = true;
            config.success_threshold = 1;
        }),
        ["success_threshold", "critical"]
    );
}

#[tokio::test(start_paused = true)]
async fn critical_applies_at_once_and_leaves_the_state_and_counts() {
    let breaker = opened(CircuitBreaker::builder("retune-critical")).await;
    assert!(!breaker.is_critical());
    assert_eq!(
        retune(&breaker, |config| config.critical = true),
        ["critical"]
    );
    assert!(breaker.is_critical());
    assert!(breaker.config().critical);
    assert_eq!(breaker.state(), CircuitState::Open);
    assert_eq!(breaker.stats().failures, 1);
    assert_eq!(retry_after(succeed(&breaker).await), Some(RESET));
    assert_eq!(
        retune(&breaker, |config| config.critical = false),
        ["critical"]
    );
    assert!(!breaker.is_critical());
}

#[tokio::test(start_paused = true)]
async fn an_open_circuit_stays_open_and_the_new_reset_timeout_counts_from_its_opening() {
    let breaker = opened(CircuitBreaker::builder("retune-open")).await;
    tokio::time::advance(Duration::from_secs(4)).await;
    assert_eq!(
        retune(&breaker, |config| config.reset_timeout = 3 * RESET),
        ["reset_timeout", "half_open_timeout"]
    );
    assert_eq!(breaker.state(), CircuitState::Open);
    assert_eq!(
        retry_after(succeed(&breaker).await),
        Some(Duration::from_secs(26))
    );
    // The old reset timeout has passed: still open.
    tokio::time::advance(RESET).await;
    assert_eq!(
        retry_after(succeed(&breaker).await),
        Some(Duration::from_secs(16))
    );
    tokio::time::advance(Duration::from_secs(16)).await;
    assert_eq!(succeed(&breaker).await, Ok(()), "the probe runs at 30s");
    assert_eq!(breaker.state(), CircuitState::Closed);
    assert_eq!(breaker.stats().rejected, 2);
}

#[tokio::test(start_paused = true)]
async fn a_shorter_reset_timeout_that_has_elapsed_lets_the_next_call_probe() {
    let breaker = opened(CircuitBreaker::builder("retune-shorter")).await;
    tokio::time::advance(Duration::from_secs(4)).await;
    retune(&breaker, |config| {
        config.reset_timeout = Duration::from_secs(3)
    });
    assert_eq!(breaker.state(), CircuitState::Open, "until a call arrives");
    let probe = breaker
        .try_acquire()
        .expect("3s have passed since it opened");
    assert_eq!(breaker.state(), CircuitState::HalfOpen);
    probe.failure();
    // A fresh open period, of the new length.
    assert_eq!(
        retry_after(succeed(&breaker).await),
        Some(Duration::from_secs(3))
    );
}

#[tokio::test(start_paused = true)]
async fn a_forced_open_circuit_stays_forced_open() {
    let breaker = build(CircuitBreaker::builder("retune-forced"));
    breaker.force_open();
    retune(&breaker, |config| config.reset_timeout = Duration::ZERO);
    tokio::time::advance(RESET).await;
    assert_eq!(retry_after(succeed(&breaker).await), None);
    assert_eq!(breaker.state(), CircuitState::Open);
}

#[tokio::test(start_paused = true)]
async fn the_streak_is_kept_when_the_rule_is_unchanged() {
    let breaker = build(CircuitBreaker::builder("retune-streak-kept").failure_threshold(3));
    fail(&breaker).await.ok();
    fail(&breaker).await.ok();
    retune(&breaker, |config| {
        config.reset_timeout = RESET;
        config.slow_call = Some(Duration::from_secs(1));
    });
    assert_eq!(breaker.stats().consecutive_failures, 2);
    fail(&breaker).await.ok();
    assert_eq!(breaker.state(), CircuitState::Open, "the third in a row");
}

#[tokio::test(start_paused = true)]
async fn a_new_threshold_restarts_the_streak_and_keeps_the_counts() {
    let breaker = build(CircuitBreaker::builder("retune-streak-new").failure_threshold(3));
    succeed(&breaker).await.ok();
    fail(&breaker).await.ok();
    fail(&breaker).await.ok();
    assert_eq!(
        retune(&breaker, |config| config.trip =
            TripRule::ConsecutiveFailures(4)),
        ["failure_threshold"]
    );
    let stats = breaker.stats();
    assert_eq!(stats.consecutive_failures, 0);
    assert_eq!((stats.calls, stats.successes, stats.failures), (3, 1, 2));
    assert_eq!(stats.state, CircuitState::Closed);
    for _ in 0..3 {
        fail(&breaker).await.ok();
    }
    assert_eq!(breaker.state(), CircuitState::Closed, "3 of a fresh 4");
    fail(&breaker).await.ok();
    assert_eq!(breaker.state(), CircuitState::Open);
}

#[tokio::test(start_paused = true)]
async fn an_outcome_admitted_under_the_old_rule_does_not_count_under_the_new() {
    let breaker = build(CircuitBreaker::builder("retune-admitted").failure_threshold(3));
    let in_flight = breaker.try_acquire().expect("closed");
    retune(&breaker, |config| {
        config.trip = TripRule::ConsecutiveFailures(1)
    });
    in_flight.failure();
    assert_eq!(breaker.state(), CircuitState::Closed);
    assert_eq!(
        breaker.stats().failures,
        1,
        "counted in the stats all the same"
    );
    fail(&breaker).await.ok();
    assert_eq!(
        breaker.state(),
        CircuitState::Open,
        "one failure of the new rule"
    );
}

#[tokio::test(start_paused = true)]
async fn the_rate_window_is_kept_when_only_the_reset_timeout_changes() {
    let breaker = build(
        CircuitBreaker::builder("retune-window-kept")
            .failure_rate(0.5)
            .window_calls(4),
    );
    fail(&breaker).await.ok();
    succeed(&breaker).await.ok();
    succeed(&breaker).await.ok();
    assert_eq!(
        retune(&breaker, |config| config.reset_timeout = RESET),
        ["reset_timeout", "half_open_timeout"]
    );
    assert_eq!(breaker.stats().failure_rate, Some(1.0 / 3.0));
    fail(&breaker).await.ok();
    // 2 failures of the 4 outcomes, two of them from before the reconfiguration.
    assert_eq!(breaker.state(), CircuitState::Open);
}

#[tokio::test(start_paused = true)]
async fn a_new_window_size_or_rate_restarts_the_window() {
    let breaker = build(
        CircuitBreaker::builder("retune-window-new")
            .failure_rate(0.5)
            .window_calls(4),
    );
    fail(&breaker).await.ok();
    fail(&breaker).await.ok();
    succeed(&breaker).await.ok();
    assert_eq!(
        retune(&breaker, |config| config.trip = rate_rule(0.5, 2)),
        ["window", "min_calls"]
    );
    assert_eq!(breaker.stats().failure_rate, None, "a fresh window");
    succeed(&breaker).await.ok();
    succeed(&breaker).await.ok();
    assert_eq!(breaker.stats().failure_rate, Some(0.0));

    assert_eq!(
        retune(&breaker, |config| config.trip = rate_rule(0.75, 2)),
        ["failure_rate"]
    );
    assert_eq!(breaker.stats().failure_rate, None);
    fail(&breaker).await.ok();
    succeed(&breaker).await.ok();
    assert_eq!(breaker.state(), CircuitState::Closed, "50% < 75%");
    fail(&breaker).await.ok();
    fail(&breaker).await.ok();
    assert_eq!(breaker.state(), CircuitState::Open);
}

#[tokio::test(start_paused = true)]
async fn a_change_of_rule_kind_starts_the_new_rule_fresh() {
    let breaker = build(CircuitBreaker::builder("retune-kind").failure_threshold(3));
    fail(&breaker).await.ok();
    fail(&breaker).await.ok();
    retune(&breaker, |config| config.trip = rate_rule(1.0, 2));
    assert_eq!(breaker.stats().consecutive_failures, 0);
    fail(&breaker).await.ok();
    assert_eq!(
        breaker.state(),
        CircuitState::Closed,
        "1 outcome < min_calls"
    );
    fail(&breaker).await.ok();
    assert_eq!(breaker.state(), CircuitState::Open);

    // While open the rule changes back; it applies from the next closing.
    retune(&breaker, |config| {
        config.trip = TripRule::ConsecutiveFailures(2);
        config.reset_timeout = Duration::ZERO;
    });
    assert_eq!(breaker.stats().failure_rate, None);
    succeed(&breaker).await.ok();
    assert_eq!(breaker.state(), CircuitState::Closed);
    fail(&breaker).await.ok();
    assert_eq!(breaker.state(), CircuitState::Closed);
    fail(&breaker).await.ok();
    assert_eq!(breaker.state(), CircuitState::Open);
}

#[tokio::test(start_paused = true)]
async fn a_probe_in_flight_during_a_reconfiguration_still_closes_the_circuit() {
    let breaker = opened(CircuitBreaker::builder("retune-probe-closes")).await;
    tokio::time::advance(RESET).await;
    let probe = breaker.try_acquire().expect("the first probe");
    retune(&breaker, |config| {
        config.trip = TripRule::ConsecutiveFailures(2);
        config.slow_call = Some(Duration::from_secs(60));
    });
    assert_eq!(breaker.state(), CircuitState::HalfOpen);
    probe.success();
    assert_eq!(breaker.state(), CircuitState::Closed);
    assert_eq!(breaker.probes_in_flight(), 0);
    fail(&breaker).await.ok();
    assert_eq!(breaker.state(), CircuitState::Closed, "the new threshold");
}

#[tokio::test(start_paused = true)]
async fn a_probe_in_flight_during_a_reconfiguration_still_reopens_the_circuit() {
    let breaker = opened(CircuitBreaker::builder("retune-probe-reopens")).await;
    tokio::time::advance(RESET).await;
    let probe = breaker.try_acquire().expect("the first probe");
    retune(&breaker, |config| {
        config.success_threshold = 3;
        config.reset_timeout = 2 * RESET;
    });
    probe.failure();
    assert_eq!(breaker.state(), CircuitState::Open);
    assert_eq!(breaker.probes_in_flight(), 0);
    assert_eq!(retry_after(succeed(&breaker).await), Some(2 * RESET));
}

#[tokio::test(start_paused = true)]
async fn a_raised_probe_limit_admits_more_probes_at_once() {
    let breaker = opened(CircuitBreaker::builder("retune-more-probes")).await;
    tokio::time::advance(RESET).await;
    let first = breaker.try_acquire().expect("the first probe");
    assert!(breaker.try_acquire().is_err(), "one probe at a time");
    retune(&breaker, |config| {
        config.half_open_max_calls = 2;
        config.success_threshold = 2;
    });
    let second = breaker.try_acquire().expect("the new second slot");
    assert!(breaker.try_acquire().is_err());
    assert_eq!(breaker.probes_in_flight(), 2);
    first.success();
    assert_eq!(breaker.state(), CircuitState::HalfOpen, "1 of 2 successes");
    second.success();
    assert_eq!(breaker.state(), CircuitState::Closed);
    assert_eq!(breaker.probes_in_flight(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_lowered_probe_limit_waits_for_the_probes_in_flight_and_leaks_no_slot() {
    let breaker = opened(
        CircuitBreaker::builder("retune-fewer-probes")
            .half_open_max_calls(3)
            .success_threshold(5),
    )
    .await;
    tokio::time::advance(RESET).await;
    let [first, second, third] = [(); 3].map(|()| breaker.try_acquire().expect("three slots"));
    retune(&breaker, |config| config.half_open_max_calls = 1);
    assert!(breaker.try_acquire().is_err());
    drop(first);
    assert!(breaker.try_acquire().is_err(), "two still in flight");
    second.ignore();
    assert!(
        breaker.try_acquire().is_err(),
        "one still in flight: the limit"
    );
    third.success();
    assert_eq!(breaker.probes_in_flight(), 0);
    let probe = breaker.try_acquire().expect("every slot came back");
    assert!(breaker.try_acquire().is_err(), "one at a time now");
    drop(probe);
    assert_eq!(breaker.state(), CircuitState::HalfOpen);
    assert_eq!(breaker.probes_in_flight(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_lowered_success_threshold_applies_from_the_next_probe_success() {
    let breaker = opened(
        CircuitBreaker::builder("retune-success-threshold")
            .half_open_max_calls(2)
            .success_threshold(3),
    )
    .await;
    tokio::time::advance(RESET).await;
    let first = breaker.try_acquire().expect("slot 1");
    let second = breaker.try_acquire().expect("slot 2");
    first.success();
    retune(&breaker, |config| config.success_threshold = 2);
    assert_eq!(breaker.state(), CircuitState::HalfOpen);
    second.success();
    assert_eq!(breaker.state(), CircuitState::Closed, "2 successes of 2");
}

#[tokio::test(start_paused = true)]
async fn a_shorter_half_open_timeout_applies_to_the_probe_in_flight() {
    let breaker = opened(CircuitBreaker::builder("retune-half-open-timeout")).await;
    tokio::time::advance(RESET).await;
    let probe = breaker.try_acquire().expect("the first probe");
    tokio::time::advance(Duration::from_secs(3)).await;
    retune(&breaker, |config| {
        config.half_open_timeout = Some(Duration::from_secs(2));
    });
    // The probe has run 3s >= 2s: the next call finds it late, and the circuit re-opens.
    assert_eq!(retry_after(succeed(&breaker).await), Some(RESET));
    probe.success();
    assert_eq!(breaker.state(), CircuitState::Open, "too late");
    assert_eq!(breaker.probes_in_flight(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_slow_call_limit_judges_the_calls_timed_at_admission() {
    let breaker = build(CircuitBreaker::builder("retune-slow").failure_threshold(1));
    let untimed = breaker.try_acquire().expect("closed");
    retune(&breaker, |config| {
        config.slow_call = Some(Duration::from_secs(1));
    });
    let timed = breaker.try_acquire().expect("closed");
    tokio::time::advance(Duration::from_secs(5)).await;
    untimed.success();
    assert_eq!(
        (breaker.stats().successes, breaker.state()),
        (1, CircuitState::Closed),
        "admitted with no limit, so not timed: a success"
    );
    timed.success();
    assert_eq!(breaker.stats().failures, 1, "5s > 1s");
    assert_eq!(breaker.state(), CircuitState::Open);

    // Removing the limit puts the closed success path back.
    retune(&breaker, |config| {
        config.slow_call = None;
        config.reset_timeout = Duration::ZERO;
    });
    assert_eq!(succeed(&breaker).await, Ok(()), "the probe");
    let call = breaker.try_acquire().expect("closed");
    tokio::time::advance(Duration::from_secs(5)).await;
    call.success();
    assert_eq!(breaker.stats().failures, 1);
    assert_eq!(breaker.state(), CircuitState::Closed);
}

/// Two tasks call while the configuration changes under them, over and over: every call is
/// counted once, and the breaker ends neither stuck half-open nor holding a probe slot.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconfiguring_under_concurrent_calls_keeps_every_count_and_slot() {
    const CALLS: u64 = 4000;
    // `reset_timeout` zero and a long `half_open_timeout`: no branch depends on the wall clock.
    let configs: Vec<CircuitBreakerConfig> = vec![
        CircuitBreakerConfig {
            trip: TripRule::ConsecutiveFailures(2),
            half_open_max_calls: 2,
            success_threshold: 2,
            ..CircuitBreakerConfig::default()
        },
        CircuitBreakerConfig {
            trip: rate_rule(0.5, 8),
            half_open_max_calls: 1,
            ..CircuitBreakerConfig::default()
        },
        CircuitBreakerConfig {
            trip: TripRule::ConsecutiveFailures(3),
            half_open_max_calls: 3,
            success_threshold: 1,
            slow_call: Some(Duration::from_secs(3600)),
            ..CircuitBreakerConfig::default()
        },
    ]
    .into_iter()
    .map(|config| CircuitBreakerConfig {
        reset_timeout: Duration::ZERO,
        half_open_timeout: Some(Duration::from_secs(3600)),
        ..config
    })
    .collect();
    let breaker = Arc::new(CircuitBreaker::new("retune-concurrent", configs[0].clone()).unwrap());
    let callers: Vec<_> = (0..2u64)
        .map(|caller| {
            let breaker = Arc::clone(&breaker);
            tokio::spawn(async move {
                for call in 0..CALLS {
                    // Runs of four failures and four successes, so that every rule trips and
                    // every half-open period sees both; each call yields inside, so that calls
                    // (and probes) are in flight while the configuration changes.
                    let fails = (call / 4 + caller) % 2 == 0;
                    let body = breaker.call(async move {
                        tokio::task::yield_now().await;
                        if fails {
                            Err(TestError::Operation("down"))
                        } else {
                            Ok(())
                        }
                    });
                    if call % 7 == 0 {
                        // Polled once, then abandoned at its first await: a neutral outcome.
                        let mut body = pin!(body);
                        let first = poll_fn(|cx| Poll::Ready(body.as_mut().poll(cx))).await;
                        assert!(
                            matches!(
                                first,
                                Poll::Pending | Poll::Ready(Err(TestError::Rejected(_)))
                            ),
                            "admitted calls yield; only a rejection ends at once: {first:?}"
                        );
                    } else {
                        match body.await {
                            Ok(()) | Err(TestError::Operation(_) | TestError::Rejected(_)) => {}
                        }
                    }
                }
            })
        })
        .collect();
    let mut reconfigurations = 0;
    while !callers.iter().all(|caller| caller.is_finished()) {
        let config = configs[reconfigurations % configs.len()].clone();
        breaker.reconfigure(config);
        reconfigurations += 1;
        tokio::task::yield_now().await;
    }
    for caller in callers {
        caller.await.expect("no caller panics");
    }
    assert!(reconfigurations > 1);

    let stats = breaker.stats();
    assert!(stats.opened_at.is_some(), "the runs of failures opened it");
    assert_eq!(
        stats.calls,
        stats.successes + stats.failures + stats.ignored
    );
    assert_eq!(stats.calls + stats.rejected, 2 * CALLS);
    assert_eq!(breaker.probes_in_flight(), 0, "a probe slot leaked");
    // Not stuck: whatever the state, one success under a one-success rule closes the circuit.
    breaker.reconfigure(CircuitBreakerConfig {
        success_threshold: 1,
        ..configs[0].clone()
    });
    assert_eq!(succeed(&breaker).await, Ok(()));
    assert_eq!(breaker.state(), CircuitState::Closed);
}
