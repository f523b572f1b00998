//! Real faults: the server killed and restarted mid-run, then too slow to answer. No call fails
//! or panics; the policies fall back to their local state; `StoreUnavailable` once per outage,
//! health degraded naming the store, `StoreRejoined` and healthy again when it answers.

mod support;

use std::time::{Duration, Instant};

use resilience::store::StoreError;
use resilience::{circuit_breaker, rate_limit, registry, Contributor, Error, Event, HealthStatus};
use resilience_redis::RedisStore;
use support::RedisServer;
use tokio::sync::broadcast::Receiver;

#[rate_limit(name = "faults-api", rate = 1000, per = "1s", shared)]
#[circuit_breaker(name = "faults-db", failure_threshold = 3, shared)]
async fn fetch() -> Result<u32, Error> {
    Ok(1)
}

const OPERATION_TIMEOUT: Duration = Duration::from_millis(100);

fn store_health() -> (HealthStatus, String) {
    let check = registry()
        .health_now()
        .checks
        .into_iter()
        .find(|c| c.contributor == Contributor::Store)
        .expect("the store contributes to health");
    (check.status, check.name)
}

/// Calls `fetch` (every call must pass) until `wanted` says an event arrived, within `within`.
async fn call_until(
    events: &mut Receiver<Event>,
    within: Duration,
    what: &str,
    wanted: impl Fn(&Event) -> bool,
) -> Event {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let started = Instant::now();
        assert_eq!(
            fetch().await.unwrap(),
            1,
            "a call never fails on the store's account"
        );
        assert!(
            started.elapsed() < OPERATION_TIMEOUT * 10,
            "a call waited {:?} on the store",
            started.elapsed()
        );
        while let Ok(event) = events.try_recv() {
            if wanted(&event) {
                return event;
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not within {within:?}: {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_restarted_and_slow_the_store_never_fails_a_call() {
    let mut server = RedisServer::start();
    let store = RedisStore::builder(server.url())
        .prefix("faults")
        .operation_timeout(OPERATION_TIMEOUT)
        .connect_timeout(Duration::from_millis(200))
        .sync_interval(Duration::from_millis(50))
        .connect()
        .await
        .unwrap();
    let mut events = registry().subscribe();
    registry().set_store(store);
    for _ in 0..5 {
        assert_eq!(fetch().await.unwrap(), 1);
    }
    let (status, name) = store_health();
    assert_eq!(status, HealthStatus::Healthy);
    assert!(name.starts_with("redis://127.0.0.1:"), "{name}");
    assert!(name.ends_with("(prefix faults)"), "{name}");

    // Killed mid-run.
    server.kill();
    let down = call_until(
        &mut events,
        Duration::from_secs(5),
        "StoreUnavailable",
        |e| matches!(e, Event::StoreUnavailable { .. }),
    )
    .await;
    let Event::StoreUnavailable { store, .. } = down else {
        unreachable!()
    };
    assert_eq!(store.to_string(), name);
    let (status, _) = store_health();
    assert_eq!(status, HealthStatus::Degraded);
    let breaker = registry().circuit_breaker("faults-db").unwrap();
    assert_eq!(breaker.state(), resilience::CircuitState::Closed);

    // Restarted, empty: the policies re-join.
    server.restart();
    call_until(&mut events, Duration::from_secs(10), "StoreRejoined", |e| {
        matches!(e, Event::StoreRejoined { .. })
    })
    .await;
    assert_eq!(store_health().0, HealthStatus::Healthy);
    let limiter = registry().rate_limiter("faults-api").unwrap();
    let permitted = limiter.stats().permitted;

    // Too slow: every client paused on the server for longer than the operation timeout.
    let mut redis = server.client().await;
    let () = redis::cmd("CLIENT")
        .arg("PAUSE")
        .arg(1500)
        .arg("ALL")
        .query_async(&mut redis)
        .await
        .unwrap();
    let slow = call_until(
        &mut events,
        Duration::from_secs(5),
        "StoreUnavailable (slow)",
        |e| matches!(e, Event::StoreUnavailable { .. }),
    )
    .await;
    assert!(
        matches!(
            slow,
            Event::StoreUnavailable {
                error: StoreError::TimedOut(after),
                ..
            } if after == OPERATION_TIMEOUT
        ),
        "{slow:?}"
    );
    assert_eq!(store_health().0, HealthStatus::Degraded);
    assert!(
        limiter.stats().permitted > permitted,
        "the local bucket admitted the calls"
    );
    call_until(
        &mut events,
        Duration::from_secs(10),
        "StoreRejoined (after the pause)",
        |e| matches!(e, Event::StoreRejoined { .. }),
    )
    .await;
    assert_eq!(store_health().0, HealthStatus::Healthy);
    assert!(registry().clear_store());
}
