//! Per-call overhead of each `resilience` attribute on the success path (and of the rejection
//! paths that matter), beside a bare `async fn` call and beside peer crates doing the same job,
//! in the same run.
//!
//! Every sample times a plain loop of `iters` awaits inside one `block_on` on a current-thread
//! Tokio runtime with the time driver (`iter_custom`): criterion's `to_async(..).iter(..)` adds
//! a runtime entry per iteration, several ns, more than some of the wrappers cost. Criterion's
//! reported time per iteration is thus ns per call.
//!
//! After criterion's own report, the run prints a side-by-side table of medians (ns/call), ns
//! added over the bare call, and the ratio to the fastest peer doing the same job; see
//! `benches/README.md`.

use std::collections::BTreeMap;
use std::future::Future;
use std::hint::black_box;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use backon::{ExponentialBuilder, Retryable};
use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion};
use failsafe::futures::CircuitBreaker as _;
use recloser::{AsyncRecloser, Recloser};
use resilience::{
    bulkhead, circuit_breaker, rate_limit, registry, retry, timeout, Bulkhead, CircuitBreaker,
    Error,
};
use resilience_benches::on_two_threads;
use tokio::runtime::Runtime;
use tokio::sync::Semaphore;
use tokio_retry::strategy::FixedInterval;
use tower::{Service, ServiceExt};

type Res = Result<u64, Error>;

// ---------------------------------------------------------------------------------------------
// The functions under test. Every one returns the same `Result<u64, resilience::Error>`, so the
// bare call and the wrapped ones move the same value.

async fn bare(x: u64) -> Res {
    Ok(black_box(x))
}

#[retry(max_attempts = 3, name = "bench-retry")]
async fn with_retry(x: u64) -> Res {
    Ok(black_box(x))
}

#[circuit_breaker(name = "bench-breaker")]
async fn with_breaker(x: u64) -> Res {
    Ok(black_box(x))
}

/// Unnamed breakers on methods: their policy belongs to the concrete `Self`.
struct Plain;

impl Plain {
    #[circuit_breaker]
    async fn call(&self, x: u64) -> Res {
        Ok(black_box(x))
    }
}

struct Generic<T>(T);

impl<T> Generic<T> {
    #[circuit_breaker]
    async fn call(&self, x: u64) -> Res {
        Ok(black_box(x))
    }
}

#[timeout(ms = 60_000, name = "bench-timeout")]
async fn with_timeout(x: u64) -> Res {
    Ok(black_box(x))
}

#[bulkhead(max = 10, name = "bench-bulkhead")]
async fn with_bulkhead(x: u64) -> Res {
    Ok(black_box(x))
}

#[retry(max_attempts = 3, name = "bench-stack-retry")]
#[circuit_breaker(name = "bench-stack-breaker")]
#[timeout(ms = 60_000, name = "bench-stack-timeout")]
#[bulkhead(max = 10, name = "bench-stack-bulkhead")]
async fn with_all_four(x: u64) -> Res {
    Ok(black_box(x))
}

/// The same four policies as a composite named in the registry (defined in `all_four_stacked`).
#[resilience::resilient(policy = "bench-composite")]
async fn through_composite(x: u64) -> Res {
    Ok(black_box(x))
}

/// A billion calls a second: never limited in the loop, so the success path is measured.
#[rate_limit(rate = 1_000_000_000, per = "1s", name = "bench-rate-limit")]
async fn with_rate_limit(x: u64) -> Res {
    Ok(black_box(x))
}

// The same policies (same names, so the same registry entries) for the two-thread runs.
// Each benchmark loop awaits its own function: a function awaited from two loops is not inlined
// into either, and an async fn polled through a call costs several ns more whatever it does
// (the `reference` rows measure that on the bare call).

#[circuit_breaker(name = "bench-breaker")]
async fn with_breaker_2t(x: u64) -> Res {
    Ok(black_box(x))
}

#[bulkhead(max = 10, name = "bench-bulkhead")]
async fn with_bulkhead_2t(x: u64) -> Res {
    Ok(black_box(x))
}

#[retry(max_attempts = 3, name = "bench-retry")]
async fn with_retry_2t(x: u64) -> Res {
    Ok(black_box(x))
}

#[rate_limit(rate = 1_000_000_000, per = "1s", name = "bench-rate-limit")]
async fn with_rate_limit_2t(x: u64) -> Res {
    Ok(black_box(x))
}

/// Forced open before it is measured.
#[circuit_breaker(name = "bench-open-breaker")]
async fn open_breaker(x: u64) -> Res {
    Ok(black_box(x))
}

/// Its only slot is held while it is measured.
#[bulkhead(max = 1, name = "bench-full-bulkhead")]
async fn full_bulkhead(x: u64) -> Res {
    Ok(black_box(x))
}

/// Fails every other attempt: each call is one failed attempt, one zero-delay retry, a success.
static FLIP: AtomicBool = AtomicBool::new(false);

#[retry(max_attempts = 2, backoff = "none", name = "bench-retry-zero-delay")]
async fn retried_once(x: u64) -> Res {
    if FLIP.fetch_xor(true, Ordering::Relaxed) {
        Ok(black_box(x))
    } else {
        Err(Error::BulkheadFull {
            name: "bench-flaky".into(),
            max_concurrent: 1,
        })
    }
}

/// For the row that polls a breaker through a call (see [`outlined`]).
#[circuit_breaker(name = "bench-breaker")]
async fn with_breaker_outlined(x: u64) -> Res {
    Ok(black_box(x))
}

/// Awaits `fut` through a poll function that is never inlined: the cost of the call boundary
/// (spilled registers, the output returned through memory) that any async fn pays when the
/// compiler does not inline its poll, for instance when it is awaited from many places.
async fn outlined<F: Future>(fut: F) -> F::Output {
    let mut fut = std::pin::pin!(fut);
    std::future::poll_fn(|cx| poll_outlined(fut.as_mut(), cx)).await
}

#[inline(never)]
fn poll_outlined<F: Future>(fut: Pin<&mut F>, cx: &mut Context<'_>) -> Poll<F::Output> {
    fut.poll(cx)
}

// ---------------------------------------------------------------------------------------------
// Measurement.

/// The last samples of each benchmark (criterion runs its warm-up first), in ns per call.
/// Keyed by benchmark id, then by round.
static SAMPLES: Mutex<BTreeMap<String, Vec<Vec<f64>>>> = Mutex::new(BTreeMap::new());

/// The round being run: the whole suite runs `ROUNDS` times, so that every row is measured in
/// several windows spread over the run rather than in one, and a slow moment of the machine
/// (this is a shared 2-core VM) does not land on one implementation alone.
static ROUND: AtomicUsize = AtomicUsize::new(0);

const ROUNDS: usize = 3;

const SAMPLE_SIZE: usize = 30;

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a current-thread runtime")
}

/// A criterion group that also keeps its samples for the closing table.
struct Group<'c> {
    name: &'static str,
    inner: BenchmarkGroup<'c, WallTime>,
}

fn group<'c>(c: &'c mut Criterion, name: &'static str) -> Group<'c> {
    Group {
        name,
        inner: c.benchmark_group(name),
    }
}

impl Group<'_> {
    /// Benchmarks `call` as `group/name`: each sample awaits `call(i)` `iters` times in one
    /// loop inside one `block_on`.
    fn bench<F, Fut>(&mut self, rt: &Runtime, name: &str, mut call: F)
    where
        F: FnMut(u64) -> Fut,
        Fut: Future,
    {
        self.bench_loop(name, |iters| {
            rt.block_on(async {
                let start = Instant::now();
                for i in 0..iters {
                    black_box(call(black_box(i)).await);
                }
                start.elapsed()
            })
        });
    }

    /// Benchmarks `timed_loop(iters)`, which runs `iters` calls in a loop inside one
    /// `block_on` and returns the time the loop took.
    fn bench_loop<L>(&mut self, name: &str, mut timed_loop: L)
    where
        L: FnMut(u64) -> Duration,
    {
        let id = format!("{}/{name}", self.name);
        self.inner.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let elapsed = timed_loop(iters);
                record(&id, elapsed, iters);
                elapsed
            });
        });
    }

    /// Benchmarks `call` on two threads at once, each awaiting it `iters` times in a loop inside
    /// one `block_on` on its own current-thread runtime; the time is the slower thread's, so
    /// the result is ns per call per thread while both threads call.
    fn bench_two_threads<F, Fut>(&mut self, name: &str, call: F)
    where
        F: Fn(u64) -> Fut + Sync,
        Fut: Future,
    {
        let call = &call;
        self.bench_loop(name, |iters| {
            on_two_threads(runtime, |_, rt| {
                rt.block_on(async {
                    let start = Instant::now();
                    for i in 0..iters {
                        black_box(call(black_box(i)).await);
                    }
                    start.elapsed()
                })
            })
        });
    }

    fn finish(self) {
        self.inner.finish();
    }
}

fn record(id: &str, elapsed: Duration, iters: u64) {
    let ns = elapsed.as_secs_f64() * 1e9 / iters.max(1) as f64;
    let round = ROUND.load(Ordering::Relaxed);
    let mut samples = SAMPLES
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let rounds = samples.entry(id.to_owned()).or_default();
    if rounds.len() <= round {
        rounds.resize_with(round + 1, Vec::new);
    }
    let kept = &mut rounds[round];
    kept.push(ns);
    if kept.len() > SAMPLE_SIZE {
        kept.remove(0);
    }
}

fn median(samples: &[f64]) -> f64 {
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    match sorted.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

// ---------------------------------------------------------------------------------------------
// The benchmarks.

fn success_paths(c: &mut Criterion, rt: &Runtime) {
    let mut g = group(c, "bare");
    g.bench(rt, "async_fn", bare);
    g.finish();

    // What one uncontended atomic read-modify-write costs on this machine, for reading the
    // rows below: a relaxed `fetch_add` beside the bare call.
    let mut g = group(c, "reference");
    let counter = AtomicU64::new(0);
    g.bench(rt, "bare + one relaxed fetch_add", |x| {
        counter.fetch_add(1, Ordering::Relaxed);
        bare(x)
    });
    g.bench(rt, "bare + one relaxed load", |x| {
        black_box(counter.load(Ordering::Relaxed));
        bare(x)
    });
    // What the compiler's inlining decides: every row above and below is polled inline, as
    // LLVM chose for a function awaited from one loop. Polled through a call, a future hands its
    // output back through memory, which costs the bare call this much.
    g.bench(rt, "bare, polled through a call", |x| outlined(bare(x)));
    // The clocks a rate limiter can read: `tokio::time::Instant` (ours, so that a paused
    // runtime's virtual time drives it; without tokio's `test-util` it is `std`'s, a vDSO
    // `clock_gettime`) and quanta's TSC clock (governor's).
    g.bench(rt, "bare + tokio::time::Instant::now()", |x| {
        black_box(tokio::time::Instant::now());
        bare(x)
    });
    let tsc = quanta::Clock::new();
    g.bench(rt, "bare + quanta::Clock::raw()", |x| {
        black_box(tsc.raw());
        bare(x)
    });
    g.finish();

    let mut g = group(c, "retry");
    g.bench(rt, "resilience", with_retry);
    let policy = resilience::Retry::builder("bench-retry-by-hand")
        .max_attempts(3)
        .build()
        .expect("a valid retry");
    g.bench(rt, "resilience Retry::call", |x| {
        policy.call(move || bare(x))
    });
    g.bench(rt, "tokio-retry", |x| {
        tokio_retry::Retry::start(FixedInterval::from_millis(100).take(2), move || bare(x))
    });
    g.bench(rt, "backon", |x| {
        (move || bare(x)).retry(ExponentialBuilder::default())
    });
    g.finish();

    let mut g = group(c, "circuit_breaker");
    g.bench(rt, "resilience", with_breaker);
    g.bench(rt, "resilience, polled through a call", |x| {
        outlined(with_breaker_outlined(x))
    });
    // An unnamed method's site compares `Self`'s type name with its first type's; a generic
    // impl's later types look their breaker up in the site's list.
    g.bench(rt, "resilience, unnamed method", |x| Plain.call(x));
    let (first, later) = (Generic(0_u8), Generic(0_u16));
    g.bench(rt, "resilience, generic impl, first type", |x| {
        first.call(x)
    });
    g.bench(rt, "resilience, generic impl, later type", |x| {
        later.call(x)
    });
    // Decomposition of the attribute's cost: the macro-free API, and the permit by hand (the
    // atomics alone, no extra future layer).
    let breaker = CircuitBreaker::with_defaults("bench-breaker-by-hand");
    g.bench(rt, "resilience CircuitBreaker::call", |x| {
        breaker.call(bare(x))
    });
    g.bench(rt, "resilience try_acquire by hand", |x| {
        let permit = breaker.try_acquire();
        async move {
            let permit = permit?;
            let result = bare(x).await;
            permit.success();
            result
        }
    });
    let recloser = AsyncRecloser::from(Recloser::default());
    g.bench(rt, "recloser", |x| recloser.call(bare(x)));
    let failsafe = failsafe::Config::new().build();
    g.bench(rt, "failsafe", |x| failsafe.call(bare(x)));
    g.finish();

    let mut g = group(c, "timeout");
    g.bench(rt, "resilience", with_timeout);
    g.bench(rt, "tokio::time::timeout", |x| {
        tokio::time::timeout(Duration::from_secs(60), bare(x))
    });
    g.finish();

    let mut g = group(c, "bulkhead");
    g.bench(rt, "resilience", with_bulkhead);
    let by_hand = Bulkhead::new("bench-bulkhead-by-hand", 10).expect("a valid bulkhead");
    g.bench(rt, "resilience try_acquire by hand", |x| {
        let permit = by_hand.try_acquire();
        async move {
            let _permit = permit?;
            bare(x).await
        }
    });
    let semaphore = Semaphore::new(10);
    g.bench(rt, "tokio Semaphore::try_acquire", |x| {
        let permit = semaphore.try_acquire();
        async move {
            let _permit = permit.map_err(|_| Error::BulkheadFull {
                name: "semaphore".into(),
                max_concurrent: 10,
            })?;
            bare(x).await
        }
    });
    let mut limited = tower::limit::ConcurrencyLimit::new(tower::service_fn(bare), 10);
    g.bench_loop("tower ConcurrencyLimit", |iters| {
        rt.block_on(async {
            let start = Instant::now();
            for i in 0..iters {
                let result: Res = async { limited.ready().await?.call(black_box(i)).await }.await;
                let _ = black_box(result);
            }
            start.elapsed()
        })
    });
    g.finish();

    let mut g = group(c, "rate_limit");
    g.bench(rt, "resilience", with_rate_limit);
    let governor = governor_limiter();
    g.bench(rt, "governor check()", |x| governed::<0, _>(&governor, x));
    // The same class of clock as ours (`std::time::Instant`; ours is tokio's, which is std's
    // outside a paused test runtime): the row issue 20 compares with.
    let monotonic = governor_monotonic_limiter();
    g.bench(rt, "governor check(), MonotonicClock", |x| {
        governed::<0, _>(&monotonic, x)
    });
    g.finish();

    let mut g = group(c, "all_four_stacked");
    g.bench(rt, "resilience", with_all_four);
    // The composite of the same four: resolved once per site, its members read per call.
    registry()
        .register_pipeline(
            resilience::Pipeline::builder("bench-composite")
                .retry(|b| b.max_attempts(3))
                .circuit_breaker(|b| b)
                .timeout(Duration::from_secs(60))
                .bulkhead(|b| b.max_concurrent(10)),
        )
        .expect("the composite's settings are valid");
    g.bench(rt, "resilience #[resilient] composite", through_composite);
    // By name: a registry lookup per call on top.
    g.bench(rt, "resilience registry().execute", |x| {
        registry().execute("bench-composite", move || bare(x))
    });
    g.finish();
}

/// Awaits `service.ready()` then `call(i)`, `iters` times, as a tower user drives a service.
fn bench_service<S>(g: &mut Group<'_>, rt: &Runtime, name: &str, mut service: S)
where
    S: Service<u64, Response = u64>,
    S::Error: Into<tower::BoxError>,
{
    g.bench_loop(name, |iters| {
        rt.block_on(async {
            let start = Instant::now();
            for i in 0..iters {
                let result = async { service.ready().await?.call(black_box(i)).await }.await;
                let _ = black_box(result.map_err(Into::into));
            }
            start.elapsed()
        })
    });
}

/// Each `resilience::tower` layer beside tower's own middleware for the same job, and beside
/// the bare `service_fn` driven the same way, on the success path.
fn tower_layers(c: &mut Criterion, rt: &Runtime) {
    use resilience::tower::{
        BulkheadLayer, CircuitBreakerLayer, RateLimitLayer, RetryLayer, TimeoutLayer,
    };
    use resilience::{RateLimiter, Retry, Timeout};
    use tower::Layer;

    let inner = || tower::service_fn(bare);
    let mut g = group(c, "tower_bare");
    bench_service(&mut g, rt, "service_fn", inner());
    // What the layers' one allocation per request costs by itself: every `resilience::tower`
    // service boxes its future (no unsafe pin projection in the runtime crate).
    let boxed =
        inner().map_future(|fut| -> Pin<Box<dyn Future<Output = Res> + Send>> { Box::pin(fut) });
    bench_service(&mut g, rt, "service_fn, future boxed", boxed);
    g.finish();

    let mut g = group(c, "tower_circuit_breaker");
    let layer = CircuitBreakerLayer::named("bench-tower-breaker").expect("a valid breaker");
    bench_service(
        &mut g,
        rt,
        "resilience CircuitBreakerLayer",
        layer.layer(inner()),
    );
    let peer = tower_resilience::circuitbreaker::CircuitBreakerLayer::builder()
        .build()
        .expect("a valid tower-resilience breaker");
    bench_service(
        &mut g,
        rt,
        "tower-resilience CircuitBreaker",
        peer.layer(inner()),
    );
    g.finish();

    let mut g = group(c, "tower_timeout");
    let layer = TimeoutLayer::register(
        Timeout::builder("bench-tower-timeout").duration(Duration::from_secs(60)),
    )
    .expect("a valid timeout");
    bench_service(&mut g, rt, "resilience TimeoutLayer", layer.layer(inner()));
    let tower_timeout = tower::timeout::Timeout::new(inner(), Duration::from_secs(60));
    bench_service(&mut g, rt, "tower Timeout", tower_timeout);
    let peer = tower_resilience::timelimiter::TimeLimiterLayer::builder()
        .timeout_duration(Duration::from_secs(60))
        .cancel_running_future(true)
        .build();
    bench_service(
        &mut g,
        rt,
        "tower-resilience TimeLimiter",
        peer.layer(inner()),
    );
    g.finish();

    let mut g = group(c, "tower_bulkhead");
    let layer =
        BulkheadLayer::register(Bulkhead::builder("bench-tower-bulkhead").max_concurrent(10))
            .expect("a valid bulkhead");
    bench_service(&mut g, rt, "resilience BulkheadLayer", layer.layer(inner()));
    let limited = tower::limit::ConcurrencyLimit::new(inner(), 10);
    bench_service(&mut g, rt, "tower ConcurrencyLimit", limited);
    let peer = tower_resilience::bulkhead::BulkheadLayer::builder()
        .max_concurrent_calls(10)
        .build()
        .expect("a valid tower-resilience bulkhead");
    bench_service(&mut g, rt, "tower-resilience Bulkhead", peer.layer(inner()));
    g.finish();

    let mut g = group(c, "tower_rate_limit");
    let layer = RateLimitLayer::register(
        RateLimiter::builder("bench-tower-rate-limit").rate(1_000_000_000),
    )
    .expect("a valid limiter");
    bench_service(
        &mut g,
        rt,
        "resilience RateLimitLayer",
        layer.layer(inner()),
    );
    let rate = tower::limit::rate::Rate::new(1_000_000_000, Duration::from_secs(1));
    // tower's RateLimit makes its timer when built: inside the runtime.
    let limited = {
        let _entered = rt.enter();
        tower::limit::RateLimit::new(inner(), rate)
    };
    bench_service(&mut g, rt, "tower RateLimit", limited);
    let peer = tower_resilience::ratelimiter::RateLimiterLayer::builder()
        .limit_for_period(1_000_000_000)
        .refresh_period(Duration::from_secs(1))
        .timeout_duration(Duration::ZERO)
        .build()
        .expect("a valid tower-resilience limiter");
    bench_service(
        &mut g,
        rt,
        "tower-resilience RateLimiter",
        peer.layer(inner()),
    );
    g.finish();

    let mut g = group(c, "tower_retry");
    let layer = RetryLayer::register(Retry::builder("bench-tower-retry").max_attempts(3))
        .expect("a valid retry");
    bench_service(&mut g, rt, "resilience RetryLayer", layer.layer(inner()));
    let peer = tower_resilience::retry::RetryLayer::<u64, u64, Error>::builder()
        .max_attempts(3)
        .exponential_backoff(Duration::from_millis(100))
        .build();
    bench_service(&mut g, rt, "tower-resilience Retry", peer.layer(inner()));
    g.finish();
}

/// The call behind governor's `check()`, as `#[rate_limit]` puts it behind ours. `LOOP` gives
/// each benchmark loop its own copy (see `with_breaker_2t`).
fn governed<const LOOP: u8, C>(limiter: &DirectLimiter<C>, x: u64) -> impl Future<Output = Res>
where
    C: governor::clock::Clock,
{
    let admitted = limiter.check();
    async move {
        admitted.map_err(|_| Error::RateLimited {
            name: "governor".into(),
            retry_after: Duration::ZERO,
        })?;
        bare(x).await
    }
}

/// A direct (unkeyed) governor limiter reading clock `C`.
type DirectLimiter<C> = governor::RateLimiter<
    governor::state::NotKeyed,
    governor::state::InMemoryState,
    C,
    governor::middleware::NoOpMiddleware<<C as governor::clock::Clock>::Instant>,
>;

/// A quota as generous as `with_rate_limit`'s.
fn generous_quota() -> governor::Quota {
    let rate = std::num::NonZeroU32::new(1_000_000_000).unwrap_or(std::num::NonZeroU32::MIN);
    governor::Quota::per_second(rate)
}

/// A governor limiter as generous as `with_rate_limit`'s, on governor's default clock (quanta's
/// TSC clock).
fn governor_limiter() -> governor::DefaultDirectRateLimiter {
    governor::RateLimiter::direct(generous_quota())
}

/// The same on `MonotonicClock` (`std::time::Instant`).
fn governor_monotonic_limiter() -> DirectLimiter<governor::clock::MonotonicClock> {
    governor::RateLimiter::direct_with_clock(generous_quota(), governor::clock::MonotonicClock)
}

fn contended_paths(c: &mut Criterion) {
    let mut g = group(c, "circuit_breaker_2_threads");
    g.bench_two_threads("resilience", with_breaker_2t);
    let recloser = AsyncRecloser::from(Recloser::default());
    g.bench_two_threads("recloser", |x| recloser.call(bare(x)));
    let failsafe = failsafe::Config::new().build();
    g.bench_two_threads("failsafe", |x| failsafe.call(bare(x)));
    g.finish();

    let mut g = group(c, "retry_2_threads");
    g.bench_two_threads("resilience", with_retry_2t);
    g.bench_two_threads("tokio-retry", |x| {
        tokio_retry::Retry::start(FixedInterval::from_millis(100).take(2), move || bare(x))
    });
    g.finish();

    let mut g = group(c, "rate_limit_2_threads");
    g.bench_two_threads("resilience", with_rate_limit_2t);
    let governor = governor_limiter();
    g.bench_two_threads("governor check()", |x| governed::<1, _>(&governor, x));
    let monotonic = governor_monotonic_limiter();
    g.bench_two_threads("governor check(), MonotonicClock", |x| {
        governed::<1, _>(&monotonic, x)
    });
    g.finish();

    let mut g = group(c, "bulkhead_2_threads");
    g.bench_two_threads("resilience", with_bulkhead_2t);
    let semaphore = Semaphore::new(10);
    g.bench_two_threads("tokio Semaphore::try_acquire", |x| {
        let permit = semaphore.try_acquire();
        async move {
            let _permit = permit.map_err(|_| Error::BulkheadFull {
                name: "semaphore".into(),
                max_concurrent: 10,
            })?;
            bare(x).await
        }
    });
    g.finish();
}

fn rejection_paths(c: &mut Criterion, rt: &Runtime) {
    let mut g = group(c, "open_breaker_rejects");
    // Registered here rather than by a first call, so that `open_breaker` is awaited from the
    // benchmark loop alone (see `with_breaker_2t`); the attribute's site joins it.
    let breaker = registry()
        .circuit_breaker_or_register(CircuitBreaker::builder("bench-open-breaker"))
        .expect("default settings are valid");
    breaker.force_open();
    g.bench(rt, "resilience", open_breaker);
    let recloser = AsyncRecloser::from(
        Recloser::custom()
            .error_rate(0.5)
            .closed_len(2)
            .open_wait(Duration::from_secs(3600))
            .build(),
    );
    for _ in 0..3 {
        let _ = rt.block_on(recloser.call(async { Err::<u64, _>(()) }));
    }
    g.bench(rt, "recloser", |x| recloser.call(bare(x)));
    let failsafe = failsafe::Config::new()
        .failure_policy(failsafe::failure_policy::consecutive_failures(
            1,
            failsafe::backoff::constant(Duration::from_secs(3600)),
        ))
        .build();
    let _ = rt.block_on(failsafe.call(async { Err::<u64, _>(()) }));
    g.bench(rt, "failsafe", |x| failsafe.call(bare(x)));
    g.finish();

    let mut g = group(c, "full_bulkhead_rejects");
    let bulkhead = registry()
        .bulkhead_or_register(Bulkhead::builder("bench-full-bulkhead").max_concurrent(1))
        .expect("one slot is a valid bulkhead");
    let held = bulkhead.try_acquire().expect("the only slot is free");
    g.bench(rt, "resilience", full_bulkhead);
    drop(held);
    let semaphore = Semaphore::new(0);
    g.bench(rt, "tokio Semaphore::try_acquire", |x| {
        let permit = semaphore.try_acquire();
        async move {
            let _permit = permit.map_err(|_| Error::BulkheadFull {
                name: "semaphore".into(),
                max_concurrent: 0,
            })?;
            bare(x).await
        }
    });
    g.finish();

    let mut g = group(c, "retry_once_zero_delay");
    g.bench(rt, "resilience", retried_once);
    g.finish();
}

// ---------------------------------------------------------------------------------------------
// The side-by-side table.

/// Rows whose name starts with this are ours; every other row of a group is a peer.
const OURS: &str = "resilience";

fn is_ours(name: &str) -> bool {
    name.starts_with(OURS)
}

/// One row of the table: the median of every round's samples pooled, and the lowest and
/// highest of the rounds' own medians.
#[derive(Clone, Copy)]
struct Row {
    ns: f64,
    low: f64,
    high: f64,
}

impl Row {
    fn of(rounds: &[Vec<f64>]) -> Row {
        let per_round = rounds.iter().map(|kept| median(kept));
        Row {
            ns: median(&rounds.concat()),
            low: per_round.clone().fold(f64::INFINITY, f64::min),
            high: per_round.fold(f64::NEG_INFINITY, f64::max),
        }
    }
}

fn print_table() {
    let samples = SAMPLES
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    // Nothing to tabulate in `--test` mode, which runs each benchmark once.
    if !matches!(samples.get("bare/async_fn"), Some(rounds) if rounds.concat().len() >= 2) {
        return;
    }
    let medians: BTreeMap<&str, Row> = samples
        .iter()
        .map(|(id, rounds)| (id.as_str(), Row::of(rounds)))
        .collect();
    let bare = medians.get("bare/async_fn").map_or(f64::NAN, |row| row.ns);
    let order = [
        "bare",
        "reference",
        "retry",
        "circuit_breaker",
        "timeout",
        "bulkhead",
        "rate_limit",
        "all_four_stacked",
        "tower_bare",
        "tower_circuit_breaker",
        "tower_timeout",
        "tower_bulkhead",
        "tower_rate_limit",
        "tower_retry",
        "circuit_breaker_2_threads",
        "retry_2_threads",
        "bulkhead_2_threads",
        "rate_limit_2_threads",
        "open_breaker_rejects",
        "full_bulkhead_rejects",
        "retry_once_zero_delay",
    ];
    println!();
    println!(
        "| group | implementation | median ns/call | rounds' medians | added ns over bare | ratio to fastest peer |"
    );
    println!("|---|---|---:|---:|---:|---:|");
    for group in order {
        let prefix = format!("{group}/");
        let rows: Vec<(&str, Row)> = medians
            .iter()
            .filter_map(|(id, &row)| id.strip_prefix(prefix.as_str()).map(|name| (name, row)))
            .collect();
        let best_peer = rows
            .iter()
            .filter(|(name, _)| !is_ours(name))
            .map(|(_, row)| row.ns)
            .fold(f64::INFINITY, f64::min);
        let ours_first = rows
            .iter()
            .filter(|(name, _)| is_ours(name))
            .chain(rows.iter().filter(|(name, _)| !is_ours(name)));
        for &(name, Row { ns, low, high }) in ours_first {
            let ratio = if best_peer.is_finite() {
                format!("{:.2}", ns / best_peer)
            } else {
                "–".to_owned()
            };
            println!(
                "| {group} | {name} | {ns:.2} | {low:.1}–{high:.1} | {:+.2} | {ratio} |",
                ns - bare
            );
        }
    }
    print_stack_vs_sum(&medians, bare);
}

/// Whether stacking is free (issue 20): what the four attributes add stacked on one function,
/// beside what each adds alone, added up, from this run's medians.
fn print_stack_vs_sum(medians: &BTreeMap<&str, Row>, bare: f64) {
    let added = |id: &str| medians.get(id).map_or(f64::NAN, |row| row.ns - bare);
    let alone = [
        "retry/resilience",
        "circuit_breaker/resilience",
        "timeout/resilience",
        "bulkhead/resilience",
    ];
    let sum: f64 = alone.iter().map(|id| added(id)).sum();
    let stacked = added("all_four_stacked/resilience");
    println!();
    println!(
        "stacked vs the four alone added up: {stacked:+.2} ns vs {sum:+.2} ns ({:.2}×; {} each alone)",
        stacked / sum,
        alone
            .iter()
            .map(|id| format!("{:+.2}", added(id)))
            .collect::<Vec<_>>()
            .join(" ")
    );
}

/// The size of each call's future: every layer's state machine is moved at least once per call,
/// so this is part of what a wrapper costs.
fn print_future_sizes(rt: &Runtime) {
    // `tokio::time::timeout` registers with the timer when it is created.
    let _entered = rt.enter();
    let recloser = AsyncRecloser::from(Recloser::default());
    let failsafe = failsafe::Config::new().build();
    let sizes = [
        ("bare async fn", std::mem::size_of_val(&bare(0))),
        ("#[retry]", std::mem::size_of_val(&with_retry(0))),
        (
            "#[circuit_breaker]",
            std::mem::size_of_val(&with_breaker(0)),
        ),
        ("#[timeout]", std::mem::size_of_val(&with_timeout(0))),
        ("#[bulkhead]", std::mem::size_of_val(&with_bulkhead(0))),
        ("#[rate_limit]", std::mem::size_of_val(&with_rate_limit(0))),
        ("all four stacked", std::mem::size_of_val(&with_all_four(0))),
        (
            "tokio-retry",
            std::mem::size_of_val(&tokio_retry::Retry::start(
                FixedInterval::from_millis(100).take(2),
                || bare(0),
            )),
        ),
        (
            "backon",
            std::mem::size_of_val(&(|| bare(0)).retry(ExponentialBuilder::default())),
        ),
        ("recloser", std::mem::size_of_val(&recloser.call(bare(0)))),
        ("failsafe", std::mem::size_of_val(&failsafe.call(bare(0)))),
        (
            "tokio::time::timeout",
            std::mem::size_of_val(&tokio::time::timeout(Duration::from_secs(1), bare(0))),
        ),
    ];
    println!();
    println!("| future of one call | bytes |");
    println!("|---|---:|");
    for (name, bytes) in sizes {
        println!("| {name} | {bytes} |");
    }
}

fn main() {
    let mut c = Criterion::default()
        .sample_size(SAMPLE_SIZE)
        .warm_up_time(Duration::from_millis(200))
        .measurement_time(Duration::from_millis(500))
        // The table below uses its own medians; criterion's bootstrap only feeds its report.
        .nresamples(1000)
        .configure_from_args();
    let rt = runtime();
    for round in 0..ROUNDS {
        ROUND.store(round, Ordering::Relaxed);
        success_paths(&mut c, &rt);
        tower_layers(&mut c, &rt);
        contended_paths(&mut c);
        rejection_paths(&mut c, &rt);
    }
    c.final_summary();
    print_table();
    print_future_sizes(&rt);
}
