//! Shared state on Redis (issue 17): a shared breaker's success path beside a local one (the
//! sync is in the background, so the two should be within a few ns), and a shared limiter's call
//! (one round trip, the GCRA script) beside a plain `GET` on the same server.
//!
//! The benchmark starts its own `redis-server` on a free port (the Debian package
//! `redis-server`), with the test harness of `resilience-redis`, and stops it at the end.
//! Each sample times a plain loop of `iters` awaits inside one `block_on` (`iter_custom`), as
//! `overhead.rs` does: criterion's time per iteration is the time per call.

#[path = "../../resilience-redis/tests/support/mod.rs"]
mod support;

use std::future::Future;
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::Criterion;
use redis::AsyncCommands;
use resilience::{circuit_breaker, rate_limit, registry, Error};
use resilience_redis::RedisStore;
use tokio::runtime::Runtime;

type Res = Result<u64, Error>;

#[circuit_breaker(name = "bench-local-breaker")]
async fn local_breaker(x: u64) -> Res {
    Ok(black_box(x))
}

#[circuit_breaker(name = "bench-shared-breaker", shared)]
async fn shared_breaker(x: u64) -> Res {
    Ok(black_box(x))
}

// A million cells a millisecond: never limited, so every call is the full round trip.
#[rate_limit(name = "bench-shared-limiter", rate = 1000000, per = "1ms", shared)]
async fn shared_limiter(x: u64) -> Res {
    Ok(black_box(x))
}

fn bench<F, Fut>(c: &mut Criterion, rt: &Runtime, group: &str, name: &str, mut call: F)
where
    F: FnMut(u64) -> Fut,
    Fut: Future,
{
    let mut g = c.benchmark_group(group);
    g.bench_function(name, |b| {
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
    g.finish();
}

fn main() {
    let server = support::RedisServer::start();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a current-thread runtime");
    let plain = rt.block_on(async {
        let store = RedisStore::builder(server.url())
            .prefix("bench")
            .connect()
            .await
            .expect("the benchmark's redis-server");
        registry().set_store(store);
        let client = redis::Client::open(server.url()).expect("the server's URL");
        redis::aio::ConnectionManager::new(client)
            .await
            .expect("a plain connection")
    });
    let mut c = Criterion::default()
        .configure_from_args()
        .sample_size(30)
        .warm_up_time(Duration::from_millis(200))
        .measurement_time(Duration::from_millis(500));

    bench(
        &mut c,
        &rt,
        "shared_breaker_success",
        "resilience local",
        local_breaker,
    );
    bench(
        &mut c,
        &rt,
        "shared_breaker_success",
        "resilience shared",
        shared_breaker,
    );
    bench(
        &mut c,
        &rt,
        "shared_limiter_call",
        "resilience shared limiter",
        shared_limiter,
    );
    bench(
        &mut c,
        &rt,
        "shared_limiter_call",
        "redis GET (same server)",
        |_| {
            let mut connection = plain.clone();
            async move {
                let value: Option<String> = connection.get("bench-key").await.expect("GET");
                value
            }
        },
    );
    c.final_summary();
    let limiter = registry()
        .rate_limiter("bench-shared-limiter")
        .expect("registered");
    assert_eq!(
        limiter.stats().rejected,
        0,
        "the shared limiter never limited"
    );
    assert!(registry().clear_store());
    drop(server);
}
