//! Open → half-open → closed or open again; probe slots; forcing open.

use std::sync::Arc;
use std::time::Duration;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use tokio::sync::broadcast::error::TryRecvError;
use tokio::sync::oneshot;

use super::{build, fail, retry_after, succeed, succeed_after, TestError};
use crate::{CircuitBreaker, CircuitState, Event, TransitionCause};

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
        Some(Duration::from_millis(1))
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
    assert_eq!(retry_after(succeed(&breaker).await), Some(RESET));
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
        Err(None),
        "a fourth probe is rejected while three are in flight, with no known wait"
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
    assert_eq!(retry_after(succeed(&breaker).await), None);
    tokio::time::advance(RESET * 10).await;
    assert_eq!(retry_after(succeed(&breaker).await), None);
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
    assert_eq!(retry_after(succeed(&breaker).await), None);

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

/// How a probe that outlived the half-open timeout ends, too late to count.
#[derive(Debug, Clone, Copy)]
enum LateEnding {
    Success,
    Failure,
    Drop,
}

/// A probe call in its own task, and the sender that ends it.
type HungProbe = (
    oneshot::Sender<Result<(), TestError>>,
    tokio::task::JoinHandle<Result<(), TestError>>,
);

/// A probe call that runs until `finish` sends its result, or until its task is aborted.
fn hung_probe(breaker: &Arc<CircuitBreaker>) -> HungProbe {
    let (finish, finished) = oneshot::channel();
    let breaker = Arc::clone(breaker);
    let probe = tokio::spawn(async move {
        breaker
            .call(async move { finished.await.unwrap_or(Ok(())) })
            .await
    });
    (finish, probe)
}

/// The transitions of the breaker named `name` among the events received so far.
fn transitions(
    events: &mut tokio::sync::broadcast::Receiver<Event>,
    name: &str,
) -> Vec<(CircuitState, CircuitState, TransitionCause)> {
    let mut seen = Vec::new();
    loop {
        match events.try_recv() {
            Ok(Event::CircuitTransition {
                name: of,
                from,
                to,
                cause,
            }) if &*of == name => seen.push((from, to, cause)),
            Ok(_) | Err(TryRecvError::Lagged(_)) => continue,
            Err(_) => return seen,
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_probe_that_never_finishes_counts_as_failed_after_half_open_timeout() {
    for ending in [LateEnding::Success, LateEnding::Failure, LateEnding::Drop] {
        let name = format!("hung-probe-{ending:?}");
        let mut events = crate::events::subscribe();
        // The half-open timeout left to its default: the reset timeout.
        let breaker = Arc::new(opened(CircuitBreaker::builder(name.as_str())).await);
        tokio::time::advance(RESET).await;
        let (finish, probe) = hung_probe(&breaker);
        tokio::task::yield_now().await;
        assert_eq!(breaker.state(), CircuitState::HalfOpen, "the probe runs");

        // Its slot is taken: no clock can tell when it frees.
        assert_eq!(retry_after(succeed(&breaker).await), None);
        tokio::time::advance(RESET - Duration::from_millis(1)).await;
        assert_eq!(retry_after(succeed(&breaker).await), None);

        // Half-open for a full half_open_timeout with the probe still running: it counts as
        // failed, and the call that noticed finds a freshly opened circuit.
        tokio::time::advance(Duration::from_millis(1)).await;
        assert_eq!(retry_after(succeed(&breaker).await), Some(RESET));
        assert_eq!(breaker.state(), CircuitState::Open);

        // The stale probe ends a second later, whichever way: it changes nothing (a success
        // would close the circuit, a failure start a new open period).
        tokio::time::advance(Duration::from_secs(1)).await;
        match ending {
            LateEnding::Success => finish.send(Ok(())).expect("the probe waits"),
            LateEnding::Failure => finish
                .send(Err(TestError::Operation("down")))
                .expect("the probe waits"),
            LateEnding::Drop => probe.abort(),
        }
        let _ = probe.await;
        assert_eq!(breaker.state(), CircuitState::Open, "{ending:?}");
        assert_eq!(
            retry_after(succeed(&breaker).await),
            Some(RESET - Duration::from_secs(1)),
            "{ending:?}: the open period is the one the timeout started"
        );

        // Not stuck: once the reset timeout has passed a new probe runs, and closes the circuit.
        tokio::time::advance(RESET - Duration::from_secs(1)).await;
        assert_eq!(succeed(&breaker).await, Ok(()), "{ending:?}");
        assert_eq!(breaker.state(), CircuitState::Closed);

        use CircuitState::{Closed, HalfOpen, Open};
        assert_eq!(
            transitions(&mut events, &name),
            [
                (Closed, Open, TransitionCause::FailureThreshold),
                (Open, HalfOpen, TransitionCause::ResetTimeoutElapsed),
                (HalfOpen, Open, TransitionCause::ProbeTimedOut),
                (Open, HalfOpen, TransitionCause::ResetTimeoutElapsed),
                (HalfOpen, Closed, TransitionCause::ProbesSucceeded),
            ],
            "{ending:?}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_probe_finishing_at_the_deadline_is_late_and_one_before_it_counts() {
    const HALF_OPEN: Duration = Duration::from_secs(3);
    let breaker = Arc::new(
        opened(CircuitBreaker::builder("probe-deadline").half_open_timeout(HALF_OPEN)).await,
    );

    // Just in time: the success closes the circuit.
    tokio::time::advance(RESET).await;
    let (finish, probe) = hung_probe(&breaker);
    tokio::task::yield_now().await;
    tokio::time::advance(HALF_OPEN - Duration::from_millis(1)).await;
    finish.send(Ok(())).expect("the probe waits");
    assert_eq!(probe.await.expect("no panic"), Ok(()));
    assert_eq!(breaker.state(), CircuitState::Closed);

    // At the deadline, with no call in between to notice: the success comes too late, and the
    // probe counts as failed.
    fail(&breaker).await.ok();
    tokio::time::advance(RESET).await;
    let (finish, probe) = hung_probe(&breaker);
    tokio::task::yield_now().await;
    tokio::time::advance(HALF_OPEN).await;
    finish.send(Ok(())).expect("the probe waits");
    assert_eq!(probe.await.expect("no panic"), Ok(()), "the caller gets it");
    assert_eq!(breaker.state(), CircuitState::Open);
    assert_eq!(retry_after(succeed(&breaker).await), Some(RESET));
}

#[tokio::test(start_paused = true)]
async fn a_late_probe_reopens_the_circuit_even_with_a_slot_free() {
    const HALF_OPEN: Duration = Duration::from_secs(2);
    let breaker = opened(
        CircuitBreaker::builder("probe-deadline-free-slot")
            .half_open_max_calls(2)
            .half_open_timeout(HALF_OPEN),
    )
    .await;
    tokio::time::advance(RESET).await;
    let stuck = breaker.try_acquire().expect("a probe");
    tokio::time::advance(HALF_OPEN).await;
    // A second slot is free, but the first probe is past the deadline: it failed.
    assert_eq!(retry_after(succeed(&breaker).await), Some(RESET));
    stuck.success();
    assert_eq!(breaker.state(), CircuitState::Open);
}

/// A circuit half-open for long, its slots free, admits probes that each get the full
/// `half_open_timeout`: the deadline is the probe's, not the half-open period's.
#[tokio::test(start_paused = true)]
async fn each_probe_has_half_open_timeout_from_its_own_admission() {
    const HALF_OPEN: Duration = Duration::from_secs(5);
    let breaker = opened(
        CircuitBreaker::builder("probe-deadline-own")
            .half_open_max_calls(2)
            .success_threshold(3)
            .half_open_timeout(HALF_OPEN),
    )
    .await;
    tokio::time::advance(RESET).await;
    breaker.try_acquire().expect("the first probe").success();
    // An hour without calls, then a burst.
    tokio::time::advance(Duration::from_secs(3600)).await;
    let second = breaker.try_acquire().expect("a probe of the burst");
    tokio::time::advance(HALF_OPEN - Duration::from_millis(1)).await;
    let third = breaker
        .try_acquire()
        .expect("the second probe has not run half_open_timeout yet");
    second.success();
    assert_eq!(breaker.state(), CircuitState::HalfOpen);
    // The third probe was admitted after the second: it has more time left.
    tokio::time::advance(Duration::from_secs(1)).await;
    third.success();
    assert_eq!(breaker.state(), CircuitState::Closed);

    // The oldest probe in flight is the one the deadline watches.
    fail(&breaker).await.ok();
    tokio::time::advance(RESET).await;
    let oldest = breaker.try_acquire().expect("a probe");
    tokio::time::advance(Duration::from_secs(1)).await;
    let newer = breaker.try_acquire().expect("a second probe");
    tokio::time::advance(HALF_OPEN - Duration::from_secs(1)).await;
    newer.success();
    assert_eq!(breaker.state(), CircuitState::Open, "the oldest ran 5s");
    oldest.success();
    assert_eq!(breaker.state(), CircuitState::Open);
}

#[tokio::test(start_paused = true)]
async fn with_a_zero_reset_timeout_the_call_that_notices_a_late_probe_probes_next() {
    let mut events = crate::events::subscribe();
    let breaker = build(
        CircuitBreaker::builder("probe-deadline-zero-reset")
            .failure_threshold(1)
            .reset_timeout(Duration::ZERO)
            .half_open_timeout(Duration::from_secs(1)),
    );
    breaker.record_failure();
    let stuck = breaker.try_acquire().expect("half-open at once");
    assert_eq!(
        breaker.try_acquire().map(drop).map_err(|e| e.retry_after()),
        Err(None)
    );
    tokio::time::advance(Duration::from_secs(1)).await;
    // Re-opened with nothing to wait for: the call is admitted rather than told to wait 0s.
    let next = breaker.try_acquire().expect("the next probe");
    assert_eq!(breaker.state(), CircuitState::HalfOpen);
    stuck.failure();
    assert_eq!(breaker.state(), CircuitState::HalfOpen, "the stale probe");
    next.success();
    assert_eq!(breaker.state(), CircuitState::Closed);
    use CircuitState::{Closed, HalfOpen, Open};
    assert_eq!(
        transitions(&mut events, "probe-deadline-zero-reset"),
        [
            (Closed, Open, TransitionCause::FailureThreshold),
            (Open, HalfOpen, TransitionCause::ResetTimeoutElapsed),
            (HalfOpen, Open, TransitionCause::ProbeTimedOut),
            (Open, HalfOpen, TransitionCause::ResetTimeoutElapsed),
            (HalfOpen, Closed, TransitionCause::ProbesSucceeded),
        ]
    );
}
