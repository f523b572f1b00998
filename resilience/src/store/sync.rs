//! The registry's background task that syncs every shared breaker with its fleet, every
//! `sync_interval`: nothing of it runs on a call's path.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::time::MissedTickBehavior;

use super::{BreakerReport, FleetPhase, StoreHandle};
use crate::circuit_breaker::LocalView;
use crate::{CircuitBreaker, Registry};

/// What the task remembers of one breaker between syncs.
struct Link {
    /// The breaker itself, so that a breaker unregistered and registered anew under the same
    /// name starts a fresh link.
    breaker: Arc<CircuitBreaker>,
    /// The fleet's generation at the last answer.
    generation: u64,
    /// The breaker's phase the fleet last agreed with: a different phase now is a transition
    /// this instance made, to propose.
    phase: FleetPhase,
    /// The breaker's outcome totals at the last sync.
    successes: u64,
    failures: u64,
}

/// Starts the sync task of `handle` for the shared breakers of `registry`: on the current Tokio
/// runtime, or, outside one, on a thread of its own with a small runtime. It ends once the
/// handle is retired (another store set, or the store cleared).
pub(crate) fn spawn_sync(registry: &'static Registry, handle: Arc<StoreHandle>) {
    let task = run(registry, handle);
    match tokio::runtime::Handle::try_current() {
        Ok(runtime) => {
            runtime.spawn(task);
        }
        Err(_) => {
            // Without a runtime there is nowhere else to run it; a thread that cannot start
            // leaves the shared breakers on their local state, which is what a store that never
            // answers does anyway.
            let _ = std::thread::Builder::new()
                .name("resilience-store-sync".to_owned())
                .spawn(move || {
                    if let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                        .enable_time()
                        .build()
                    {
                        runtime.block_on(task);
                    }
                });
        }
    }
}

async fn run(registry: &'static Registry, handle: Arc<StoreHandle>) {
    let mut links: HashMap<Arc<str>, Link> = HashMap::new();
    let mut ticker = tokio::time::interval(handle.store().sync_interval());
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        if handle.is_retired() {
            return;
        }
        let breakers = registry.shared_breakers();
        links.retain(|name, link| {
            breakers
                .iter()
                .any(|b| b.name_arc() == name && Arc::ptr_eq(b, &link.breaker))
        });
        for breaker in breakers {
            let link = links
                .entry(Arc::clone(breaker.name_arc()))
                .or_insert_with(|| Link {
                    breaker: Arc::clone(&breaker),
                    generation: 0,
                    phase: FleetPhase::Closed,
                    successes: 0,
                    failures: 0,
                });
            sync_one(&handle, &breaker, link).await;
        }
    }
}

/// One breaker's sync: report, then follow the fleet's answer.
async fn sync_one(handle: &StoreHandle, breaker: &CircuitBreaker, link: &mut Link) {
    let view: LocalView = breaker.fleet_view();
    let phase = view.phase();
    // Only outcomes of a closed circuit count toward the fleet's trip rule.
    let (successes, failures) = if phase == FleetPhase::Closed && link.phase == FleetPhase::Closed {
        (
            view.successes.saturating_sub(link.successes),
            view.failures.saturating_sub(link.failures),
        )
    } else {
        (0, 0)
    };
    let proposal = if phase != link.phase {
        Some(phase)
    } else if view.reset_elapsed {
        Some(FleetPhase::HalfOpen)
    } else {
        None
    };
    let report = BreakerReport {
        generation: link.generation,
        proposal,
        phase,
        open_for: view.open_for,
        successes,
        failures,
        trailing_failures: view.trailing_failures,
        rule: view.rule,
        bucket: view.bucket,
        half_open_timeout: view.half_open_timeout,
        ttl: view.ttl,
    };
    link.successes = view.successes;
    link.failures = view.failures;
    match handle
        .run(handle.store().sync_breaker(breaker.name(), report))
        .await
    {
        Ok(fleet) => {
            link.generation = fleet.generation;
            breaker.set_fleet_joined(true);
            let prober = fleet.proposal_applied && proposal == Some(FleetPhase::HalfOpen);
            link.phase = if breaker.follow_fleet(view.word, fleet.phase, fleet.open_for, prober) {
                fleet.phase
            } else {
                phase
            };
        }
        // Keeps `link.phase`: a transition made while the store is away is proposed when it
        // answers again (and dropped if the fleet moved meanwhile).
        Err(_) => breaker.set_fleet_joined(false),
    }
}
