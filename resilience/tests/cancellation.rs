//! Randomized cancellation and panics through a circuit breaker stacked over a bulkhead, on both
//! paths a call can take: an annotated function (`#[circuit_breaker] #[bulkhead]`) and the
//! layers' `run` methods the macros expand to. Thousands of calls are dropped at random await
//! points (before admission, queued for a slot, mid-body) or panic, on tokio's paused clock;
//! then every count must be exact: no slot leaked, no probe slot stuck, every outcome counted
//! once, as the right kind.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Once};
use std::time::Duration;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use resilience::{
    bulkhead, circuit_breaker, Bulkhead, CallOutcome, CircuitBreaker, CircuitState, Error, Failure,
};
use tokio::task::JoinSet;

const CALLS: u64 = 4000;
const PLANNED_PANIC: &str = "planned panic of the cancellation test";

/// What the test's dependency does on one call.
#[derive(Debug, Clone, Copy)]
struct Plan {
    /// Waits in the body, each of up to 3 ms: the await points a call can be dropped at.
    waits: [u64; 3],
    ends: Ending,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Ending {
    Ok,
    Err,
    Panic,
}

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

/// What the bodies saw happen to them.
#[derive(Debug, Default)]
struct BodyCounts {
    started: AtomicU64,
    ok: AtomicU64,
    err: AtomicU64,
    panicked: AtomicU64,
    dropped: AtomicU64,
}

/// Counts a body that ends any way other than returning: dropped mid-way, or unwinding.
struct BodyGuard<'a>(&'a BodyCounts);

impl Drop for BodyGuard<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.panicked.fetch_add(1, Relaxed);
        } else {
            self.0.dropped.fetch_add(1, Relaxed);
        }
    }
}

async fn body(plan: Plan, counts: &BodyCounts) -> Result<(), AppError> {
    counts.started.fetch_add(1, Relaxed);
    let guard = BodyGuard(counts);
    for wait in plan.waits {
        tokio::time::sleep(Duration::from_millis(wait)).await;
    }
    match plan.ends {
        Ending::Ok => {
            std::mem::forget(guard);
            counts.ok.fetch_add(1, Relaxed);
            Ok(())
        }
        Ending::Err => {
            std::mem::forget(guard);
            counts.err.fetch_add(1, Relaxed);
            Err(AppError::Down)
        }
        Ending::Panic => std::panic::panic_any(PLANNED_PANIC),
    }
}

/// Keeps the planned panics out of the test output; any other panic still prints.
fn silence_planned_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if info.payload().downcast_ref::<&str>() != Some(&PLANNED_PANIC) {
                default(info);
            }
        }));
    });
}

/// What the callers saw.
#[derive(Debug, Default)]
struct CallerCounts {
    attempts: u64,
    ok: u64,
    down: u64,
    circuit_open: u64,
    bulkhead_full: u64,
    dropped: u64,
    panicked: u64,
}

type Call = Pin<Box<dyn Future<Output = Result<(), AppError>> + Send>>;

/// Makes `CALLS` calls at random moments, each dropped after a random time (often mid-call) by
/// an outer `tokio::time::timeout`, which polls the call once before it looks at its deadline,
/// so every call at least asks the breaker for admission.
async fn hammer(seed: u64, call: impl Fn(Plan) -> Call) -> CallerCounts {
    silence_planned_panics();
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut tasks = JoinSet::new();
    for _ in 0..CALLS {
        let plan = Plan {
            waits: [
                rng.gen_range(0..=3),
                rng.gen_range(0..=3),
                rng.gen_range(0..=3),
            ],
            ends: match rng.gen_range(0..20) {
                0 => Ending::Panic,
                1..=6 => Ending::Err,
                _ => Ending::Ok,
            },
        };
        let start = Duration::from_millis(rng.gen_range(0..2000));
        let patience = Duration::from_millis(rng.gen_range(0..=12));
        let call = call(plan);
        tasks.spawn(async move {
            tokio::time::sleep(start).await;
            tokio::time::timeout(patience, call).await
        });
    }
    let mut seen = CallerCounts::default();
    while let Some(joined) = tasks.join_next().await {
        seen.attempts += 1;
        match joined {
            Ok(Ok(Ok(()))) => seen.ok += 1,
            Ok(Ok(Err(AppError::Down))) => seen.down += 1,
            Ok(Ok(Err(AppError::Rejected(Error::CircuitOpen { .. })))) => seen.circuit_open += 1,
            Ok(Ok(Err(AppError::Rejected(Error::BulkheadFull { .. })))) => seen.bulkhead_full += 1,
            Ok(Ok(Err(AppError::Rejected(other)))) => panic!("unexpected rejection {other:?}"),
            Ok(Err(_elapsed)) => seen.dropped += 1,
            Err(join_error) if join_error.is_panic() => seen.panicked += 1,
            Err(join_error) => panic!("a call task failed: {join_error}"),
        }
    }
    seen
}

/// The exact accounting every run must satisfy, whatever the random schedule did.
fn assert_counts_add_up(
    seen: &CallerCounts,
    bodies: &BodyCounts,
    breaker: &CircuitBreaker,
    bulkhead: &Bulkhead,
) {
    let (started, ok, err, panicked, dropped) = (
        bodies.started.load(Relaxed),
        bodies.ok.load(Relaxed),
        bodies.err.load(Relaxed),
        bodies.panicked.load(Relaxed),
        bodies.dropped.load(Relaxed),
    );
    assert_eq!(seen.attempts, CALLS);
    // Every body that started ended exactly one way.
    assert_eq!(started, ok + err + panicked + dropped, "{bodies:?}");
    assert_eq!((ok, err, panicked), (seen.ok, seen.down, seen.panicked));
    assert!(
        dropped > 0 && seen.dropped > dropped,
        "the schedule drops calls mid-body and while queued: {seen:?} {bodies:?}"
    );

    let stats = bulkhead.stats();
    assert_eq!(
        (stats.in_flight, stats.queued),
        (0, 0),
        "a bulkhead slot or queue place leaked"
    );
    assert_eq!(stats.rejected, seen.bulkhead_full);
    assert!(
        seen.bulkhead_full > 0,
        "the bulkhead was never full: {seen:?}"
    );

    let stats = breaker.stats();
    assert_eq!(stats.calls + stats.rejected, CALLS, "{stats:?}");
    assert_eq!(stats.rejected, seen.circuit_open);
    assert_eq!(stats.successes, seen.ok);
    // A panic is a failure; a drop, or a rejection by the bulkhead below, is neutral.
    assert_eq!(stats.failures, seen.down + seen.panicked);
    assert_eq!(stats.ignored, seen.dropped + seen.bulkhead_full);
    assert!(seen.circuit_open > 0, "the breaker never opened: {seen:?}");
}

/// Once every call is gone, the breaker is not stuck: after `reset_timeout`, whatever state the
/// schedule left it in, `half_open_max_calls` (2) calls are admitted at once (no probe slot was
/// leaked) and their successes (`success_threshold`, 2) close the circuit.
async fn assert_recovers(breaker: &CircuitBreaker) {
    tokio::time::advance(Duration::from_millis(5)).await;
    let permits = [
        breaker.try_acquire().expect("no probe slot is leaked"),
        breaker.try_acquire().expect("no probe slot is leaked"),
    ];
    for permit in permits {
        permit.success();
    }
    assert_eq!(breaker.state(), CircuitState::Closed);
}

#[circuit_breaker(
    name = "cancellation-annotated",
    failure_threshold = 3,
    reset_timeout = "5ms",
    half_open_max_calls = 2,
    success_threshold = 2
)]
#[bulkhead(
    name = "cancellation-annotated",
    max = 3,
    queue = 2,
    queue_timeout = "4ms"
)]
async fn annotated(plan: Plan, counts: Arc<BodyCounts>) -> Result<(), AppError> {
    body(plan, &counts).await
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn annotated_calls_dropped_at_random_leak_nothing() {
    let counts = Arc::new(BodyCounts::default());
    let seen = {
        let counts = Arc::clone(&counts);
        hammer(6, move |plan| {
            Box::pin(annotated(plan, Arc::clone(&counts)))
        })
        .await
    };
    let registry = resilience::registry();
    let breaker = registry
        .circuit_breaker("cancellation-annotated")
        .expect("the first call registered the breaker");
    let bulkhead = registry
        .bulkhead("cancellation-annotated")
        .expect("the first call registered the bulkhead");
    assert_counts_add_up(&seen, &counts, &breaker, &bulkhead);
    assert_recovers(&breaker).await;
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn run_layers_dropped_at_random_leak_nothing() {
    let breaker = Arc::new(
        CircuitBreaker::builder("cancellation-run")
            .failure_threshold(3)
            .reset_timeout(Duration::from_millis(5))
            .half_open_max_calls(2)
            .success_threshold(2)
            .build()
            .expect("valid settings"),
    );
    let bulkhead = Arc::new(
        Bulkhead::builder("cancellation-run")
            .max_concurrent(3)
            .queue(2)
            .queue_timeout(Duration::from_millis(4))
            .build()
            .expect("valid settings"),
    );
    let counts = Arc::new(BodyCounts::default());
    let seen = {
        let (breaker, bulkhead, counts) = (
            Arc::clone(&breaker),
            Arc::clone(&bulkhead),
            Arc::clone(&counts),
        );
        hammer(66, move |plan| {
            let (breaker, bulkhead, counts) = (
                Arc::clone(&breaker),
                Arc::clone(&bulkhead),
                Arc::clone(&counts),
            );
            Box::pin(async move {
                let inner =
                    bulkhead.run(async { body(plan, &counts).await.map_err(Failure::Operation) });
                breaker
                    .run(inner, |_: &AppError| CallOutcome::Failure)
                    .await
                    .map_err(Failure::into_error)
            })
        })
        .await
    };
    assert_counts_add_up(&seen, &counts, &breaker, &bulkhead);
    assert_recovers(&breaker).await;
}
