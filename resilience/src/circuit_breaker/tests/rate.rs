//! The failure-rate rule over count and time windows.

use std::time::Duration;

use super::{build, fail, succeed, TestError};
use crate::{CallOutcome, CircuitBreaker, CircuitState};

#[tokio::test(start_paused = true)]
async fn the_rate_is_judged_only_once_min_calls_outcomes_are_in() {
    let breaker = build(
        CircuitBreaker::builder("rate-min")
            .failure_rate(0.5)
            .window_calls(10)
            .min_calls(4),
    );
    for _ in 0..3 {
        fail(&breaker).await.ok();
    }
    assert_eq!(
        breaker.state(),
        CircuitState::Closed,
        "3 outcomes < min_calls"
    );
    succeed(&breaker).await.ok();
    // 3 failures of 4 outcomes: 75% >= 50%.
    assert_eq!(breaker.state(), CircuitState::Open);
}

#[tokio::test(start_paused = true)]
async fn the_rule_trips_when_the_rate_reaches_failure_rate() {
    let breaker = build(
        CircuitBreaker::builder("rate-reach")
            .failure_rate(0.5)
            .window_calls(10)
            .min_calls(4),
    );
    for _ in 0..3 {
        succeed(&breaker).await.ok();
    }
    fail(&breaker).await.ok(); // 1 of 4
    fail(&breaker).await.ok(); // 2 of 5
    assert_eq!(breaker.state(), CircuitState::Closed);
    assert_eq!(breaker.stats().failure_rate, Some(0.4));
    fail(&breaker).await.ok(); // 3 of 6: exactly 50%
    assert_eq!(breaker.state(), CircuitState::Open);
    assert_eq!(
        breaker.stats().failure_rate,
        None,
        "the transition empties the window"
    );
}

#[tokio::test(start_paused = true)]
async fn a_count_window_forgets_its_oldest_outcome() {
    let breaker = build(
        CircuitBreaker::builder("rate-slide")
            .failure_rate(0.5)
            .window_calls(4),
    );
    fail(&breaker).await.ok();
    for _ in 0..4 {
        succeed(&breaker).await.ok();
    }
    assert_eq!(
        breaker.stats().failure_rate,
        Some(0.0),
        "the failure left the window"
    );
    fail(&breaker).await.ok();
    assert_eq!(breaker.state(), CircuitState::Closed, "1 of 4");
    fail(&breaker).await.ok();
    assert_eq!(breaker.state(), CircuitState::Open, "2 of 4");
}

#[tokio::test(start_paused = true)]
async fn ignored_outcomes_stay_out_of_the_window() {
    let breaker = build(
        CircuitBreaker::builder("rate-ignored")
            .failure_rate(0.5)
            .window_calls(2),
    );
    succeed(&breaker).await.ok();
    for _ in 0..3 {
        let _: Result<(), TestError> = breaker
            .call_with(async { Err(TestError::Operation("bad request")) }, |_| {
                CallOutcome::Ignored
            })
            .await;
    }
    assert_eq!(breaker.stats().failure_rate, Some(0.0));
    fail(&breaker).await.ok();
    assert_eq!(breaker.state(), CircuitState::Open);
}

#[tokio::test(start_paused = true)]
async fn a_time_window_trips_on_the_outcomes_of_its_length() {
    let breaker = build(
        CircuitBreaker::builder("rate-time")
            .failure_rate(0.5)
            .window_duration(Duration::from_secs(10))
            .min_calls(2),
    );
    fail(&breaker).await.ok();
    tokio::time::advance(Duration::from_secs(11)).await;
    // Were the first failure still in the window, this success would make 1 of 2 and trip.
    succeed(&breaker).await.ok();
    assert_eq!(breaker.state(), CircuitState::Closed);
    assert_eq!(breaker.stats().failure_rate, Some(0.0));
    tokio::time::advance(Duration::from_secs(3)).await;
    fail(&breaker).await.ok();
    assert_eq!(breaker.state(), CircuitState::Open, "1 of 2 within 10s");
}

#[tokio::test(start_paused = true)]
async fn a_tripped_rate_rule_recovers_through_half_open_with_a_fresh_window() {
    let breaker = build(
        CircuitBreaker::builder("rate-recover")
            .failure_rate(1.0)
            .window_calls(3)
            .reset_timeout(Duration::from_secs(1)),
    );
    for _ in 0..3 {
        fail(&breaker).await.ok();
    }
    assert_eq!(breaker.state(), CircuitState::Open);
    tokio::time::advance(Duration::from_secs(1)).await;
    succeed(&breaker).await.ok();
    assert_eq!(breaker.state(), CircuitState::Closed);
    // The old failures are gone: two more failures make 2 outcomes, below min_calls (3).
    fail(&breaker).await.ok();
    fail(&breaker).await.ok();
    assert_eq!(breaker.state(), CircuitState::Closed);
    fail(&breaker).await.ok();
    assert_eq!(breaker.state(), CircuitState::Open);
}

#[tokio::test(start_paused = true)]
async fn the_rate_rule_still_reports_the_failure_streak() {
    let breaker = build(CircuitBreaker::builder("rate-streak").failure_rate(0.9));
    fail(&breaker).await.ok();
    fail(&breaker).await.ok();
    assert_eq!(breaker.stats().consecutive_failures, 2);
    assert_eq!(
        breaker.state(),
        CircuitState::Closed,
        "100 calls needed to judge"
    );
}

#[tokio::test(start_paused = true)]
async fn an_outcome_admitted_before_a_transition_stays_out_of_the_window() {
    let breaker = build(
        CircuitBreaker::builder("rate-stale")
            .failure_rate(1.0)
            .window_calls(2),
    );
    let admitted_early = breaker.try_acquire().expect("closed");
    breaker.record_failure();
    breaker.record_failure();
    assert_eq!(breaker.state(), CircuitState::Open);
    breaker.reset();
    breaker.record_failure();
    admitted_early.failure();
    assert_eq!(
        breaker.state(),
        CircuitState::Closed,
        "1 outcome in the fresh window"
    );
    assert_eq!(breaker.stats().failure_rate, Some(1.0));
}
