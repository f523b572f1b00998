//! `#[circuit_breaker]`: trip, reject without running, half-open, close or re-open, shared names,
//! the failure-rate rule, slow calls and error classification — in virtual time.

mod common;

use std::time::Duration;

use common::{AppError, Runs};
use resilience::{circuit_breaker, registry, CircuitState, Error};

#[circuit_breaker(name = "cb-lifecycle", failure_threshold = 3, reset_timeout = "10s")]
async fn lifecycle(runs: &Runs, healthy: bool) -> Result<u32, AppError> {
    let n = runs.tick();
    if healthy {
        Ok(n)
    } else {
        Err(AppError::Down("lifecycle"))
    }
}

#[tokio::test(start_paused = true)]
async fn opens_rejects_then_half_opens_and_closes() {
    let runs = Runs::new();
    let breaker = || registry().circuit_breaker("cb-lifecycle").unwrap();

    for _ in 0..3 {
        assert_eq!(
            lifecycle(&runs, false).await,
            Err(AppError::Down("lifecycle"))
        );
    }
    assert_eq!(breaker().state(), CircuitState::Open);

    // Open: rejected without running the body, with the time left until half-open.
    tokio::time::advance(Duration::from_secs(4)).await;
    let rejected = lifecycle(&runs, true).await;
    assert_eq!(runs.get(), 3);
    match rejected {
        Err(AppError::Policy(Error::CircuitOpen { name, retry_after })) => {
            assert_eq!(&*name, "cb-lifecycle");
            assert_eq!(retry_after, Some(Duration::from_secs(6)));
        }
        other => panic!("expected an open circuit, got {other:?}"),
    }

    // Not yet: 1 ms short of the reset timeout.
    tokio::time::advance(Duration::from_millis(5_999)).await;
    assert!(lifecycle(&runs, true).await.is_err());
    assert_eq!(runs.get(), 3);

    // At exactly the reset timeout a probe is admitted; its success closes the circuit.
    tokio::time::advance(Duration::from_millis(1)).await;
    assert_eq!(lifecycle(&runs, true).await, Ok(4));
    assert_eq!(breaker().state(), CircuitState::Closed);
}

#[circuit_breaker(name = "cb-reopen", failure_threshold = 1, reset_timeout = "1s")]
async fn reopen(healthy: bool) -> Result<(), AppError> {
    if healthy {
        Ok(())
    } else {
        Err(AppError::Down("reopen"))
    }
}

#[tokio::test(start_paused = true)]
async fn a_failed_probe_reopens_for_a_fresh_reset_timeout() {
    let breaker = || registry().circuit_breaker("cb-reopen").unwrap();
    assert!(reopen(false).await.is_err());
    assert_eq!(breaker().state(), CircuitState::Open);
    tokio::time::advance(Duration::from_secs(1)).await;
    assert_eq!(reopen(false).await, Err(AppError::Down("reopen")));
    assert_eq!(breaker().state(), CircuitState::Open);
    tokio::time::advance(Duration::from_millis(999)).await;
    assert_eq!(reopen(true).await.unwrap_err().code(), Some("CIRCUIT_OPEN"));
    tokio::time::advance(Duration::from_millis(1)).await;
    assert_eq!(reopen(true).await, Ok(()));
    assert_eq!(breaker().state(), CircuitState::Closed);
}

#[circuit_breaker(name = "cb-streak", failure_threshold = 2)]
async fn streak(healthy: bool) -> Result<(), AppError> {
    if healthy {
        Ok(())
    } else {
        Err(AppError::Down("streak"))
    }
}

#[tokio::test]
async fn a_success_resets_the_failure_streak() {
    for healthy in [false, true, false, true, false] {
        let _ = streak(healthy).await;
    }
    let breaker = registry().circuit_breaker("cb-streak").unwrap();
    assert_eq!(breaker.state(), CircuitState::Closed);
    let _ = streak(false).await;
    assert_eq!(breaker.state(), CircuitState::Open);
}

#[circuit_breaker(name = "cb-shared", failure_threshold = 2)]
async fn shared_a() -> Result<(), AppError> {
    Err(AppError::Down("a"))
}

#[circuit_breaker(name = "cb-shared")]
async fn shared_b(runs: &Runs) -> Result<(), AppError> {
    runs.tick();
    Ok(())
}

#[tokio::test]
async fn functions_naming_one_breaker_share_its_state() {
    let runs = Runs::new();
    let _ = shared_a().await;
    shared_b(&runs).await.unwrap();
    let _ = shared_a().await;
    let _ = shared_a().await;
    assert_eq!(
        shared_b(&runs).await.unwrap_err().code(),
        Some("CIRCUIT_OPEN")
    );
    assert_eq!(runs.get(), 1);
    // The name-only site joined the breaker without a conflict.
    let row = registry()
        .policies()
        .into_iter()
        .find(|p| p.name() == "cb-shared")
        .unwrap();
    assert!(row.conflicts().is_empty());
}

#[circuit_breaker(name = "cb-conflict", failure_threshold = 5)]
async fn conflict_first() -> Result<(), AppError> {
    Ok(())
}

#[circuit_breaker(name = "cb-conflict", failure_threshold = 2, reset_timeout = "30s")]
async fn conflict_second() -> Result<(), AppError> {
    Ok(())
}

#[tokio::test]
async fn the_first_registration_with_settings_wins_and_a_conflict_is_visible() {
    let mut events = registry().subscribe();
    conflict_first().await.unwrap();
    conflict_second().await.unwrap();
    let breaker = registry().circuit_breaker("cb-conflict").unwrap();
    assert_eq!(
        breaker.config().trip,
        resilience::TripRule::ConsecutiveFailures(5)
    );
    let row = registry()
        .policies()
        .into_iter()
        .find(|p| p.name() == "cb-conflict")
        .unwrap();
    // reset_timeout = "30s" is the value in effect: no conflict for it.
    assert_eq!(row.conflicts(), ["failure_threshold"]);
    assert!(registry()
        .snapshot()
        .to_string()
        .contains("CONFLICT(failure_threshold)"));
    loop {
        match events.try_recv() {
            Ok(resilience::Event::ConfigConflict { name, keys, .. }) if &*name == "cb-conflict" => {
                assert_eq!(keys, ["failure_threshold"]);
                break;
            }
            Ok(_) => continue,
            Err(err) => panic!("no conflict event: {err}"),
        }
    }
}

#[circuit_breaker(name = "cb-rate", failure_rate = 0.5, window = 4, min_calls = 4)]
async fn rated(healthy: bool) -> Result<(), AppError> {
    if healthy {
        Ok(())
    } else {
        Err(AppError::Down("rated"))
    }
}

#[tokio::test]
async fn failure_rate_over_a_count_window_trips_once_min_calls_are_in() {
    let breaker = || registry().circuit_breaker("cb-rate").unwrap();
    let _ = rated(false).await;
    let _ = rated(false).await;
    let _ = rated(true).await;
    // 2 of 3: over the rate, but fewer than min_calls outcomes.
    assert_eq!(breaker().state(), CircuitState::Closed);
    let _ = rated(true).await;
    // 2 of 4 = 0.5 >= 0.5.
    assert_eq!(breaker().state(), CircuitState::Open);
}

#[circuit_breaker(name = "cb-slow", failure_threshold = 2, slow_call = "1s")]
async fn sometimes_slow(delay: Duration) -> Result<(), AppError> {
    tokio::time::sleep(delay).await;
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn successes_slower_than_slow_call_count_as_failures() {
    let breaker = || registry().circuit_breaker("cb-slow").unwrap();
    sometimes_slow(Duration::from_secs(1)).await.unwrap(); // exactly the limit: not slow
    sometimes_slow(Duration::from_millis(1001)).await.unwrap();
    assert_eq!(breaker().state(), CircuitState::Closed);
    sometimes_slow(Duration::from_secs(3)).await.unwrap();
    assert_eq!(breaker().state(), CircuitState::Open);
}

#[derive(Debug, PartialEq)]
enum HttpError {
    NotFound,
    Unavailable,
    Cancelled,
    Policy(Error),
}

impl From<Error> for HttpError {
    fn from(err: Error) -> Self {
        HttpError::Policy(err)
    }
}

fn is_outage(err: &HttpError) -> bool {
    matches!(err, HttpError::Unavailable)
}

fn is_cancelled(err: &HttpError) -> bool {
    matches!(err, HttpError::Cancelled)
}

#[circuit_breaker(name = "cb-classified", failure_threshold = 2, failure_if = is_outage, ignore_if = is_cancelled)]
async fn classified(answer: HttpError) -> Result<(), HttpError> {
    Err(answer)
}

#[tokio::test]
async fn failure_if_and_ignore_if_classify_errors() {
    let breaker = || registry().circuit_breaker("cb-classified").unwrap();
    let _ = classified(HttpError::Unavailable).await;
    // A 404 is an answer: it counts as a success and resets the streak.
    let _ = classified(HttpError::NotFound).await;
    let _ = classified(HttpError::Unavailable).await;
    assert_eq!(breaker().state(), CircuitState::Closed);
    // Ignored errors are neutral: the streak stays at 1.
    let _ = classified(HttpError::Cancelled).await;
    assert_eq!(breaker().state(), CircuitState::Closed);
    let _ = classified(HttpError::Unavailable).await;
    assert_eq!(breaker().state(), CircuitState::Open);
    assert!(matches!(
        classified(HttpError::NotFound).await,
        Err(HttpError::Policy(Error::CircuitOpen { .. }))
    ));
}

#[circuit_breaker(name = "cb-manual")]
async fn manual() -> Result<(), AppError> {
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn force_open_holds_until_reset() {
    manual().await.unwrap();
    let breaker = registry().circuit_breaker("cb-manual").unwrap();
    breaker.force_open();
    tokio::time::advance(Duration::from_secs(3600)).await;
    assert_eq!(manual().await.unwrap_err().code(), Some("CIRCUIT_OPEN"));
    assert!(registry().reset("cb-manual"));
    assert_eq!(breaker.state(), CircuitState::Closed);
    manual().await.unwrap();
}

#[circuit_breaker(name = "cb-low-traffic", failure_rate = 0.5, window = "10s")]
async fn low_traffic() -> Result<(), AppError> {
    Err(AppError::Down("low-traffic"))
}

#[tokio::test(start_paused = true)]
async fn a_time_window_shows_the_min_calls_it_waits_for() {
    // Ten failures in ten seconds: 100% failed, yet too few calls for the default min_calls.
    for _ in 0..10 {
        let _ = low_traffic().await;
        tokio::time::advance(Duration::from_millis(900)).await;
    }
    let breaker = registry().circuit_breaker("cb-low-traffic").unwrap();
    assert_eq!(breaker.state(), CircuitState::Closed);
    let row = registry()
        .policies()
        .into_iter()
        .find(|p| p.name == "cb-low-traffic")
        .unwrap();
    assert_eq!(
        row.config,
        "rate=0.5 window=10s min_calls=100 reset=30s half_open_timeout=30s"
    );
}

/// `join!` of a call and a future that panics, unwound and caught: the call is dropped during
/// the panic, but did not panic itself.
#[tokio::test(start_paused = true)]
async fn a_call_dropped_while_a_future_beside_it_panics_is_not_a_failure() {
    use futures::FutureExt;
    use std::panic::AssertUnwindSafe;

    let breaker = resilience::CircuitBreaker::builder("cb-sibling-panic")
        .failure_threshold(1)
        .build()
        .unwrap();
    let call = breaker.call(async {
        tokio::time::sleep(Duration::from_secs(1)).await;
        Ok::<(), AppError>(())
    });
    let sibling = async {
        tokio::task::yield_now().await;
        panic!("a future beside the call panics");
    };
    let joined = AssertUnwindSafe(async { futures::join!(call, sibling) })
        .catch_unwind()
        .await;
    assert!(joined.is_err(), "the panic reached catch_unwind");
    let stats = breaker.stats();
    assert_eq!((stats.failures, stats.ignored), (0, 1));
    assert_eq!(breaker.state(), CircuitState::Closed);

    // The call's own panic still counts as a failure.
    let panicking = breaker.call(async {
        tokio::task::yield_now().await;
        panic!("the call panics");
    });
    let caught = AssertUnwindSafe(async { panicking.await as Result<(), AppError> })
        .catch_unwind()
        .await;
    assert!(caught.is_err());
    assert_eq!(breaker.stats().failures, 1);
    assert_eq!(breaker.state(), CircuitState::Open);
}

#[circuit_breaker(name = "cb-attr-sibling-panic", failure_threshold = 1)]
async fn slow_or_panicking(panics: bool) -> Result<(), AppError> {
    tokio::time::sleep(Duration::from_secs(1)).await;
    if panics {
        panic!("the body panics");
    }
    Ok(())
}

/// The same through the attribute: the expansion polls the body through the permit.
#[tokio::test(start_paused = true)]
async fn through_the_attribute_only_the_bodys_own_panic_is_a_failure() {
    use futures::FutureExt;
    use std::panic::AssertUnwindSafe;

    let sibling = async {
        tokio::task::yield_now().await;
        panic!("a future beside the call panics");
    };
    let joined = AssertUnwindSafe(async { futures::join!(slow_or_panicking(false), sibling) })
        .catch_unwind()
        .await;
    assert!(joined.is_err());
    let breaker = registry().circuit_breaker("cb-attr-sibling-panic").unwrap();
    assert_eq!((breaker.stats().failures, breaker.stats().ignored), (0, 1));

    let caught = AssertUnwindSafe(slow_or_panicking(true))
        .catch_unwind()
        .await;
    assert!(caught.is_err());
    assert_eq!(breaker.stats().failures, 1);
    assert_eq!(breaker.state(), CircuitState::Open);
}

#[circuit_breaker(
    name = "cb-attr-hung-probe",
    failure_threshold = 1,
    reset_timeout = "1s",
    half_open_timeout = "5s"
)]
async fn maybe_hangs(behaviour: &'static str) -> Result<(), AppError> {
    match behaviour {
        "fail" => Err(AppError::Down("hung-probe")),
        "hang" => std::future::pending().await,
        _ => Ok(()),
    }
}

/// A probe that never finishes holds its slot only until `half_open_timeout`: then the circuit
/// re-opens, and half-opens again after the `reset_timeout`. No `#[timeout]` is needed.
#[tokio::test(start_paused = true)]
async fn a_hung_probe_counts_as_failed_after_half_open_timeout() {
    use futures::FutureExt;

    assert!(maybe_hangs("fail").await.is_err());
    let breaker = registry().circuit_breaker("cb-attr-hung-probe").unwrap();
    assert_eq!(breaker.state(), CircuitState::Open);

    tokio::time::advance(Duration::from_secs(1)).await;
    let mut hung = Box::pin(maybe_hangs("hang"));
    assert!((&mut hung).now_or_never().is_none(), "the probe is running");

    // Its slot is busy: the wait is unknown, never advertised as zero.
    match maybe_hangs("ok").await {
        Err(AppError::Policy(Error::CircuitOpen { retry_after, .. })) => {
            assert_eq!(retry_after, None)
        }
        other => panic!("expected a rejection, got {other:?}"),
    }

    tokio::time::advance(Duration::from_secs(5)).await;
    match maybe_hangs("ok").await {
        Err(AppError::Policy(Error::CircuitOpen { retry_after, .. })) => {
            assert_eq!(retry_after, Some(Duration::from_secs(1)))
        }
        other => panic!("the hung probe re-opened the circuit, got {other:?}"),
    }
    assert_eq!(breaker.state(), CircuitState::Open);

    tokio::time::advance(Duration::from_secs(1)).await;
    assert_eq!(maybe_hangs("ok").await, Ok(()));
    assert_eq!(breaker.state(), CircuitState::Closed);
    drop(hung);
    assert_eq!(
        breaker.state(),
        CircuitState::Closed,
        "the late probe changes nothing"
    );
}
