//! What a breaker tells: stats, events, and counts under concurrency.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::broadcast::error::TryRecvError;

use super::{build, fail, succeed, TestError};
use crate::registry::PolicyKind;
use crate::{CallOutcome, CircuitBreaker, CircuitState, Error, Event, TransitionCause};

#[tokio::test(start_paused = true)]
async fn stats_count_outcomes_rejections_and_times() {
    let breaker = build(
        CircuitBreaker::builder("stats")
            .failure_threshold(2)
            .reset_timeout(Duration::from_secs(5)),
    );
    assert_eq!(breaker.stats(), crate::CircuitBreakerStats::default());

    succeed(&breaker).await.ok();
    succeed(&breaker).await.ok();
    let first = breaker.stats();
    assert_eq!(first.consecutive_successes, 2);
    assert!(first.last_success.is_some());
    assert_eq!(first.last_failure, None);

    fail(&breaker).await.ok();
    let _: Result<(), TestError> = breaker
        .call_with(async { Err(TestError::Operation("bad request")) }, |_| {
            CallOutcome::Ignored
        })
        .await;
    let middle = breaker.stats();
    assert_eq!(middle.consecutive_successes, 0);
    assert_eq!(middle.consecutive_failures, 1);
    assert!(middle.last_failure.is_some());
    assert_eq!(middle.opened_at, None);

    fail(&breaker).await.ok();
    succeed(&breaker).await.ok(); // rejected
    let stats = breaker.stats();
    assert_eq!(stats.state, CircuitState::Open);
    assert_eq!(
        (
            stats.calls,
            stats.successes,
            stats.failures,
            stats.ignored,
            stats.rejected
        ),
        (5, 2, 2, 1, 1)
    );
    assert!(stats.opened_at.is_some());
    assert_eq!(
        stats.failure_rate, None,
        "the consecutive rule has no window"
    );
    // People read the times as RFC 3339, never as a raw `SystemTime`.
    let opened = stats.opened_at.unwrap().to_string();
    assert!(
        humantime::parse_rfc3339(&opened).is_ok() && opened.ends_with('Z'),
        "{opened}"
    );
    let line = stats.to_string();
    assert!(
        line.starts_with("open calls=5 ok=2 failed=2 ignored=1 rejected=1")
            && line.contains(&format!("opened_at={opened}"))
            && !line.contains("SystemTime"),
        "{line}"
    );
    assert!(!format!("{stats:?}").contains("tv_sec"), "{stats:?}");

    breaker.reset_stats();
    let reset = breaker.stats();
    assert_eq!(
        (
            reset.calls,
            reset.successes,
            reset.failures,
            reset.ignored,
            reset.rejected
        ),
        (0, 0, 0, 0, 0)
    );
    assert_eq!(reset.consecutive_successes, 0);
    assert_eq!(
        reset.state,
        CircuitState::Open,
        "reset_stats leaves the state"
    );
    assert!(reset.opened_at.is_some());
}

#[tokio::test(start_paused = true)]
async fn transitions_and_rejections_are_events() {
    let mut events = crate::events::subscribe();
    let breaker = build(
        CircuitBreaker::builder("events")
            .failure_threshold(1)
            .reset_timeout(Duration::from_secs(1)),
    );
    fail(&breaker).await.ok();
    succeed(&breaker).await.ok(); // rejected
    tokio::time::advance(Duration::from_secs(1)).await;
    fail(&breaker).await.ok(); // the probe fails
    tokio::time::advance(Duration::from_secs(1)).await;
    succeed(&breaker).await.ok(); // the probe closes
    breaker.reset(); // closed already: no event
    breaker.force_open();
    breaker.reset();

    let mut seen = Vec::new();
    loop {
        match events.try_recv() {
            Ok(event) => seen.push(event),
            Err(TryRecvError::Lagged(_)) => continue,
            Err(_) => break,
        }
    }
    let ours: Vec<_> = seen
        .into_iter()
        .filter(|event| match event {
            Event::CircuitTransition { name, .. } => &**name == "events",
            Event::CallRejected { error, .. } => error.policy_name() == "events",
            _ => false,
        })
        .collect();

    use CircuitState::{Closed, HalfOpen, Open};
    let transition = |from, to, cause| Event::CircuitTransition {
        name: "events".into(),
        from,
        to,
        cause,
    };
    assert_eq!(
        ours,
        [
            transition(Closed, Open, TransitionCause::FailureThreshold),
            Event::CallRejected {
                kind: PolicyKind::CircuitBreaker,
                error: Error::CircuitOpen {
                    name: "events".into(),
                    retry_after: Some(Duration::from_secs(1))
                },
                key: None,
            },
            transition(Open, HalfOpen, TransitionCause::ResetTimeoutElapsed),
            transition(HalfOpen, Open, TransitionCause::ProbeFailed),
            transition(Open, HalfOpen, TransitionCause::ResetTimeoutElapsed),
            transition(HalfOpen, Closed, TransitionCause::ProbesSucceeded),
            transition(Closed, Open, TransitionCause::ForcedOpen),
            transition(Open, Closed, TransitionCause::Reset),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counts_from_many_tasks_add_up() {
    let breaker = Arc::new(build(
        CircuitBreaker::builder("concurrent").failure_threshold(u32::MAX),
    ));
    let tasks: Vec<_> = (0..8)
        .map(|task| {
            let breaker = Arc::clone(&breaker);
            tokio::spawn(async move {
                for call in 0..500 {
                    if (task + call) % 5 == 0 {
                        fail(&breaker).await.ok();
                    } else {
                        succeed(&breaker).await.ok();
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("no task panics");
    }
    let stats = breaker.stats();
    assert_eq!(stats.calls, 4000);
    assert_eq!(stats.failures, 800);
    assert_eq!(stats.successes, 3200);
    assert_eq!(stats.state, CircuitState::Closed);
}

#[test]
fn states_and_causes_print_in_words() {
    assert_eq!(CircuitState::HalfOpen.to_string(), "half-open");
    assert_eq!(CircuitState::Closed.to_string(), "closed");
    assert_eq!(TransitionCause::ProbeFailed.to_string(), "probe failed");
    let breaker = CircuitBreaker::with_defaults("debug");
    let debug = format!("{breaker:?}");
    assert!(
        debug.contains("\"debug\"") && debug.contains("Closed"),
        "{debug}"
    );
}
