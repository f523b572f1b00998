//! Open → half-open → closed or open again; probe slots; forcing open.

use std::sync::Arc;
use std::time::Duration;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use super::{build, fail, retry_after, succeed, succeed_after, TestError};
use crate::{CircuitBreaker, CircuitState};

const RESET: Duration = Duration::from_secs(10);

/// A breaker opened by one failure, with a 10s reset timeout.
async fn opened(builder: crate::CircuitBreakerBuilder) -> CircuitBreaker {
    let breaker = build(builder.failure_threshold(1).reset_timeout(RESET));
    fail(&breaker).await.ok();
    assert_eq!(breaker.state(), CircuitState::Open);
    breaker
}

#[tokio::test(start_paused = true)]
async fn half_open_once_reset_timeout_has_elapsed() {
    let breaker = opened(CircuitBreaker::builder("half-open")).await;
    tokio::time::advance(RESET - Duration::from_millis(1)).await;
    assert_eq!(
        retry_after(succeed(&breaker).await),
        Duration::from_millis(1)
    );
    tokio::time::advance(Duration::from_millis(1)).await;
    // The state changes on the next call, not by itself.
    assert_eq!(breaker.state(), CircuitState::Open);
    let probe = breaker
        .try_acquire()
        .expect("exactly reset_timeout later a probe runs");
    assert_eq!(breaker.state(), CircuitState::HalfOpen);
    drop(probe);
}

#[tokio::test(start_paused = true)]
async fn a_probe_success_closes_the_circuit() {
    let breaker = opened(CircuitBreaker::builder("probe-success")).await;
    tokio::time::advance(RESET).await;
    assert_eq!(succeed(&breaker).await, Ok(()));
    assert_eq!(breaker.state(), CircuitState::Closed);
    // Closed again with a fresh streak: one failure opens it.
    fail(&breaker).await.ok();
    assert_eq!(breaker.state(), CircuitState::Open);
}

#[tokio::test(start_paused = true)]
async fn a_probe_failure_reopens_for_a_full_reset_timeout() {
    let breaker = opened(CircuitBreaker::builder("probe-failure").success_threshold(3)).await;
    tokio::time::advance(RESET).await;
    assert_eq!(succeed(&breaker).await, Ok(()));
    assert_eq!(breaker.state(), CircuitState::HalfOpen);
    assert_eq!(fail(&breaker).await, Err(TestError::Operation("down")));
    assert_eq!(breaker.state(), CircuitState::Open);
    assert_eq!(retry_after(succeed(&breaker).await), RESET);
}

#[tokio::test(start_paused = true)]
async fn half_open_max_calls_caps_the_probes_in_flight() {
    let breaker = opened(CircuitBreaker::builder("probe-slots").half_open_max_calls(3)).await;
    tokio::time::advance(RESET).await;
    let first = breaker.try_acquire().expect("slot 1");
    let second = breaker.try_acquire().expect("slot 2");
    let third = breaker.try_acquire().expect("slot 3");
    assert_eq!(
        breaker
            .try_acquire()
            .map(drop)
            .map_err(|error| error.retry_after()),
        Err(Some(Duration::ZERO)),
        "a fourth probe is rejected while three are in flight"
    );
    // A finished probe gives its slot back...
    first.ignore();
    let fourth = breaker.try_acquire().expect("the ignored probe's slot");
    assert!(breaker.try_acquire().is_err());
    // ...and so does one dropped without an outcome.
    drop(second);
    let fifth = breaker.try_acquire().expect("the dropped probe's slot");
    assert!(breaker.try_acquire().is_err());
    assert_eq!(breaker.state(), CircuitState::HalfOpen);
    third.success();
    assert_eq!(breaker.state(), CircuitState::Closed);
    // Probes of the finished half-open period change nothing.
    fourth.failure();
    fifth.failure();
    assert_eq!(breaker.state(), CircuitState::Closed);
}

#[tokio::test(start_paused = true)]
async fn a_probe_future_dropped_mid_flight_gives_its_slot_back() {
    let breaker = opened(CircuitBreaker::builder("probe-drop")).await;
    tokio::time::advance(RESET).await;
    let abandoned = tokio::time::timeout(
        Duration::from_secs(1),
        succeed_after(&breaker, Duration::from_secs(60)),
    )
    .await;
    assert!(abandoned.is_err());
    assert_eq!(breaker.state(), CircuitState::HalfOpen);
    assert_eq!(succeed(&breaker).await, Ok(()), "the slot is free again");
    assert_eq!(breaker.state(), CircuitState::Closed);
}

#[tokio::test(start_paused = true)]
async fn a_success_threshold_above_the_slots_admits_batches() {
    let breaker = opened(
        CircuitBreaker::builder("batches")
            .half_open_max_calls(2)
            .success_threshold(5),
    )
    .await;
    tokio::time::advance(RESET).await;
    let mut successes = 0;
    while successes < 5 {
        let batch = [
            breaker.try_acquire().expect("a slot of this batch"),
            breaker.try_acquire().expect("a slot of this batch"),
        ];
        assert!(breaker.try_acquire().is_err(), "two probes at a time");
        for probe in batch {
            assert_eq!(breaker.state(), CircuitState::HalfOpen);
            probe.success();
            successes += 1;
            if successes == 5 {
                break;
            }
        }
    }
    assert_eq!(breaker.state(), CircuitState::Closed);
}

#[tokio::test(start_paused = true)]
async fn record_outcomes_in_half_open_count_as_probes() {
    let breaker = opened(CircuitBreaker::builder("record-probe").success_threshold(2)).await;
    tokio::time::advance(RESET).await;
    let probe = breaker.try_acquire().expect("a probe");
    breaker.record_success();
    assert_eq!(breaker.state(), CircuitState::HalfOpen);
    breaker.record_failure();
    assert_eq!(breaker.state(), CircuitState::Open);
    drop(probe);

    tokio::time::advance(RESET).await;
    let probe = breaker.try_acquire().expect("a probe");
    breaker.record_success();
    probe.success();
    assert_eq!(breaker.state(), CircuitState::Closed);
}

#[tokio::test(start_paused = true)]
async fn force_open_holds_past_reset_timeout_until_reset() {
    let breaker = build(CircuitBreaker::builder("forced").reset_timeout(RESET));
    breaker.force_open();
    assert_eq!(breaker.state(), CircuitState::Open);
    assert_eq!(retry_after(succeed(&breaker).await), Duration::ZERO);
    tokio::time::advance(RESET * 10).await;
    assert_eq!(retry_after(succeed(&breaker).await), Duration::ZERO);
    assert_eq!(breaker.state(), CircuitState::Open);
    breaker.reset();
    assert_eq!(breaker.state(), CircuitState::Closed);
    assert_eq!(succeed(&breaker).await, Ok(()));
}

#[tokio::test(start_paused = true)]
async fn force_open_overrides_a_timed_open_and_a_half_open_circuit() {
    let breaker = opened(CircuitBreaker::builder("forced-over")).await;
    breaker.force_open();
    tokio::time::advance(RESET).await;
    assert_eq!(retry_after(succeed(&breaker).await), Duration::ZERO);

    breaker.reset();
    fail(&breaker).await.ok();
    tokio::time::advance(RESET).await;
    let probe = breaker.try_acquire().expect("a probe");
    breaker.force_open();
    probe.success();
    assert_eq!(
        breaker.state(),
        CircuitState::Open,
        "the probe's period is over"
    );
}

#[tokio::test(start_paused = true)]
async fn reset_closes_an_open_circuit_with_fresh_counts() {
    let breaker = build(CircuitBreaker::builder("reset").failure_threshold(2));
    fail(&breaker).await.ok();
    breaker.reset();
    assert_eq!(breaker.stats().consecutive_failures, 0);
    fail(&breaker).await.ok();
    assert_eq!(breaker.state(), CircuitState::Closed);
    fail(&breaker).await.ok();
    assert_eq!(breaker.state(), CircuitState::Open);
    breaker.reset();
    assert_eq!(breaker.state(), CircuitState::Closed);
    assert_eq!(succeed(&breaker).await, Ok(()));
}

/// Probes that finish, fail, or are dropped at random points never leak a slot: once they are
/// all gone, the breaker admits a full batch again.
#[tokio::test(start_paused = true)]
async fn randomly_cancelled_probes_never_leak_a_slot() {
    const SLOTS: u32 = 3;
    let breaker = Arc::new(build(
        CircuitBreaker::builder("cancel-storm")
            .failure_threshold(1)
            .reset_timeout(RESET)
            .half_open_max_calls(SLOTS)
            .success_threshold(u32::MAX),
    ));
    let mut rng = SmallRng::seed_from_u64(0x5eed);
    for _round in 0..20 {
        breaker.reset();
        breaker.record_failure();
        tokio::time::advance(RESET).await;
        let mut tasks = Vec::new();
        for _ in 0..10 {
            let breaker = Arc::clone(&breaker);
            let work = Duration::from_millis(rng.gen_range(1..100));
            let cancel_after = Duration::from_millis(rng.gen_range(1..100));
            tasks.push(tokio::spawn(async move {
                tokio::time::timeout(cancel_after, succeed_after(&breaker, work)).await
            }));
        }
        for (index, task) in tasks.iter().enumerate() {
            if index % 3 == 0 {
                task.abort();
            }
        }
        for task in tasks {
            let _ = task.await;
        }
        assert_eq!(breaker.state(), CircuitState::HalfOpen);
        let batch: Vec<_> = (0..SLOTS)
            .map(|_| breaker.try_acquire().expect("every slot is free again"))
            .collect();
        assert!(breaker.try_acquire().is_err());
        drop(batch);
    }
}
