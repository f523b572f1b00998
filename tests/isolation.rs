//! Tests that never share a policy (feature `test-util`): `#[resilience::test]` and
//! `resilience::testing`, as a user's test suite uses them.
//!
//! The policies below are named, and every test uses them in its own way: forces a breaker open
//! or needs it closed, registers a name with one setting or another. Without the isolation the
//! outcome would depend on which test ran first, and on what ran beside it.

mod common;

use std::panic::AssertUnwindSafe;
use std::time::Duration;

use common::{AppError, Runs};
use futures::future::join_all;
use futures::FutureExt;
use resilience::testing::{self, Isolation};
use resilience::{circuit_breaker, registry, retry, CircuitState, PolicyKind, TripRule};

#[circuit_breaker(name = "iso-payments", failure_threshold = 2, reset_timeout = "30s")]
async fn charge(runs: &Runs, ok: bool) -> Result<u32, AppError> {
    let n = runs.tick();
    if ok {
        Ok(n)
    } else {
        Err(AppError::Down("payments"))
    }
}

fn payments_state() -> CircuitState {
    registry()
        .circuit_breaker("iso-payments")
        .map(|breaker| breaker.state())
        .unwrap_or(CircuitState::Closed)
}

// The next two tests run in parallel (the test harness's default) and use the same function and
// breaker in opposite ways; each also passes alone.

#[resilience::test]
async fn a_test_that_forces_the_breaker_open() {
    let runs = Runs::new();
    for _ in 0..100 {
        let _ = charge(&runs, false).await;
        tokio::task::yield_now().await;
    }
    assert_eq!(payments_state(), CircuitState::Open);
    // Two failures opened it; every later call was rejected without running.
    assert_eq!(runs.get(), 2);
    let breaker = registry().circuit_breaker("iso-payments").unwrap();
    assert_eq!(
        (breaker.stats().failures, breaker.stats().rejected),
        (2, 98)
    );
}

#[resilience::test]
async fn a_test_that_needs_the_breaker_closed() -> Result<(), AppError> {
    let runs = Runs::new();
    for expected in 1..=100 {
        assert_eq!(charge(&runs, true).await?, expected);
        tokio::task::yield_now().await;
    }
    assert_eq!(payments_state(), CircuitState::Closed);
    let breaker = registry().circuit_breaker("iso-payments").unwrap();
    assert_eq!(
        (breaker.stats().successes, breaker.stats().failures),
        (100, 0)
    );
    Ok(())
}

/// Paused time, as `start_paused = true` gives: a 30 s reset timeout passes at once.
#[resilience::test]
async fn a_test_runs_on_paused_time() -> Result<(), AppError> {
    let runs = Runs::new();
    let _ = charge(&runs, false).await;
    let _ = charge(&runs, false).await;
    let rejected = charge(&runs, true).await.unwrap_err();
    assert_eq!(rejected.code(), Some("CIRCUIT_OPEN"));
    let start = std::time::Instant::now();
    tokio::time::sleep(Duration::from_secs(30)).await;
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "time was not paused"
    );
    assert_eq!(charge(&runs, true).await?, 3);
    assert_eq!(payments_state(), CircuitState::Closed);
    Ok(())
}

/// Many isolations at once on one thread, their steps interleaved: an even one opens the breaker,
/// an odd one calls it while the others are open. Each sees its own breaker only.
#[tokio::test(start_paused = true)]
async fn concurrent_isolations_never_share_a_breaker() {
    let scopes = (0..16).map(|i| {
        testing::isolated(async move {
            let runs = Runs::new();
            let opens = i % 2 == 0;
            let mut rejected = 0;
            for _ in 0..6 {
                if charge(&runs, !opens)
                    .await
                    .is_err_and(|e| e.code().is_some())
                {
                    rejected += 1;
                }
                tokio::task::yield_now().await;
            }
            (opens, payments_state(), runs.get(), rejected)
        })
    });
    for (opens, state, runs, rejected) in join_all(scopes).await {
        if opens {
            assert_eq!((state, runs, rejected), (CircuitState::Open, 2, 4));
        } else {
            assert_eq!((state, runs, rejected), (CircuitState::Closed, 6, 0));
        }
    }
    // Nothing of it reached the global registry.
    assert!(registry().circuit_breaker("iso-payments").is_none());
}

#[circuit_breaker(name = "iso-settings", failure_threshold = 1)]
async fn strict() -> Result<(), AppError> {
    Ok(())
}

#[circuit_breaker(name = "iso-settings", failure_threshold = 3)]
async fn lenient() -> Result<(), AppError> {
    Ok(())
}

/// Two sites give one name different settings: in each isolation the site that ran first there
/// decides, whatever the others did, and the conflict is that isolation's.
#[tokio::test(start_paused = true)]
async fn the_first_registration_wins_per_isolation() {
    let scopes = (0..8).map(|i| {
        testing::isolated(async move {
            let strict_first = i % 2 == 0;
            if strict_first {
                strict().await.unwrap();
            } else {
                lenient().await.unwrap();
            }
            // Every isolation registers before any registers the other settings.
            tokio::task::yield_now().await;
            if strict_first {
                lenient().await.unwrap();
            } else {
                strict().await.unwrap();
            }
            let breaker = registry().circuit_breaker("iso-settings").unwrap();
            let row = registry()
                .policies()
                .into_iter()
                .find(|p| p.kind() == PolicyKind::CircuitBreaker && p.name() == "iso-settings")
                .unwrap();
            (
                strict_first,
                breaker.config().trip,
                row.conflicts().to_vec(),
            )
        })
    });
    for (strict_first, trip, conflicts) in join_all(scopes).await {
        let threshold = if strict_first { 1 } else { 3 };
        assert_eq!(trip, TripRule::ConsecutiveFailures(threshold));
        assert_eq!(conflicts, ["failure_threshold"]);
    }
}

#[circuit_breaker(name = "iso-global", failure_threshold = 1)]
async fn global_check(runs: &Runs, ok: bool) -> Result<u32, AppError> {
    let n = runs.tick();
    if ok {
        Ok(n)
    } else {
        Err(AppError::Down("global"))
    }
}

#[retry(name = "iso-first-inside", max_attempts = 2, backoff = "none")]
async fn first_inside(runs: &Runs) -> Result<u32, AppError> {
    Ok(runs.tick())
}

/// A plain `#[tokio::test]`: what happens inside an isolation leaves the global registry, and
/// each site's global policy, as they were.
#[tokio::test(start_paused = true)]
async fn the_global_registry_is_unchanged_by_an_isolation() {
    let runs = Runs::new();
    // The site's global policy first, then the same site inside an isolation.
    assert_eq!(global_check(&runs, true).await, Ok(1));
    let isolation = Isolation::new();
    isolation
        .scope(async {
            let _ = global_check(&runs, false).await;
            assert_eq!(
                registry().circuit_breaker("iso-global").unwrap().state(),
                CircuitState::Open
            );
            // A site whose first call ever is inside the isolation.
            assert_eq!(first_inside(&runs).await, Ok(3));
            registry()
                .circuit_breaker_or_register(resilience::CircuitBreaker::builder("iso-inside-only"))
                .unwrap();
        })
        .await;

    let global = registry().circuit_breaker("iso-global").unwrap();
    assert_eq!(global.state(), CircuitState::Closed);
    assert_eq!((global.stats().calls, global.stats().failures), (1, 0));
    assert!(registry().circuit_breaker("iso-inside-only").is_none());
    assert!(registry().retry("iso-first-inside").is_none());
    // The site's `static` was left to the calls outside: its first call out here registers it.
    assert_eq!(first_inside(&runs).await, Ok(4));
    assert_eq!(
        registry().retry("iso-first-inside").unwrap().stats().calls,
        1
    );
    // And the isolation's registry still holds what happened inside.
    let inside = isolation.registry();
    assert_eq!(
        inside.circuit_breaker("iso-global").unwrap().state(),
        CircuitState::Open
    );
    assert_eq!(inside.retry("iso-first-inside").unwrap().stats().calls, 1);
    assert!(inside.circuit_breaker("iso-inside-only").is_some());
}

mod generic {
    use super::{AppError, Runs};
    use resilience::circuit_breaker;
    use std::marker::PhantomData;

    pub struct Client<T>(PhantomData<T>);

    impl<T> Client<T> {
        pub fn new() -> Self {
            Client(PhantomData)
        }

        /// Unnamed, in a generic impl: one breaker per concrete `Self`.
        #[circuit_breaker(failure_threshold = 1)]
        pub async fn ping(&self, runs: &Runs, ok: bool) -> Result<u32, AppError> {
            let n = runs.tick();
            if ok {
                Ok(n)
            } else {
                Err(AppError::Down("ping"))
            }
        }
    }
}

/// The breaker of `Client<T>::ping` in the current registry, by its default name.
fn ping_state<T>() -> Option<CircuitState> {
    let name = format!("{}::ping", std::any::type_name::<generic::Client<T>>());
    registry().circuit_breaker(&name).map(|b| b.state())
}

/// A site whose policy depends on the concrete `Self` isolates per type too.
#[tokio::test(start_paused = true)]
async fn a_generic_method_isolates_per_type() {
    let (bytes, words) = (generic::Client::<u8>::new(), generic::Client::<u16>::new());
    let opens_bytes = testing::isolated(async {
        let runs = Runs::new();
        let _ = bytes.ping(&runs, false).await;
        tokio::task::yield_now().await;
        assert!(words.ping(&runs, true).await.is_ok());
        (ping_state::<u8>(), ping_state::<u16>())
    });
    let opens_words = testing::isolated(async {
        let runs = Runs::new();
        let _ = words.ping(&runs, false).await;
        tokio::task::yield_now().await;
        assert!(bytes.ping(&runs, true).await.is_ok());
        (ping_state::<u8>(), ping_state::<u16>())
    });
    let (a, b) = futures::join!(opens_bytes, opens_words);
    assert_eq!(a, (Some(CircuitState::Open), Some(CircuitState::Closed)));
    assert_eq!(b, (Some(CircuitState::Closed), Some(CircuitState::Open)));
    assert_eq!((ping_state::<u8>(), ping_state::<u16>()), (None, None));
}

/// A task spawned with `testing::spawn` joins the isolation it was spawned from; one spawned with
/// `tokio::spawn` runs in the global registry. On the multi-thread runtime, where the task may
/// move between workers.
#[resilience::test(flavor = "multi_thread", worker_threads = 2, start_paused = false)]
async fn a_spawned_task_joins_the_isolation_with_testing_spawn() {
    let before = testing::current();
    assert!(before.is_some());
    let joined = testing::spawn(async move {
        let runs = Runs::new();
        for _ in 0..50 {
            let _ = global_check(&runs, false).await;
            tokio::task::yield_now().await;
            assert_eq!(testing::current(), before);
        }
        runs.get()
    });
    // Failure threshold 1: one failure ran, 49 calls were rejected, all in this isolation.
    assert_eq!(joined.await.unwrap(), 1);
    let breaker = registry().circuit_breaker("iso-global").unwrap();
    assert_eq!(
        (breaker.state(), breaker.stats().rejected),
        (CircuitState::Open, 49)
    );

    registry()
        .circuit_breaker_or_register(resilience::CircuitBreaker::builder("iso-spawned"))
        .unwrap();
    let outside = tokio::spawn(async {
        (
            testing::current(),
            registry().circuit_breaker("iso-spawned"),
        )
    });
    let (current, spawned) = outside.await.unwrap();
    assert_eq!(current, None);
    assert!(spawned.is_none());
}

/// An isolation inside another is its own, and leaving it (even by a panic) makes the outer one
/// current again.
#[tokio::test(start_paused = true)]
async fn a_nested_isolation_restores_the_outer_one_even_on_panic() {
    let outer = Isolation::new();
    outer
        .scope(async {
            let inner = testing::isolated(async { testing::current() });
            let inner_isolation = inner.isolation();
            assert_eq!(inner.await, Some(inner_isolation));
            assert_ne!(inner_isolation, outer);
            assert_eq!(testing::current(), Some(outer));

            let panicked = AssertUnwindSafe(testing::isolated(async {
                panic!("a failing assertion in a test");
            }))
            .catch_unwind()
            .await;
            assert!(panicked.is_err());
            assert_eq!(testing::current(), Some(outer));
        })
        .await;
    assert_eq!(testing::current(), None);
}
