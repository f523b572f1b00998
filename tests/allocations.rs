//! The success path allocates nothing: after a site's first call (which registers its policy in
//! the registry), a successful call through each attribute alone, through all four stacked, and
//! through a composite of all five (`#[resilient]`, `Pipeline::execute`, `registry().execute`)
//! makes zero heap allocations. Owned arguments are cloned only where a later attempt or a
//! fallback may need them: an `Arc` or a reference costs no allocation, `max_attempts = 1` moves,
//! and a retried `Vec` is cloned once for its first attempt (the case to avoid with `&[u8]` or
//! `Arc<[u8]>`), which this test counts exactly.
//!
//! The counting allocator is process-wide, so nothing may run beside the calls it counts: this
//! file is its own `main` (`harness = false` in Cargo.toml), since libtest's main thread
//! allocates its bookkeeping for a test after starting it, at times while the test counts
//! (seen as 4 allocations in a random case, a run in five). The runtime is built before
//! counting starts and is current-thread.

use std::alloc::System;
use std::future::Future;
use std::sync::Arc;

use resilience::{
    bulkhead, chaos, circuit_breaker, fallback, hedge, rate_limit, registry, resilient, retry,
    timeout, Error, Pipeline,
};
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Calls counted per case, after the warm-up call.
const CALLS: u64 = 1000;

async fn bare(x: u64) -> Result<u64, Error> {
    Ok(x)
}

#[retry(max_attempts = 3, name = "alloc-retry")]
async fn with_retry(x: u64) -> Result<u64, Error> {
    Ok(x)
}

#[circuit_breaker(name = "alloc-breaker")]
async fn with_breaker(x: u64) -> Result<u64, Error> {
    Ok(x)
}

#[timeout(ms = 60_000, name = "alloc-timeout")]
async fn with_timeout(x: u64) -> Result<u64, Error> {
    Ok(x)
}

#[bulkhead(max = 4, name = "alloc-bulkhead")]
async fn with_bulkhead(x: u64) -> Result<u64, Error> {
    Ok(x)
}

#[retry(max_attempts = 3, name = "alloc-stack-retry")]
#[circuit_breaker(name = "alloc-stack-breaker")]
#[timeout(ms = 60_000, name = "alloc-stack-timeout")]
#[bulkhead(max = 4, name = "alloc-stack-bulkhead")]
async fn with_all_four(x: u64) -> Result<u64, Error> {
    Ok(x)
}

#[rate_limit(rate = 1000000, per = "1s", name = "alloc-rate-limit")]
async fn with_rate_limit(x: u64) -> Result<u64, Error> {
    Ok(x)
}

fn unused_fallback(_x: u64, error: Error) -> Result<u64, Error> {
    Err(error)
}

#[fallback(unused_fallback)]
async fn with_fallback(x: u64) -> Result<u64, Error> {
    Ok(x)
}

#[retry(max_attempts = 1, name = "alloc-retry-once-vec")]
async fn retry_once_with_vec(x: u64, body: Vec<u8>) -> Result<u64, Error> {
    Ok(if body.len() == 3 { x } else { 0 })
}

#[retry(max_attempts = 3, name = "alloc-retry-vec")]
async fn retry_with_vec(x: u64, body: Vec<u8>) -> Result<u64, Error> {
    Ok(if body.len() == 3 { x } else { 0 })
}

#[retry(max_attempts = 3, name = "alloc-retry-arc")]
async fn retry_with_arc(x: u64, body: Arc<[u8]>) -> Result<u64, Error> {
    Ok(if body.len() == 3 { x } else { 0 })
}

#[retry(max_attempts = 3, name = "alloc-retry-slice")]
async fn retry_with_slice(x: u64, body: &[u8]) -> Result<u64, Error> {
    Ok(if body.len() == 3 { x } else { 0 })
}

fn unused_arc_fallback(_x: u64, _body: Arc<[u8]>, error: Error) -> Result<u64, Error> {
    Err(error)
}

#[fallback(unused_arc_fallback, name = "alloc-fallback-arc")]
async fn fallback_with_arc(x: u64, body: Arc<[u8]>) -> Result<u64, Error> {
    Ok(if body.len() == 3 { x } else { 0 })
}

#[retry(
    max_attempts = 3,
    budget = "alloc-budget",
    name = "alloc-budgeted-retry"
)]
async fn with_budgeted_retry(x: u64) -> Result<u64, Error> {
    Ok(x)
}

#[chaos(fault_rate = 1.0, name = "alloc-chaos")]
async fn with_disabled_chaos(x: u64) -> Result<u64, Error> {
    Ok(x)
}

#[hedge(delay = "60s", name = "alloc-hedge")]
async fn with_hedge(x: u64) -> Result<u64, Error> {
    Ok(x)
}

#[resilient(policy = "alloc-composite")]
async fn with_composite(x: u64) -> Result<u64, Error> {
    Ok(x)
}

/// Three-byte vectors made before counting starts, one per call (and the warm-up's).
fn bodies() -> Vec<Vec<u8>> {
    (0..=CALLS).map(|_| vec![1, 2, 3]).collect()
}

/// Heap allocations (and reallocations) made by `CALLS` successful calls of `call`, after one
/// warm-up call that registers the site's policies.
fn allocations_of<F, Fut>(rt: &tokio::runtime::Runtime, mut call: F) -> usize
where
    F: FnMut(u64) -> Fut,
    Fut: Future<Output = Result<u64, Error>>,
{
    rt.block_on(async {
        assert_eq!(call(u64::MAX).await, Ok(u64::MAX), "the warm-up call fails");
        let region = Region::new(GLOBAL);
        let mut failed = 0_u64;
        for i in 0..CALLS {
            if call(i).await != Ok(i) {
                failed += 1;
            }
        }
        let change = region.change();
        assert_eq!(failed, 0, "calls failed while counted");
        change.allocations + change.reallocations
    })
}

fn main() {
    the_success_path_allocates_nothing();
    println!("test the_success_path_allocates_nothing ... ok");
}

fn the_success_path_allocates_nothing() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a current-thread runtime");
    let counted = [
        (
            "bare async fn (the harness itself)",
            allocations_of(&rt, bare),
        ),
        ("#[retry]", allocations_of(&rt, with_retry)),
        ("#[circuit_breaker]", allocations_of(&rt, with_breaker)),
        ("#[timeout]", allocations_of(&rt, with_timeout)),
        ("#[bulkhead]", allocations_of(&rt, with_bulkhead)),
        ("#[rate_limit]", allocations_of(&rt, with_rate_limit)),
        ("#[fallback]", allocations_of(&rt, with_fallback)),
        ("all four stacked", allocations_of(&rt, with_all_four)),
        ("#[retry(budget)]", allocations_of(&rt, with_budgeted_retry)),
        (
            "#[chaos] (disabled)",
            allocations_of(&rt, with_disabled_chaos),
        ),
        (
            "#[hedge] (done before its delay)",
            allocations_of(&rt, with_hedge),
        ),
    ];
    // A composite of all five, registered at startup as a program does.
    let composite = registry()
        .register_pipeline(
            Pipeline::builder("alloc-composite")
                .retry(|r| r.max_attempts(3))
                .circuit_breaker(|b| b)
                .rate_limit(|l| l.rate(1_000_000))
                .timeout(std::time::Duration::from_secs(60))
                .bulkhead(|b| b.max_concurrent(4)),
        )
        .expect("the composite's settings are valid");
    let composites = [
        (
            "#[resilient] with all five members",
            allocations_of(&rt, with_composite),
        ),
        (
            "Pipeline::execute",
            allocations_of(&rt, |x| composite.execute(move || bare(x))),
        ),
        (
            "registry().execute by name",
            allocations_of(&rt, |x| {
                registry().execute("alloc-composite", move || bare(x))
            }),
        ),
    ];
    let arc: Arc<[u8]> = Arc::from(&[1_u8, 2, 3][..]);
    let slice: &[u8] = &[1, 2, 3];
    let mut vecs = bodies();
    let owned = [
        (
            "#[retry(max_attempts = 1)] with a Vec argument",
            allocations_of(&rt, |x| {
                retry_once_with_vec(x, vecs.pop().unwrap_or_else(|| vec![1, 2, 3]))
            }),
        ),
        (
            "#[retry] with an Arc<[u8]> argument",
            allocations_of(&rt, |x| retry_with_arc(x, Arc::clone(&arc))),
        ),
        (
            "#[retry] with a &[u8] argument",
            allocations_of(&rt, |x| retry_with_slice(x, slice)),
        ),
        (
            "#[fallback] with an Arc<[u8]> argument",
            allocations_of(&rt, |x| fallback_with_arc(x, Arc::clone(&arc))),
        ),
    ];
    let mut vecs = bodies();
    // The one clone that is needed: a first attempt that fails leaves the original to the next.
    assert_eq!(
        allocations_of(&rt, |x| {
            retry_with_vec(x, vecs.pop().unwrap_or_else(|| vec![1, 2, 3]))
        }),
        CALLS as usize,
        "a retried Vec argument is cloned exactly once per call"
    );
    let allocating: Vec<String> = counted
        .iter()
        .chain(&composites)
        .chain(&owned)
        .filter(|(_, allocations)| *allocations != 0)
        .map(|(case, allocations)| format!("{case}: {allocations} allocations in {CALLS} calls"))
        .collect();
    assert!(
        allocating.is_empty(),
        "the success path allocated:\n{}",
        allocating.join("\n")
    );
}
