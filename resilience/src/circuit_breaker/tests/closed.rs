//! The closed state: the consecutive-failure rule, outcomes and their classification.

use std::future::{poll_fn, Future};
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::{build, fail, retry_after, succeed, succeed_after, TestError};
use crate::{CallOutcome, CircuitBreaker, CircuitState, Error, Failure};

#[tokio::test(start_paused = true)]
async fn opens_after_failure_threshold_consecutive_failures() {
    let breaker = build(CircuitBreaker::builder("trip").failure_threshold(3));
    for expected_streak in 1..=2 {
        assert_eq!(fail(&breaker).await, Err(TestError::Operation("down")));
        assert_eq!(breaker.state(), CircuitState::Closed);
        assert_eq!(breaker.stats().consecutive_failures, expected_streak);
    }
    assert_eq!(fail(&breaker).await, Err(TestError::Operation("down")));
    assert_eq!(breaker.state(), CircuitState::Open);
    assert_eq!(
        breaker.stats().consecutive_failures,
        0,
        "the transition starts a fresh count"
    );
}

#[tokio::test(start_paused = true)]
async fn a_success_ends_the_failure_streak() {
    let breaker = build(CircuitBreaker::builder("streak").failure_threshold(3));
    fail(&breaker).await.ok();
    fail(&breaker).await.ok();
    assert_eq!(succeed(&breaker).await, Ok(()));
    assert_eq!(breaker.stats().consecutive_failures, 0);
    fail(&breaker).await.ok();
    fail(&breaker).await.ok();
    assert_eq!(breaker.state(), CircuitState::Closed);
    fail(&breaker).await.ok();
    assert_eq!(breaker.state(), CircuitState::Open);
}

#[tokio::test(start_paused = true)]
async fn an_open_circuit_rejects_without_running_the_body() {
    let breaker = build(CircuitBreaker::builder("reject").failure_threshold(1));
    fail(&breaker).await.ok();
    let ran = AtomicBool::new(false);
    let result: Result<(), TestError> = breaker
        .call(async {
            ran.store(true, Ordering::SeqCst);
            Ok(())
        })
        .await;
    assert!(!ran.load(Ordering::SeqCst), "the body must not run");
    match result {
        Err(TestError::Rejected(Error::CircuitOpen { name, .. })) => assert_eq!(&*name, "reject"),
        other => panic!("expected a rejection, got {other:?}"),
    }
    assert_eq!(breaker.stats().rejected, 1);
}

#[tokio::test(start_paused = true)]
async fn retry_after_is_the_time_left_until_half_open() {
    let breaker = build(
        CircuitBreaker::builder("retry-after")
            .failure_threshold(1)
            .reset_timeout(Duration::from_secs(30)),
    );
    fail(&breaker).await.ok();
    assert_eq!(
        retry_after(succeed(&breaker).await),
        Some(Duration::from_secs(30))
    );
    tokio::time::advance(Duration::from_millis(12_250)).await;
    assert_eq!(
        retry_after(succeed(&breaker).await),
        Some(Duration::from_millis(17_750))
    );
}

#[tokio::test(start_paused = true)]
async fn ignored_errors_neither_break_nor_extend_the_streak() {
    let breaker = build(CircuitBreaker::builder("ignored").failure_threshold(2));
    let ignore_all = |_: &TestError| CallOutcome::Ignored;
    fail(&breaker).await.ok();
    for _ in 0..5 {
        let result: Result<(), TestError> = breaker
            .call_with(
                async { Err(TestError::Operation("bad request")) },
                ignore_all,
            )
            .await;
        assert_eq!(result, Err(TestError::Operation("bad request")));
    }
    assert_eq!(breaker.stats().consecutive_failures, 1);
    assert_eq!(breaker.stats().ignored, 5);
    fail(&breaker).await.ok();
    assert_eq!(breaker.state(), CircuitState::Open);
}

#[tokio::test(start_paused = true)]
async fn an_error_classified_as_a_success_ends_the_streak() {
    let breaker = build(CircuitBreaker::builder("answered").failure_threshold(2));
    let not_found_is_an_answer = |error: &TestError| match error {
        TestError::Operation("not found") => CallOutcome::Success,
        _ => CallOutcome::Failure,
    };
    fail(&breaker).await.ok();
    let result: Result<(), TestError> = breaker
        .call_with(
            async { Err(TestError::Operation("not found")) },
            not_found_is_an_answer,
        )
        .await;
    assert_eq!(result, Err(TestError::Operation("not found")));
    let stats = breaker.stats();
    assert_eq!((stats.consecutive_failures, stats.successes), (0, 1));
    fail(&breaker).await.ok();
    assert_eq!(breaker.state(), CircuitState::Closed);
}

#[tokio::test(start_paused = true)]
async fn a_success_slower_than_slow_call_is_a_failure() {
    let breaker = build(
        CircuitBreaker::builder("slow")
            .failure_threshold(1)
            .slow_call(Duration::from_secs(1)),
    );
    // Exactly at the limit is not slow: only strictly longer is.
    assert_eq!(
        succeed_after(&breaker, Duration::from_secs(1)).await,
        Ok(())
    );
    assert_eq!(breaker.state(), CircuitState::Closed);
    let result = succeed_after(&breaker, Duration::from_millis(1001)).await;
    assert_eq!(result, Ok(()), "the caller still gets the result");
    assert_eq!(breaker.state(), CircuitState::Open);
    let stats = breaker.stats();
    assert_eq!((stats.successes, stats.failures), (1, 1));
}

#[tokio::test(start_paused = true)]
async fn a_slow_ignored_call_stays_ignored() {
    let breaker = build(
        CircuitBreaker::builder("slow-ignored")
            .failure_threshold(1)
            .slow_call(Duration::from_secs(1)),
    );
    let result: Result<(), TestError> = breaker
        .call_with(
            async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                Err(TestError::Operation("bad request"))
            },
            |_| CallOutcome::Ignored,
        )
        .await;
    assert!(result.is_err());
    assert_eq!(breaker.state(), CircuitState::Closed);
}

#[tokio::test(start_paused = true)]
async fn a_call_dropped_before_it_finishes_is_neutral() {
    let breaker = build(CircuitBreaker::builder("dropped").failure_threshold(2));
    fail(&breaker).await.ok();
    let abandoned = tokio::time::timeout(
        Duration::from_secs(1),
        succeed_after(&breaker, Duration::from_secs(10)),
    )
    .await;
    assert!(abandoned.is_err(), "the outer timeout drops the call");
    let stats = breaker.stats();
    assert_eq!(stats.ignored, 1);
    assert_eq!(
        stats.consecutive_failures, 1,
        "a drop neither ends nor extends the streak"
    );
    assert_eq!(stats.successes, 0);
}

#[tokio::test(start_paused = true)]
async fn a_panic_in_the_body_counts_as_a_failure() {
    let breaker = Arc::new(build(CircuitBreaker::builder("panic").failure_threshold(1)));
    let task = tokio::spawn({
        let breaker = Arc::clone(&breaker);
        async move {
            let _: Result<(), TestError> = breaker.call(async { panic!("the body panics") }).await;
        }
    });
    let joined = task.await;
    assert!(
        joined.is_err_and(|error| error.is_panic()),
        "the panic goes on"
    );
    assert_eq!(breaker.state(), CircuitState::Open);
    assert_eq!(breaker.stats().failures, 1);
}

/// Polls `call` once, then `sibling` (which panics), in one task, as `join!` would: the panic
/// unwinds through the task's future, dropping `call` while the thread is panicking.
async fn poll_beside_a_panic<F: Future>(call: F) {
    let mut call = pin!(call);
    let mut sibling = pin!(async { panic!("a future beside the call panics") });
    poll_fn(|cx| {
        assert!(
            call.as_mut().poll(cx).is_pending(),
            "the call is mid-flight"
        );
        sibling.as_mut().poll(cx)
    })
    .await
}

#[tokio::test(start_paused = true)]
async fn a_call_dropped_while_a_future_beside_it_panics_is_neutral() {
    let breaker = Arc::new(build(
        CircuitBreaker::builder("sibling-panic").failure_threshold(1),
    ));
    let tasks = [
        tokio::spawn({
            let breaker = Arc::clone(&breaker);
            async move {
                poll_beside_a_panic(succeed_after(&breaker, Duration::from_secs(1))).await;
            }
        }),
        tokio::spawn({
            let breaker = Arc::clone(&breaker);
            async move {
                let body = async {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    Ok::<(), Failure<TestError>>(())
                };
                poll_beside_a_panic(breaker.run(body, |_| CallOutcome::Failure)).await;
            }
        }),
    ];
    for task in tasks {
        assert!(task.await.is_err_and(|error| error.is_panic()));
    }
    let stats = breaker.stats();
    assert_eq!(
        (stats.failures, stats.ignored),
        (0, 2),
        "abandoned calls, not failed ones"
    );
    assert_eq!(breaker.state(), CircuitState::Closed);
}

#[tokio::test(start_paused = true)]
async fn a_panic_in_a_run_body_counts_as_a_failure() {
    let breaker = Arc::new(build(
        CircuitBreaker::builder("run-panic").failure_threshold(1),
    ));
    let task = tokio::spawn({
        let breaker = Arc::clone(&breaker);
        async move {
            let body = async {
                tokio::time::sleep(Duration::from_secs(1)).await;
                panic!("the body panics after a wait")
            };
            let _: Result<(), Failure<TestError>> =
                breaker.run(body, |_| CallOutcome::Failure).await;
        }
    });
    assert!(task.await.is_err_and(|error| error.is_panic()));
    assert_eq!(breaker.stats().failures, 1);
    assert_eq!(breaker.state(), CircuitState::Open);
}

#[test]
fn a_permit_never_polled_through_poll_body_counts_a_panic_as_the_calls() {
    let breaker = build(CircuitBreaker::builder("hand-permit-panic").failure_threshold(1));
    let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _permit = breaker.try_acquire().expect("closed");
        panic!("the hand-made call panics");
    }));
    assert!(unwound.is_err());
    assert_eq!(breaker.stats().failures, 1);
    assert_eq!(breaker.state(), CircuitState::Open);
}

#[tokio::test(start_paused = true)]
async fn an_inner_timeout_is_a_failure_and_other_inner_rejections_are_ignored() {
    let breaker = build(CircuitBreaker::builder("layers").failure_threshold(2));
    let every_error_fails = |_: &TestError| CallOutcome::Failure;
    let inner = |error: Error| async move { Err::<(), Failure<TestError>>(Failure::Policy(error)) };

    let bulkhead_full = Error::BulkheadFull {
        name: "pool".into(),
        max_concurrent: 4,
    };
    let open_inner = Error::CircuitOpen {
        name: "inner".into(),
        retry_after: Some(Duration::from_secs(1)),
    };
    let limited = Error::RateLimited {
        name: "quota".into(),
        retry_after: Duration::from_secs(1),
    };
    for rejection in [bulkhead_full, open_inner, limited] {
        let result = breaker
            .run(inner(rejection.clone()), every_error_fails)
            .await;
        assert_eq!(
            result,
            Err(Failure::Policy(rejection)),
            "passed through as is"
        );
    }
    assert_eq!(breaker.stats().ignored, 3);
    assert_eq!(breaker.stats().consecutive_failures, 0);

    let timeout = Error::Timeout {
        name: "deadline".into(),
        after: Duration::from_secs(1),
    };
    for _ in 0..2 {
        let result = breaker.run(inner(timeout.clone()), every_error_fails).await;
        assert_eq!(result, Err(Failure::Policy(timeout.clone())));
    }
    assert_eq!(breaker.state(), CircuitState::Open);
}

#[tokio::test(start_paused = true)]
async fn run_classifies_operation_errors_and_keeps_rejections_typed() {
    let breaker = build(CircuitBreaker::builder("run").failure_threshold(1));
    let classify = |error: &&str| {
        if *error == "retryable" {
            CallOutcome::Failure
        } else {
            CallOutcome::Ignored
        }
    };
    let result = breaker
        .run(
            async { Err::<(), _>(Failure::Operation("fatal")) },
            classify,
        )
        .await;
    assert_eq!(result, Err(Failure::Operation("fatal")));
    assert_eq!(breaker.state(), CircuitState::Closed);
    breaker
        .run(
            async { Err::<(), _>(Failure::Operation("retryable")) },
            classify,
        )
        .await
        .ok();
    let rejected = breaker
        .run(async { Ok::<u8, Failure<&str>>(1) }, classify)
        .await;
    assert!(matches!(
        rejected,
        Err(Failure::Policy(Error::CircuitOpen { .. }))
    ));
}

#[tokio::test(start_paused = true)]
async fn record_success_and_record_failure_count_like_calls() {
    let breaker = build(CircuitBreaker::builder("manual").failure_threshold(2));
    breaker.record_failure();
    breaker.record_success();
    breaker.record_failure();
    assert_eq!(breaker.state(), CircuitState::Closed);
    breaker.record_failure();
    assert_eq!(breaker.state(), CircuitState::Open);
    // While open there is no call to count against: only the stats move.
    breaker.record_success();
    breaker.record_failure();
    assert_eq!(breaker.state(), CircuitState::Open);
    let stats = breaker.stats();
    assert_eq!((stats.successes, stats.failures, stats.calls), (2, 4, 6));
}

#[tokio::test(start_paused = true)]
async fn a_permit_reports_its_outcome() {
    let breaker = build(CircuitBreaker::builder("permit").failure_threshold(2));
    breaker.try_acquire().expect("closed").failure();
    breaker.try_acquire().expect("closed").ignore();
    drop(breaker.try_acquire().expect("closed"));
    assert_eq!(breaker.stats().consecutive_failures, 1);
    breaker
        .try_acquire()
        .expect("closed")
        .record(CallOutcome::Failure);
    assert_eq!(breaker.state(), CircuitState::Open);
    assert!(breaker.try_acquire().is_err());
    let stats = breaker.stats();
    assert_eq!((stats.failures, stats.ignored, stats.rejected), (2, 2, 1));
}

#[tokio::test(start_paused = true)]
async fn an_outcome_admitted_before_a_transition_changes_nothing() {
    let breaker = build(CircuitBreaker::builder("stale").failure_threshold(1));
    let admitted_closed = breaker.try_acquire().expect("closed");
    breaker.record_failure();
    assert_eq!(breaker.state(), CircuitState::Open);
    breaker.reset();
    // A failure admitted two generations ago must not open the fresh circuit.
    admitted_closed.failure();
    assert_eq!(breaker.state(), CircuitState::Closed);
    assert_eq!(breaker.stats().consecutive_failures, 0);
    assert_eq!(breaker.stats().failures, 2, "the stats still count it");
}

#[tokio::test(start_paused = true)]
async fn a_slow_call_finishing_after_the_circuit_opened_changes_nothing() {
    let breaker = Arc::new(build(
        CircuitBreaker::builder("stale-slow")
            .failure_threshold(1)
            .reset_timeout(Duration::from_secs(5)),
    ));
    let slow = tokio::spawn({
        let breaker = Arc::clone(&breaker);
        async move { succeed_after(&breaker, Duration::from_secs(6)).await }
    });
    tokio::task::yield_now().await;
    fail(&breaker).await.ok();
    tokio::time::advance(Duration::from_secs(5)).await;
    let probe = breaker.try_acquire().expect("half-open admits a probe");
    assert_eq!(breaker.state(), CircuitState::HalfOpen);
    // The slow call admitted while closed now succeeds; it must not close the circuit.
    assert_eq!(slow.await.expect("the slow call finishes"), Ok(()));
    assert_eq!(breaker.state(), CircuitState::HalfOpen);
    probe.success();
    assert_eq!(breaker.state(), CircuitState::Closed);
}
