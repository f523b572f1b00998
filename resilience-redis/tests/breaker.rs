//! The shared breaker against a real `redis-server`: generation-guarded transitions (two
//! instances tripping at once open it once), the trip rule judged on the fleet's counts,
//! half-open probes bounded fleet-wide, and a registry's breaker following another instance
//! within one sync interval, through a flush and garbage in its key.

mod support;

use std::time::Duration;

use redis::AsyncCommands;
use resilience::store::{BreakerReport, FleetBreaker, FleetPhase, FleetRule};
use resilience::{circuit_breaker, registry, CircuitState, Error, SharedStore};
use resilience_redis::RedisStore;
use support::{eventually, RedisServer};

fn report(generation: u64) -> BreakerReport {
    BreakerReport {
        generation,
        proposal: None,
        phase: FleetPhase::Closed,
        open_for: Duration::ZERO,
        successes: 0,
        failures: 0,
        trailing_failures: 0,
        rule: FleetRule::ConsecutiveFailures(3),
        bucket: Duration::from_millis(100),
        half_open_timeout: Duration::from_secs(30),
        ttl: Duration::from_secs(60),
    }
}

async fn two_instances(server: &RedisServer) -> (RedisStore, RedisStore) {
    let a = RedisStore::builder(server.url())
        .prefix("race")
        .connect()
        .await
        .unwrap();
    let b = RedisStore::builder(server.url())
        .prefix("race")
        .connect()
        .await
        .unwrap();
    (a, b)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_tripping_at_once_open_it_once() {
    let server = RedisServer::start();
    let (a, b) = two_instances(&server).await;
    let mut redis = server.client().await;
    for round in 0..20 {
        let name = format!("orders-{round}");
        let first = a.sync_breaker(&name, report(0)).await.unwrap();
        assert_eq!((first.generation, first.phase), (0, FleetPhase::Closed));
        let trip = BreakerReport {
            proposal: Some(FleetPhase::Open),
            phase: FleetPhase::Open,
            ..report(0)
        };
        let (x, y) = tokio::join!(a.sync_breaker(&name, trip), b.sync_breaker(&name, trip));
        let (x, y): (FleetBreaker, FleetBreaker) = (x.unwrap(), y.unwrap());
        assert_eq!(
            u8::from(x.proposal_applied) + u8::from(y.proposal_applied),
            1,
            "round {round}: exactly one instance opens it"
        );
        assert_eq!((x.phase, y.phase), (FleetPhase::Open, FleetPhase::Open));
        assert_eq!((x.generation, y.generation), (1, 1));
        let key = format!("resilience:race:circuit_breaker:{name}");
        let transitions: u64 = redis.hget(&key, "transitions").await.unwrap();
        assert_eq!(transitions, 1, "round {round}");
        let ttl: i64 = redis.pttl(&key).await.unwrap();
        assert!(ttl > 0 && ttl <= 60_000, "{ttl}");
    }
}

#[tokio::test]
async fn the_trip_rule_is_judged_on_the_fleets_counts() {
    let server = RedisServer::start();
    let (a, b) = two_instances(&server).await;
    // Consecutive rule, threshold 3: two failures here and two there open it.
    let two = BreakerReport {
        failures: 2,
        trailing_failures: 2,
        ..report(0)
    };
    assert_eq!(
        a.sync_breaker("streak", two).await.unwrap().phase,
        FleetPhase::Closed
    );
    let fleet = b.sync_breaker("streak", two).await.unwrap();
    assert_eq!((fleet.phase, fleet.generation), (FleetPhase::Open, 1));
    assert!(
        !fleet.proposal_applied,
        "the fleet's counts tripped it, not a proposal"
    );

    // A success in between restarts the fleet's streak at the reporter's trailing failures.
    let _ = a.sync_breaker("broken-streak", two).await.unwrap();
    let recovered = BreakerReport {
        successes: 1,
        failures: 1,
        trailing_failures: 0,
        ..report(0)
    };
    assert_eq!(
        b.sync_breaker("broken-streak", recovered)
            .await
            .unwrap()
            .phase,
        FleetPhase::Closed
    );
    assert_eq!(
        a.sync_breaker("broken-streak", two).await.unwrap().phase,
        FleetPhase::Closed
    );

    // Rate rule: 50% of at least 10 calls in the window.
    let rate = FleetRule::FailureRate {
        rate: 0.5,
        min_calls: 10,
        window: Duration::from_secs(60),
    };
    let half = BreakerReport {
        successes: 3,
        failures: 3,
        rule: rate,
        ..report(0)
    };
    assert_eq!(
        a.sync_breaker("rate", half).await.unwrap().phase,
        FleetPhase::Closed
    );
    assert_eq!(
        b.sync_breaker("rate", half).await.unwrap().phase,
        FleetPhase::Open
    );
}

#[tokio::test]
async fn half_open_probes_are_bounded_fleet_wide_and_a_silent_prober_reopens_it() {
    let server = RedisServer::start();
    let (a, b) = two_instances(&server).await;
    let open = BreakerReport {
        proposal: Some(FleetPhase::Open),
        phase: FleetPhase::Open,
        half_open_timeout: Duration::from_millis(200),
        ..report(0)
    };
    a.sync_breaker("probe", report(0)).await.unwrap();
    assert!(
        a.sync_breaker("probe", open)
            .await
            .unwrap()
            .proposal_applied
    );
    // Both see the reset timeout elapse and propose half-open: one wins and probes.
    let half_open = BreakerReport {
        proposal: Some(FleetPhase::HalfOpen),
        ..open
    };
    let (x, y) = tokio::join!(
        a.sync_breaker(
            "probe",
            BreakerReport {
                generation: 1,
                ..half_open
            }
        ),
        b.sync_breaker(
            "probe",
            BreakerReport {
                generation: 1,
                ..half_open
            }
        )
    );
    let (x, y) = (x.unwrap(), y.unwrap());
    assert_eq!(
        u8::from(x.proposal_applied) + u8::from(y.proposal_applied),
        1
    );
    assert_eq!(x.phase, FleetPhase::HalfOpen);
    // The prober never reports: after `half_open_timeout` the fleet re-opens.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let fleet = b
            .sync_breaker(
                "probe",
                BreakerReport {
                    generation: 2,
                    phase: FleetPhase::HalfOpen,
                    proposal: None,
                    ..open
                },
            )
            .await
            .unwrap();
        if fleet.phase == FleetPhase::Open {
            assert_eq!(fleet.generation, 3);
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "still half-open");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[circuit_breaker(
    name = "inventory",
    failure_threshold = 3,
    reset_timeout = "1h",
    shared
)]
async fn inventory() -> Result<u32, Error> {
    Ok(7)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_breaker_follows_its_fleet_within_one_interval_through_a_flush_and_garbage() {
    let server = RedisServer::start();
    let interval = Duration::from_millis(50);
    let store = RedisStore::builder(server.url())
        .prefix("follow")
        .sync_interval(interval)
        .connect()
        .await
        .unwrap();
    let other = RedisStore::builder(server.url())
        .prefix("follow")
        .connect()
        .await
        .unwrap();
    registry().set_store(store);
    assert_eq!(inventory().await.unwrap(), 7);
    let breaker = registry().circuit_breaker("inventory").unwrap();
    let key = "resilience:follow:circuit_breaker:inventory";
    let mut redis = server.client().await;
    // The first sync seeds the fleet's state.
    let mut seeded = false;
    for _ in 0..200 {
        let exists: bool = redis.exists(key).await.unwrap();
        if exists {
            seeded = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(seeded, "the breaker's first sync seeds its key");

    // Another instance trips the fleet: this one follows within an interval or so.
    let generation: u64 = redis.hget(key, "gen").await.unwrap();
    let tripped = other
        .sync_breaker(
            "inventory",
            BreakerReport {
                proposal: Some(FleetPhase::Open),
                phase: FleetPhase::Open,
                ..report(generation)
            },
        )
        .await
        .unwrap();
    assert!(tripped.proposal_applied);
    let started = tokio::time::Instant::now();
    eventually(
        Duration::from_secs(2),
        "the breaker follows the fleet open",
        || breaker.state() == CircuitState::Open,
    )
    .await;
    let followed_after = started.elapsed();
    assert!(
        followed_after <= interval * 4,
        "followed after {followed_after:?}, the interval is {interval:?}"
    );
    assert!(matches!(inventory().await, Err(Error::CircuitOpen { .. })));

    // Flushed: the instance re-seeds the fleet with its own state, still open.
    let () = redis::cmd("FLUSHALL")
        .query_async(&mut redis)
        .await
        .unwrap();
    let mut reseeded = None;
    for _ in 0..400 {
        let phase: Option<String> = redis.hget(key, "phase").await.unwrap();
        if phase.is_some() {
            reseeded = phase;
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(reseeded.as_deref(), Some("open"));
    assert_eq!(breaker.state(), CircuitState::Open);

    // The fleet closes (another instance's reset) and this one follows.
    let generation: u64 = redis.hget(key, "gen").await.unwrap();
    other
        .sync_breaker(
            "inventory",
            BreakerReport {
                proposal: Some(FleetPhase::Closed),
                phase: FleetPhase::Closed,
                ..report(generation)
            },
        )
        .await
        .unwrap();
    eventually(
        Duration::from_secs(2),
        "the breaker follows the fleet closed",
        || breaker.state() == CircuitState::Closed,
    )
    .await;
    assert_eq!(inventory().await.unwrap(), 7);

    // Garbage in the key: no call fails, the key is re-seeded as a hash.
    let () = redis.set(key, "garbage").await.unwrap();
    assert_eq!(inventory().await.unwrap(), 7);
    let mut healed = false;
    for _ in 0..400 {
        let kind: String = redis::cmd("TYPE")
            .arg(key)
            .query_async(&mut redis)
            .await
            .unwrap();
        if kind == "hash" {
            healed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(healed, "the next sync re-seeds an unreadable key");
    assert_eq!(breaker.state(), CircuitState::Closed);
    assert!(registry().clear_store());
}
