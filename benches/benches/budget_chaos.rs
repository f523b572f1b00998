//! Per-call overhead on the success path of what OPERATIONS.md §7 adds: a retry drawing on a
//! retry budget beside the same retry without one, and a disabled `#[chaos]` beside the bare
//! call (target for each: under 2 ns over its reference), and a hedge whose call finishes before
//! its delay beside the bare call.
//!
//! Every sample times a plain loop of `iters` awaits inside one `block_on` on a current-thread
//! Tokio runtime with the time driver (`iter_custom`), as `overhead.rs` does, so criterion's
//! time per iteration is ns per call. Smoke run: `cargo bench -p resilience-benches --bench
//! budget_chaos -- --test`.

use std::future::Future;
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::Criterion;
use resilience::{chaos, hedge, registry, retry, Error, RetryBudget};
use tokio::runtime::Runtime;

type Res = Result<u64, Error>;

async fn bare(x: u64) -> Res {
    Ok(black_box(x))
}

#[retry(max_attempts = 3, name = "bench-plain-retry")]
async fn plain_retry(x: u64) -> Res {
    Ok(black_box(x))
}

#[retry(
    max_attempts = 3,
    budget = "bench-budget",
    name = "bench-budgeted-retry"
)]
async fn budgeted_retry(x: u64) -> Res {
    Ok(black_box(x))
}

#[chaos(fault_rate = 0.5, latency = "10ms", name = "bench-chaos")]
async fn disabled_chaos(x: u64) -> Res {
    Ok(black_box(x))
}

#[hedge(delay = "1s", name = "bench-hedge")]
async fn fast_hedge(x: u64) -> Res {
    Ok(black_box(x))
}

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a current-thread runtime")
}

fn bench<F, Fut>(c: &mut Criterion, rt: &Runtime, name: &str, mut call: F)
where
    F: FnMut(u64) -> Fut,
    Fut: Future,
{
    c.bench_function(name, |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for i in 0..iters {
                    black_box(call(black_box(i)).await);
                }
                start.elapsed()
            })
        });
    });
}

fn main() {
    let rt = runtime();
    registry()
        .retry_budget_or_register(RetryBudget::builder("bench-budget"))
        .expect("a valid budget");
    let mut c = Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args();
    bench(&mut c, &rt, "budget/bare", bare);
    bench(&mut c, &rt, "budget/retry", plain_retry);
    bench(&mut c, &rt, "budget/retry_with_budget", budgeted_retry);
    bench(&mut c, &rt, "chaos/bare", bare);
    bench(&mut c, &rt, "chaos/disabled", disabled_chaos);
    bench(&mut c, &rt, "hedge/not_hedged", fast_hedge);
    c.final_summary();
    // The disabled chaos really is off, and the budget really is drawn on.
    assert!(!registry()
        .chaos("bench-chaos")
        .expect("registered")
        .is_enabled());
    assert!(
        registry()
            .retry_budget("bench-budget")
            .expect("registered")
            .stats()
            .deposits
            > 0
    );
}
