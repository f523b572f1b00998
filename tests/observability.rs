//! Registry introspection as an operator uses it: the snapshot's rows and stats, the table,
//! `reset(name)`, the events of every kind, and configuration conflicts — in virtual time.
//!
//! The registry and the event bus are process-wide and the tests run in parallel, so every test
//! uses names of its own and looks only at its own rows and events.

mod common;

use std::ops::ControlFlow;
use std::time::Duration;

use common::{AppError, Runs};
use resilience::{
    bulkhead, circuit_breaker, registry, retry, timeout, CircuitState, Error, Event, FailureRef,
    PolicyKind, PolicySnapshot, PolicyStats, Retry, TransitionCause,
};
use tokio::sync::broadcast::{error::TryRecvError, Receiver};

/// The registry's row of `kind` named `name`.
fn row(kind: PolicyKind, name: &str) -> PolicySnapshot {
    registry()
        .policies()
        .into_iter()
        .find(|row| row.kind() == kind && row.name() == name)
        .unwrap_or_else(|| panic!("no {kind} named {name} in\n{}", registry().snapshot()))
}

/// Every event received so far about one of `names`, in order.
fn events_of_any(events: &mut Receiver<Event>, names: &[&str]) -> Vec<Event> {
    let mut mine = Vec::new();
    loop {
        match events.try_recv() {
            Ok(event) if event.name().is_some_and(|name| names.contains(&name)) => mine.push(event),
            Ok(_) | Err(TryRecvError::Lagged(_)) => {}
            Err(TryRecvError::Empty | TryRecvError::Closed) => return mine,
        }
    }
}

/// Every event about `name` received so far, in order.
fn events_of(events: &mut Receiver<Event>, name: &str) -> Vec<Event> {
    events_of_any(events, &[name])
}

#[circuit_breaker(name = "obs-breaker", failure_threshold = 2, reset_timeout = "10s")]
async fn guarded(runs: &Runs, healthy: bool) -> Result<u32, AppError> {
    let n = runs.tick();
    if healthy {
        Ok(n)
    } else {
        Err(AppError::Down("guarded"))
    }
}

#[tokio::test(start_paused = true)]
async fn a_breaker_row_shows_its_state_and_counters_as_they_change() {
    let runs = Runs::new();
    assert!(guarded(&runs, true).await.is_ok());
    let stats = |row: PolicySnapshot| match row.stats {
        PolicyStats::CircuitBreaker(stats) => stats,
        other => panic!("not a breaker's stats: {other:?}"),
    };

    let closed = row(PolicyKind::CircuitBreaker, "obs-breaker");
    assert_eq!(
        closed.config(),
        "threshold=2 reset=10s half_open_timeout=10s"
    );
    assert!(closed.conflicts().is_empty());
    let s = stats(closed);
    assert_eq!(
        (s.state, s.calls, s.successes),
        (CircuitState::Closed, 1, 1)
    );
    assert!(s.last_success.is_some() && s.opened_at.is_none());

    for _ in 0..2 {
        assert!(guarded(&runs, false).await.is_err());
    }
    assert!(guarded(&runs, true).await.is_err()); // rejected while open
    let s = stats(row(PolicyKind::CircuitBreaker, "obs-breaker"));
    assert_eq!(s.state, CircuitState::Open);
    assert_eq!((s.calls, s.failures, s.rejected), (3, 2, 1));
    assert!(s.opened_at.is_some() && s.last_failure.is_some());

    // The table: one row per policy, the breaker's state in its row.
    let table = registry().snapshot().to_string();
    let line = table
        .lines()
        .find(|line| line.contains("obs-breaker"))
        .expect("a row for the breaker");
    assert!(line.starts_with("circuit_breaker"), "{line}");
    assert!(line.contains(" open "), "{line}");
    assert!(line.contains("failed=2 rejected=1"), "{line}");
    assert_eq!(runs.get(), 3);
}

#[retry(name = "obs-reset", max_attempts = 2, backoff = "none")]
#[circuit_breaker(name = "obs-reset", failure_threshold = 1, reset_timeout = "1m")]
#[timeout(name = "obs-reset", ms = 1000)]
#[bulkhead(name = "obs-reset", max = 2)]
async fn shared_name(healthy: bool) -> Result<(), AppError> {
    if healthy {
        Ok(())
    } else {
        Err(AppError::Down("shared"))
    }
}

#[tokio::test(start_paused = true)]
async fn reset_by_name_closes_the_breaker_and_zeroes_every_policy_of_that_name() {
    assert!(shared_name(false).await.is_err());
    let kinds = [
        PolicyKind::CircuitBreaker,
        PolicyKind::Retry,
        PolicyKind::Timeout,
        PolicyKind::Bulkhead,
    ];
    for kind in kinds {
        row(kind, "obs-reset"); // all four are registered under the one name
    }
    let breaker = registry().circuit_breaker("obs-reset").unwrap();
    assert_eq!(breaker.state(), CircuitState::Open);
    assert_eq!(registry().retry("obs-reset").unwrap().stats().calls, 1);
    assert_eq!(registry().timeout("obs-reset").unwrap().stats().calls, 1);

    assert!(registry().reset("obs-reset"));

    assert_eq!(breaker.state(), CircuitState::Closed);
    let stats = breaker.stats();
    assert_eq!((stats.calls, stats.failures, stats.rejected), (0, 0, 0));
    assert_eq!(registry().retry("obs-reset").unwrap().stats().calls, 0);
    assert_eq!(registry().timeout("obs-reset").unwrap().stats().calls, 0);
    assert!(shared_name(true).await.is_ok());
    assert!(!registry().reset("obs-no-such-policy"));
}

#[tokio::test(start_paused = true)]
async fn breaker_transitions_carry_their_cause() {
    let mut events = registry().subscribe();
    let runs = Runs::new();
    #[circuit_breaker(name = "obs-transitions", failure_threshold = 1, reset_timeout = "5s")]
    async fn call(runs: &Runs, healthy: bool) -> Result<u32, AppError> {
        let n = runs.tick();
        if healthy {
            Ok(n)
        } else {
            Err(AppError::Down("transitions"))
        }
    }

    assert!(call(&runs, false).await.is_err());
    let rejected = call(&runs, true).await;
    tokio::time::advance(Duration::from_secs(5)).await;
    assert!(call(&runs, true).await.is_ok());
    registry()
        .circuit_breaker("obs-transitions")
        .unwrap()
        .force_open();

    let seen = events_of(&mut events, "obs-transitions");
    // Events cannot be built outside the crate (their variants are `#[non_exhaustive]`), so
    // each is compared by the values it carries; `events_of` checked the name.
    #[derive(Debug, PartialEq)]
    enum Seen {
        Transition(CircuitState, CircuitState, TransitionCause),
        Rejection(PolicyKind, Error),
    }
    let transition = Seen::Transition;
    let rejection = Seen::Rejection(
        PolicyKind::CircuitBreaker,
        match rejected {
            Err(AppError::Policy(error)) => error,
            other => panic!("expected a rejection, got {other:?}"),
        },
    );
    let described: Vec<Seen> = seen
        .iter()
        .map(|event| match event {
            Event::CircuitTransition {
                from, to, cause, ..
            } => Seen::Transition(*from, *to, *cause),
            Event::CallRejected { kind, error, .. } => Seen::Rejection(*kind, error.clone()),
            other => panic!("unexpected event {other}"),
        })
        .collect();
    use CircuitState::{Closed, HalfOpen, Open};
    assert_eq!(
        described,
        [
            transition(Closed, Open, TransitionCause::FailureThreshold),
            rejection,
            transition(Open, HalfOpen, TransitionCause::ResetTimeoutElapsed),
            transition(HalfOpen, Closed, TransitionCause::ProbesSucceeded),
            transition(Closed, Open, TransitionCause::ForcedOpen),
        ]
    );
    assert_eq!(
        seen[0].to_string(),
        "circuit breaker `obs-transitions`: closed -> open (failure threshold reached)"
    );
    assert_eq!(seen[0].kind(), Some(PolicyKind::CircuitBreaker));
}

#[tokio::test(start_paused = true)]
async fn a_full_bulkhead_and_a_timeout_are_reported() {
    let mut events = registry().subscribe();
    #[bulkhead(name = "obs-bulkhead", max = 1)]
    async fn hold(gate: &tokio::sync::Notify) -> Result<(), AppError> {
        gate.notified().await;
        Ok(())
    }
    #[timeout(name = "obs-timeout", ms = 50)]
    async fn slow() -> Result<(), AppError> {
        tokio::time::sleep(Duration::from_secs(1)).await;
        Ok(())
    }

    let gate = tokio::sync::Notify::new();
    let (held, rejected) = tokio::join!(hold(&gate), async {
        let rejected = hold(&gate).await;
        gate.notify_one();
        rejected
    });
    assert!(held.is_ok());
    assert!(matches!(
        rejected,
        Err(AppError::Policy(Error::BulkheadFull { .. }))
    ));
    assert!(slow().await.is_err());

    match events_of_any(&mut events, &["obs-bulkhead", "obs-timeout"]).as_slice() {
        [rejection @ Event::CallRejected {
            kind: PolicyKind::Bulkhead,
            error: Error::BulkheadFull {
                max_concurrent: 1, ..
            },
            ..
        }, timeout] => {
            assert_eq!(rejection.kind(), Some(PolicyKind::Bulkhead));
            assert!(
                matches!(
                    timeout,
                    Event::TimedOut { name, after, .. }
                        if &**name == "obs-timeout" && *after == Duration::from_millis(50)
                ),
                "{timeout:?}"
            );
        }
        other => panic!("expected a bulkhead rejection then a timeout, got {other:?}"),
    }
}

#[retry(
    name = "obs-retry",
    max_attempts = 3,
    backoff = "fixed",
    delay = "20ms"
)]
async fn always_down(runs: &Runs) -> Result<(), AppError> {
    runs.tick();
    Err(AppError::Down("retry"))
}

#[tokio::test(start_paused = true)]
async fn retry_attempts_and_exhaustion_are_reported_with_their_delays() {
    let mut events = registry().subscribe();
    let runs = Runs::new();
    assert!(always_down(&runs).await.is_err());
    assert_eq!(runs.get(), 3);

    let seen = events_of(&mut events, "obs-retry");
    let attempts: Vec<(u32, Duration)> = seen
        .iter()
        .filter_map(|event| match event {
            Event::RetryAttempt { attempt, delay, .. } => Some((*attempt, *delay)),
            _ => None,
        })
        .collect();
    assert_eq!(
        attempts,
        [
            (1, Duration::from_millis(20)),
            (2, Duration::from_millis(20))
        ]
    );
    assert!(matches!(
        seen.last(),
        Some(Event::RetriesExhausted { attempts: 3, .. })
    ));
    assert_eq!(seen.len(), 3);
    let PolicyStats::Retry(stats) = row(PolicyKind::Retry, "obs-retry").stats else {
        panic!("not a retry's stats");
    };
    assert_eq!((stats.calls, stats.retries, stats.exhausted), (1, 2, 1));
}

#[retry(name = "obs-macro-describe", max_attempts = 1)]
async fn described_by_display() -> Result<(), AppError> {
    Err(AppError::Down("x"))
}

#[tokio::test]
async fn an_annotated_retry_reports_the_errors_display() {
    let mut events = registry().subscribe();
    assert!(described_by_display().await.is_err());
    let seen = events_of(&mut events, "obs-macro-describe");
    assert!(
        matches!(seen.last(), Some(Event::RetriesExhausted { error, .. }) if error == "down: x"),
        "{seen:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_described_retry_reports_the_error_text() {
    let mut events = registry().subscribe();
    let retry = Retry::builder("obs-described")
        .max_attempts(2)
        .no_backoff()
        .build()
        .unwrap();
    let mut run = retry.begin();
    let describe = |error: &AppError| error.to_string();
    fn view(error: &AppError) -> FailureRef<'_, AppError> {
        FailureRef::Operation(error)
    }
    let outcome = loop {
        let attempt: Result<(), AppError> = Err(AppError::Down("disk full"));
        match run
            .after_attempt_described(attempt, view, |_| true, |_| {}, describe)
            .await
        {
            ControlFlow::Break(outcome) => break outcome,
            ControlFlow::Continue(()) => {}
        }
    };
    assert_eq!(outcome, Err(AppError::Down("disk full")));

    let texts: Vec<String> = events_of(&mut events, "obs-described")
        .into_iter()
        .map(|event| match event {
            Event::RetryAttempt { error, .. } | Event::RetriesExhausted { error, .. } => error,
            other => panic!("unexpected {other}"),
        })
        .collect();
    assert_eq!(texts, ["down: disk full", "down: disk full"]);
}

#[tokio::test(start_paused = true)]
async fn a_second_site_with_other_settings_is_a_conflict_in_the_row_and_an_event() {
    let mut events = registry().subscribe();
    #[circuit_breaker(name = "obs-conflict", failure_threshold = 3)]
    async fn first() -> Result<(), AppError> {
        Ok(())
    }
    #[circuit_breaker(name = "obs-conflict", failure_threshold = 7, reset_timeout = "30s")]
    async fn second() -> Result<(), AppError> {
        Ok(())
    }
    // Only a name: joins whatever is registered, no conflict.
    #[circuit_breaker(name = "obs-conflict")]
    async fn third() -> Result<(), AppError> {
        Ok(())
    }

    assert!(first().await.is_ok());
    assert!(second().await.is_ok());
    assert!(third().await.is_ok());

    let conflict = row(PolicyKind::CircuitBreaker, "obs-conflict");
    assert_eq!(conflict.conflicts(), ["failure_threshold"]);
    assert!(
        conflict.config().starts_with("threshold=3"),
        "{}",
        conflict.config()
    );
    let line = registry()
        .snapshot()
        .to_string()
        .lines()
        .find(|line| line.contains("obs-conflict"))
        .map(str::to_owned)
        .expect("a row for the breaker");
    assert!(line.ends_with("CONFLICT(failure_threshold)"), "{line}");

    let seen = events_of(&mut events, "obs-conflict");
    assert!(
        matches!(
            seen.as_slice(),
            [Event::ConfigConflict { kind: PolicyKind::CircuitBreaker, name, keys, .. }]
                if &**name == "obs-conflict" && keys == &["failure_threshold"]
        ),
        "{seen:?}"
    );
    assert!(seen[0].to_string().contains("failure_threshold"));
}
