//! Shared policies against a scripted in-memory `SharedStore`, in virtual time: what the core
//! reports and how it follows the fleet, falls back and re-joins. (Against a real Redis, see
//! `resilience-redis/tests/`.) One test: the store is the process's registry's.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use resilience::store::{
    BreakerReport, FleetBreaker, FleetPhase, RateDecision, RateRequest, SharedStore, StoreError,
    StoreFuture,
};
use resilience::{
    registry, CircuitBreaker, CircuitState, Contributor, Error, Event, HealthStatus, RateLimiter,
    TransitionCause,
};

#[derive(Default)]
struct Fleet {
    failing: bool,
    breakers: HashMap<String, FleetBreaker>,
    /// When each breaker's fleet phase began: `open_for` grows as on a real store.
    since: HashMap<String, tokio::time::Instant>,
    reports: Vec<(String, BreakerReport)>,
    permits: Vec<RateDecision>,
    permit_calls: u32,
}

#[derive(Clone, Default)]
struct Fake(Arc<Mutex<Fleet>>);

impl Fake {
    fn with<T>(&self, f: impl FnOnce(&mut Fleet) -> T) -> T {
        f(&mut self.0.lock().unwrap())
    }
}

impl SharedStore for Fake {
    fn describe(&self) -> String {
        "fake://fleet".to_owned()
    }

    fn acquire_permit<'a>(&'a self, _: &'a str, _: RateRequest) -> StoreFuture<'a, RateDecision> {
        let answer = self.with(|fleet| {
            fleet.permit_calls += 1;
            if fleet.failing {
                Err(StoreError::Unreachable("down".to_owned()))
            } else {
                Ok(fleet.permits.pop().unwrap_or(RateDecision::Permitted))
            }
        });
        Box::pin(async move { answer })
    }

    fn sync_breaker<'a>(
        &'a self,
        name: &'a str,
        report: BreakerReport,
    ) -> StoreFuture<'a, FleetBreaker> {
        let answer = self.with(|fleet| {
            if fleet.failing {
                return Err(StoreError::TimedOut(Duration::from_millis(100)));
            }
            fleet.reports.push((name.to_owned(), report));
            let state = fleet
                .breakers
                .entry(name.to_owned())
                .or_insert(FleetBreaker {
                    generation: report.generation,
                    phase: report.phase,
                    open_for: report.open_for,
                    proposal_applied: false,
                });
            state.proposal_applied = false;
            let now = tokio::time::Instant::now();
            let since = fleet
                .since
                .entry(name.to_owned())
                .or_insert(now - report.open_for);
            if let Some(proposal) = report.proposal {
                if report.generation == state.generation && proposal != state.phase {
                    state.generation += 1;
                    state.phase = proposal;
                    state.proposal_applied = true;
                    *since = now;
                }
            }
            state.open_for = now - *since;
            Ok(*state)
        });
        Box::pin(async move { answer })
    }
}

const TICK: Duration = Duration::from_millis(100);

async fn tick() {
    tokio::time::sleep(TICK).await;
    // Lets the sync task finish its round.
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
}

fn store_health() -> HealthStatus {
    registry()
        .health_now()
        .checks
        .into_iter()
        .find(|c| c.contributor == Contributor::Store)
        .map(|c| c.status)
        .expect("the store contributes to health")
}

#[tokio::test(start_paused = true)]
async fn shared_policies_sync_follow_fall_back_and_rejoin() {
    let fake = Fake::default();
    let mut events = registry().subscribe();
    let shared = registry()
        .circuit_breaker_or_register(
            CircuitBreaker::builder("fleet-payments")
                .failure_threshold(2)
                .reset_timeout(Duration::from_secs(1))
                .shared(true),
        )
        .unwrap();
    let local = registry()
        .circuit_breaker_or_register(CircuitBreaker::builder("fleet-local").failure_threshold(2))
        .unwrap();
    registry().set_store(fake.clone());
    tick().await;

    // An unshared breaker is never reported; a shared one reports its counts.
    let _ = local.call(async { Ok::<_, Error>(()) }).await;
    for _ in 0..3 {
        shared.call(async { Ok::<_, Error>(()) }).await.unwrap();
    }
    tick().await;
    fake.with(|fleet| {
        assert!(fleet
            .reports
            .iter()
            .all(|(name, _)| name == "fleet-payments"));
        let successes: u64 = fleet.reports.iter().map(|(_, r)| r.successes).sum();
        assert_eq!(successes, 3);
    });

    // Another instance opened the circuit: this one follows within one interval.
    fake.with(|fleet| {
        let state = fleet.breakers.get_mut("fleet-payments").unwrap();
        state.generation += 1;
        state.phase = FleetPhase::Open;
        let since = tokio::time::Instant::now() - Duration::from_millis(100);
        fleet.since.insert("fleet-payments".to_owned(), since);
    });
    tick().await;
    assert_eq!(shared.state(), CircuitState::Open);
    match shared.call(async { Ok::<_, Error>(()) }).await {
        Err(Error::CircuitOpen {
            retry_after: Some(left),
            ..
        }) => assert!(left <= Duration::from_millis(900), "{left:?}"),
        other => panic!("expected an open circuit, got {other:?}"),
    }
    let followed = loop {
        if let Event::CircuitTransition { cause, .. } = events.recv().await.unwrap() {
            break cause;
        }
    };
    assert_eq!(followed, TransitionCause::Fleet);

    // Once the fleet's reset timeout has elapsed this instance proposes half-open, wins, and
    // probes; the probe's success closes the fleet's circuit.
    tokio::time::sleep(Duration::from_millis(900)).await;
    tick().await;
    tick().await;
    assert_eq!(shared.state(), CircuitState::HalfOpen);
    shared.call(async { Ok::<_, Error>(()) }).await.unwrap();
    assert_eq!(shared.state(), CircuitState::Closed);
    tick().await;
    assert_eq!(
        fake.with(|fleet| fleet.breakers["fleet-payments"].phase),
        FleetPhase::Closed
    );

    // A follower in half-open admits no probe: the fleet's prober is elsewhere.
    fake.with(|fleet| {
        let state = fleet.breakers.get_mut("fleet-payments").unwrap();
        state.generation += 1;
        state.phase = FleetPhase::HalfOpen;
    });
    tick().await;
    assert_eq!(shared.state(), CircuitState::HalfOpen);
    assert!(matches!(
        shared.call(async { Ok::<_, Error>(()) }).await,
        Err(Error::CircuitOpen {
            retry_after: None,
            ..
        })
    ));
    fake.with(|fleet| {
        let state = fleet.breakers.get_mut("fleet-payments").unwrap();
        state.generation += 1;
        state.phase = FleetPhase::Closed;
    });
    tick().await;
    assert_eq!(shared.state(), CircuitState::Closed);

    // A local trip is proposed with the generation this instance saw.
    let seen = fake.with(|fleet| fleet.breakers["fleet-payments"].generation);
    for _ in 0..2 {
        let _ = shared
            .call(async {
                Err::<(), _>(Error::Timeout {
                    name: "x".into(),
                    after: TICK,
                })
            })
            .await;
    }
    assert_eq!(shared.state(), CircuitState::Open);
    tick().await;
    fake.with(|fleet| {
        let (_, last) = fleet.reports.last().unwrap();
        assert_eq!(last.proposal, Some(FleetPhase::Open));
        assert_eq!(last.generation, seen);
        assert_eq!(fleet.breakers["fleet-payments"].phase, FleetPhase::Open);
    });
    shared.reset();
    tick().await;
    assert_eq!(
        fake.with(|fleet| fleet.breakers["fleet-payments"].phase),
        FleetPhase::Closed
    );

    // A shared limiter takes its cells from the store, one round trip per call.
    let limiter = registry()
        .rate_limiter_or_register(RateLimiter::builder("fleet-api").rate(1).shared(true))
        .unwrap();
    assert!(
        limiter.has_wait(),
        "a shared limiter's call awaits the store"
    );
    let before = fake.with(|fleet| fleet.permit_calls);
    limiter.acquire().await.unwrap();
    limiter.acquire().await.unwrap();
    fake.with(|fleet| {
        fleet.permits.push(RateDecision::Limited {
            retry_after: Duration::from_millis(250),
        })
    });
    assert_eq!(
        limiter.acquire().await,
        Err(Error::RateLimited {
            name: "fleet-api".into(),
            retry_after: Duration::from_millis(250)
        })
    );
    assert_eq!(fake.with(|fleet| fleet.permit_calls) - before, 3);
    assert_eq!(store_health(), HealthStatus::Healthy);

    // The store fails: no call fails, one StoreUnavailable, health degraded naming the store.
    fake.with(|fleet| fleet.failing = true);
    limiter.refill();
    assert!(limiter.acquire().await.is_ok(), "the local bucket decides");
    assert!(
        limiter.acquire().await.is_err(),
        "rate 1: the local bucket is empty"
    );
    let (store, error) = loop {
        if let Event::StoreUnavailable { store, error, .. } = events.recv().await.unwrap() {
            break (store, error);
        }
    };
    assert_eq!(&*store, "fake://fleet");
    assert_eq!(error, StoreError::Unreachable("down".to_owned()));
    assert_eq!(store_health(), HealthStatus::Degraded);
    let check = registry()
        .health_now()
        .checks
        .into_iter()
        .find(|c| c.contributor == Contributor::Store)
        .unwrap();
    assert_eq!(check.name, "fake://fleet");

    // The breaker runs on its local state while the store is away: its own trip, its own
    // half-open, its own probe.
    tick().await;
    for _ in 0..2 {
        let _ = shared
            .call(async {
                Err::<(), _>(Error::Timeout {
                    name: "x".into(),
                    after: TICK,
                })
            })
            .await;
    }
    assert_eq!(shared.state(), CircuitState::Open);
    tokio::time::sleep(Duration::from_secs(1)).await;
    shared.call(async { Ok::<_, Error>(()) }).await.unwrap();
    assert_eq!(shared.state(), CircuitState::Closed);

    // It answers again: StoreRejoined, healthy, and the breaker syncs again.
    fake.with(|fleet| fleet.failing = false);
    tick().await;
    loop {
        if let Event::StoreRejoined { store, .. } = events.recv().await.unwrap() {
            assert_eq!(&*store, "fake://fleet");
            break;
        }
    }
    assert_eq!(store_health(), HealthStatus::Healthy);
    let reports = fake.with(|fleet| fleet.reports.len());
    tick().await;
    assert!(fake.with(|fleet| fleet.reports.len()) > reports);

    // Cleared: the shared policies run locally and the store leaves health.
    assert!(registry().clear_store());
    assert!(!registry().has_store());
    assert!(registry()
        .health_now()
        .checks
        .iter()
        .all(|c| c.contributor != Contributor::Store));
}
