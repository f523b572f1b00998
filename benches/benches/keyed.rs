//! A keyed rate limiter's call beside governor's keyed limiter (`RateLimiter::keyed`, a
//! `DashMap` of GCRA cells) on the same class of clock (`governor::clock::MonotonicClock`,
//! `std::time::Instant`, as ours reads Tokio's), with 1, 1 000 and 1 000 000 distinct keys, on
//! one thread and on two; plus an unkeyed `#[rate_limit]` as the reference row. And a keyed
//! `#[circuit_breaker(key = ..)]`'s success path with 1 and 1 000 keys, beside an unkeyed
//! `#[circuit_breaker]` and beside what any keyed breaker pays at least (one lookup, and a pin
//! on the key's state across the call); and the same for `#[bulkhead(key = ..)]`.
//!
//! Each call's key is `i % keys`, so every key is hit in turn and, past the warm-up, every call
//! finds its key (a lookup, not an insert). Ours runs with `max_keys = 1_000_000`, so that
//! both limiters hold every key and the rows compare lookups; governor holds keys until
//! `retain_recent` is called. Both limiters admit a billion calls a second, so the success
//! path is measured. Smoke run: `cargo bench -p resilience-benches --bench keyed -- --test`.
//!
//! Every sample times a plain loop of `iters` awaits inside one `block_on` on a current-thread
//! Tokio runtime with the time driver (`iter_custom`), as `overhead.rs` does; the two-thread
//! rows run the loop on two threads at once, each with its own runtime, sharing one limiter,
//! and report the slower thread's time per call.

use std::future::Future;
use std::hint::black_box;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::Criterion;
use dashmap::DashMap;
use governor::clock::MonotonicClock;
use governor::state::keyed::DefaultKeyedStateStore;
use resilience::{bulkhead, circuit_breaker, rate_limit, registry, Error, RateLimiter};
use resilience_benches::on_two_threads;
use tokio::runtime::Runtime;

type Res = Result<u64, Error>;

type GovernorKeyed = governor::RateLimiter<
    u64,
    DefaultKeyedStateStore<u64>,
    MonotonicClock,
    governor::middleware::NoOpMiddleware<<MonotonicClock as governor::clock::Clock>::Instant>,
>;

/// How many distinct keys each row cycles through.
const KEY_COUNTS: [u64; 3] = [1, 1_000, 1_000_000];

async fn bare(x: u64) -> Res {
    Ok(black_box(x))
}

#[rate_limit(rate = 1_000_000_000, per = "1s", name = "bench-keyed-reference")]
async fn unkeyed(x: u64) -> Res {
    Ok(black_box(x))
}

#[circuit_breaker(name = "bench-keyed-breaker-reference")]
async fn unkeyed_breaker(x: u64) -> Res {
    Ok(black_box(x))
}

#[circuit_breaker(name = "bench-keyed-breaker", key = key)]
async fn keyed_breaker(key: u64, x: u64) -> Res {
    Ok(black_box(x))
}

#[bulkhead(max = 10, name = "bench-keyed-bulkhead-reference")]
async fn unkeyed_bulkhead(x: u64) -> Res {
    Ok(black_box(x))
}

#[bulkhead(max = 10, name = "bench-keyed-bulkhead", key = key)]
async fn keyed_bulkhead(key: u64, x: u64) -> Res {
    Ok(black_box(x))
}

/// The layer `#[rate_limit(key = ..)]` expands to, with the key passed in.
fn ours(limiter: &RateLimiter, key: u64, x: u64) -> impl Future<Output = Res> {
    let admitted = limiter.try_acquire_key(&key);
    async move {
        admitted?;
        bare(x).await
    }
}

fn theirs(limiter: &GovernorKeyed, key: u64, x: u64) -> impl Future<Output = Res> {
    let admitted = limiter.check_key(&key);
    async move {
        admitted.map_err(|_| Error::RateLimited {
            name: "governor".into(),
            retry_after: Duration::ZERO,
        })?;
        bare(x).await
    }
}

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a current-thread runtime")
}

fn bench<F, Fut>(c: &mut Criterion, rt: &Runtime, name: &str, call: F)
where
    F: Fn(u64) -> Fut,
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

fn bench_two_threads<F, Fut>(c: &mut Criterion, name: &str, call: F)
where
    F: Fn(u64) -> Fut + Sync,
    Fut: Future,
{
    let call = &call;
    c.bench_function(name, |b| {
        b.iter_custom(|iters| {
            on_two_threads(runtime, |thread, rt| {
                rt.block_on(async {
                    let start = Instant::now();
                    // The two threads walk the keys from opposite ends.
                    for i in 0..iters {
                        let i = if thread == 0 { i } else { u64::MAX - i };
                        black_box(call(black_box(i)).await);
                    }
                    start.elapsed()
                })
            })
        });
    });
}

fn main() {
    let rt = runtime();
    let mut c = Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args();
    bench(&mut c, &rt, "keyed/bare", bare);
    bench(&mut c, &rt, "keyed/unkeyed rate_limit", unkeyed);
    let quota =
        governor::Quota::per_second(NonZeroU32::new(1_000_000_000).unwrap_or(NonZeroU32::MIN));
    for keys in KEY_COUNTS {
        // Each row its own limiters, built inside the runtime (ours reads Tokio's clock).
        let limiter = rt.block_on(async {
            RateLimiter::builder(format!("bench-keyed-{keys}"))
                .rate(1_000_000_000)
                .max_keys(1_000_000)
                .build()
                .expect("valid")
        });
        let governor: GovernorKeyed =
            governor::RateLimiter::dashmap_with_clock(quota, MonotonicClock);
        let (limiter, governor) = (&limiter, &governor);
        bench(&mut c, &rt, &format!("keyed/resilience {keys} keys"), |x| {
            ours(limiter, x % keys, x)
        });
        bench(&mut c, &rt, &format!("keyed/governor {keys} keys"), |x| {
            theirs(governor, x % keys, x)
        });
        bench_two_threads(
            &mut c,
            &format!("keyed_2_threads/resilience {keys} keys"),
            |x| ours(limiter, x % keys, x),
        );
        bench_two_threads(
            &mut c,
            &format!("keyed_2_threads/governor {keys} keys"),
            |x| theirs(governor, x % keys, x),
        );
    }
    bench(&mut c, &rt, "keyed_breaker/bare", bare);
    // What any keyed breaker pays at least: one lookup of the key's state in the same map, and,
    // so that eviction cannot take the state while the call holds it, a pin on it held across
    // the call (an `Arc` clone, dropped after).
    let states: DashMap<u64, Arc<AtomicU64>> = (0..1_000)
        .map(|key| (key, Arc::new(AtomicU64::new(key))))
        .collect();
    let states = &states;
    bench(&mut c, &rt, "keyed_breaker/bare + one lookup", |x| {
        let state = states.get(&(x % 1_000)).map_or(0, |s| s.load(Relaxed));
        bare(x ^ state)
    });
    bench(&mut c, &rt, "keyed_breaker/bare + one lookup + pin", |x| {
        let pin = states.get(&(x % 1_000)).map(|s| Arc::clone(s.value()));
        async move {
            let result = bare(x).await;
            black_box(pin.map_or(0, |s| s.load(Relaxed)));
            result
        }
    });
    bench(
        &mut c,
        &rt,
        "keyed_breaker/unkeyed circuit_breaker",
        unkeyed_breaker,
    );
    for keys in [1, 1_000] {
        bench(
            &mut c,
            &rt,
            &format!("keyed_breaker/resilience {keys} keys"),
            |x| keyed_breaker(x % keys, x),
        );
    }
    bench(
        &mut c,
        &rt,
        "keyed_bulkhead/unkeyed bulkhead",
        unkeyed_bulkhead,
    );
    for keys in [1, 1_000] {
        bench(
            &mut c,
            &rt,
            &format!("keyed_bulkhead/resilience {keys} keys"),
            |x| keyed_bulkhead(x % keys, x),
        );
    }
    c.final_summary();
    assert!(registry().rate_limiter("bench-keyed-reference").is_some());
    assert!(registry().circuit_breaker("bench-keyed-breaker").is_some());
    assert!(registry().bulkhead("bench-keyed-bulkhead").is_some());
}
