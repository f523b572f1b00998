//! Load: many tasks on the multi-threaded runtime hammer one circuit breaker stacked over one
//! bulkhead while the dependency flips between healthy and failing. No deadlock (the storm is
//! bounded by a timeout that fails the test), no outcome lost or counted twice (the policies'
//! counters equal what the callers saw), and the breaker ends where the state machine says.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use resilience::{Bulkhead, CallOutcome, CircuitBreaker, CircuitState, Error, Failure};

const TASKS: u64 = 64;
const CALLS_PER_TASK: u64 = 1000;
/// The dependency is healthy for this many calls, then failing for as many, and so on.
const PHASE_CALLS: u64 = 1500;
/// Bounds the storm: far beyond its normal second or two, so only a deadlock reaches it.
const DEADLOCK_BOUND: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, PartialEq)]
enum AppError {
    Down,
    Rejected(Error),
}

impl From<Error> for AppError {
    fn from(error: Error) -> Self {
        AppError::Rejected(error)
    }
}

/// What one task saw.
#[derive(Debug, Default, Clone, Copy)]
struct Seen {
    ok: u64,
    down: u64,
    circuit_open: u64,
    bulkhead_full: u64,
}

impl Seen {
    fn add(self, other: Seen) -> Seen {
        Seen {
            ok: self.ok + other.ok,
            down: self.down + other.down,
            circuit_open: self.circuit_open + other.circuit_open,
            bulkhead_full: self.bulkhead_full + other.bulkhead_full,
        }
    }
}

/// A dependency whose health is decided by how many calls reached it: deterministic, however
/// the tasks interleave.
struct Dependency {
    calls: AtomicU64,
}

impl Dependency {
    async fn call(&self) -> Result<(), AppError> {
        let ordinal = self.calls.fetch_add(1, Relaxed);
        // An await point inside the call, so calls overlap and the bulkhead fills.
        tokio::task::yield_now().await;
        if (ordinal / PHASE_CALLS) % 2 == 0 {
            Ok(())
        } else {
            Err(AppError::Down)
        }
    }
}

async fn call(
    breaker: &CircuitBreaker,
    bulkhead: &Bulkhead,
    dependency: &Dependency,
) -> Result<(), AppError> {
    let inner = bulkhead.run(async { dependency.call().await.map_err(Failure::Operation) });
    breaker
        .run(inner, |_: &AppError| CallOutcome::Failure)
        .await
        .map_err(Failure::into_error)
}

fn record(seen: &mut Seen, result: Result<(), AppError>) {
    match result {
        Ok(()) => seen.ok += 1,
        Err(AppError::Down) => seen.down += 1,
        Err(AppError::Rejected(Error::CircuitOpen { .. })) => seen.circuit_open += 1,
        Err(AppError::Rejected(Error::BulkheadFull { .. })) => seen.bulkhead_full += 1,
        Err(AppError::Rejected(other)) => panic!("unexpected rejection {other:?}"),
    }
}

#[test]
fn many_tasks_hammering_one_breaker_and_bulkhead_keep_exact_counts() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_time()
        .build()
        .expect("a multi-threaded runtime");
    // A zero reset timeout makes the breaker cycle open → half-open → open/closed on the calls
    // themselves, with no wall-clock wait, as often as the load allows.
    let breaker = Arc::new(
        CircuitBreaker::builder("stress")
            .failure_threshold(5)
            .reset_timeout(Duration::ZERO)
            .half_open_max_calls(3)
            .success_threshold(2)
            .build()
            .expect("valid settings"),
    );
    let bulkhead = Arc::new(
        Bulkhead::builder("stress")
            .max_concurrent(8)
            .queue(8)
            .queue_timeout(DEADLOCK_BOUND)
            .build()
            .expect("valid settings"),
    );
    let dependency = Arc::new(Dependency {
        calls: AtomicU64::new(0),
    });

    let storm = {
        let (breaker, bulkhead, dependency) = (
            Arc::clone(&breaker),
            Arc::clone(&bulkhead),
            Arc::clone(&dependency),
        );
        async move {
            let tasks: Vec<_> = (0..TASKS)
                .map(|_| {
                    let (breaker, bulkhead, dependency) = (
                        Arc::clone(&breaker),
                        Arc::clone(&bulkhead),
                        Arc::clone(&dependency),
                    );
                    tokio::spawn(async move {
                        let mut seen = Seen::default();
                        for _ in 0..CALLS_PER_TASK {
                            record(&mut seen, call(&breaker, &bulkhead, &dependency).await);
                        }
                        seen
                    })
                })
                .collect();
            let mut total = Seen::default();
            for task in tasks {
                total = total.add(task.await.expect("a calling task panicked"));
            }
            total
        }
    };
    let seen = runtime
        .block_on(async { tokio::time::timeout(DEADLOCK_BOUND, storm).await })
        .expect("the storm deadlocked");

    // Every call was answered exactly once, and each policy counted what its callers saw.
    assert_eq!(
        seen.ok + seen.down + seen.circuit_open + seen.bulkhead_full,
        TASKS * CALLS_PER_TASK
    );
    assert_eq!(
        dependency.calls.load(Relaxed),
        seen.ok + seen.down,
        "a call reached the dependency without its outcome being reported, or twice"
    );
    let stats = bulkhead.stats();
    assert_eq!((stats.in_flight, stats.queued), (0, 0), "a slot leaked");
    assert_eq!(stats.rejected, seen.bulkhead_full);
    let stats = breaker.stats();
    assert_eq!(stats.successes, seen.ok);
    assert_eq!(stats.failures, seen.down);
    assert_eq!(stats.rejected, seen.circuit_open);
    // A full bulkhead below the breaker says nothing about the dependency.
    assert_eq!(stats.ignored, seen.bulkhead_full);
    assert!(
        seen.circuit_open > 0 && seen.down > 0 && seen.ok > 0,
        "the storm exercised every path: {seen:?}"
    );

    // With the storm over, the state machine predicts the rest exactly. One recorded failure
    // leaves a closed circuit closed (1 of 5) and puts any other in a known state: open, with
    // fresh counts. Then healthy calls made one at a time either keep a closed circuit closed or
    // go half-open on the first (a zero reset timeout lets it through at once) and close on the
    // second (`success_threshold`). A probe slot leaked by the storm would reject them instead.
    let healthy = Dependency {
        calls: AtomicU64::new(0),
    };
    breaker.record_failure();
    let state_after_storm = breaker.state();
    assert_ne!(state_after_storm, CircuitState::HalfOpen);
    runtime.block_on(async {
        for call_number in 1..=4 {
            let result = call(&breaker, &bulkhead, &healthy).await;
            assert_eq!(
                result,
                Ok(()),
                "call {call_number} after a {state_after_storm} storm"
            );
            let expected = if state_after_storm == CircuitState::Closed || call_number >= 2 {
                CircuitState::Closed
            } else {
                CircuitState::HalfOpen
            };
            assert_eq!(breaker.state(), expected, "after call {call_number}");
        }
    });
}
