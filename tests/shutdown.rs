//! Graceful shutdown, end to end through the attributes, in virtual time: calls admitted,
//! queued in a bulkhead, sleeping between retries and waiting on a rate limiter when shutdown
//! begins, and calls that arrive after.
//!
//! Calls that never end, through each kind of policy alone, a stack, a tower layer and a
//! composite, are named in the report at the deadline; `#[fallback]`, `registry().execute`,
//! `Retry::attempts`, `batch` and `with_timeout` see the shutdown too.
//!
//! The shutdown gate is process-wide and never reopens, so this file is one test, in its own
//! process: the scenarios run one after the other around a single shutdown.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use std::collections::BTreeSet;
use std::future::pending;

use resilience::tower::CircuitBreakerLayer;
use resilience::{
    batch, bulkhead, circuit_breaker, fallback, rate_limit, registry, retry, timeout, with_timeout,
    BatchError, BatchOptions, CircuitBreaker, Error, HealthStatus, Pipeline, PolicyKind, Retry,
};
use tokio::sync::Notify;
use tokio::time::{sleep, Instant};
use tower::{service_fn, Service, ServiceBuilder, ServiceExt};

fn shutting_down(err: &anyhow::Error) -> bool {
    matches!(
        err.downcast_ref::<Error>(),
        Some(Error::ShuttingDown { .. })
    )
}

#[bulkhead(max = 1, queue = 1, queue_timeout = "60s", name = "sd-pool")]
async fn pooled(release: Arc<Notify>) -> anyhow::Result<u32> {
    release.notified().await;
    Ok(7)
}

#[bulkhead(max = 1, name = "sd-stuck")]
async fn stuck() -> anyhow::Result<()> {
    std::future::pending().await
}

#[retry(max_attempts = 3, delay = "10s", name = "sd-retry")]
#[timeout(secs = 60, name = "sd-retry-timeout")]
async fn failing(runs: &AtomicU32) -> anyhow::Result<()> {
    runs.fetch_add(1, Ordering::SeqCst);
    Err(anyhow::anyhow!("down"))
}

#[retry(max_attempts = 3, delay = "10s", name = "sd-bare-retry")]
async fn failing_alone(runs: &AtomicU32) -> Result<(), String> {
    runs.fetch_add(1, Ordering::SeqCst);
    Err("down".to_owned())
}

#[rate_limit(rate = 1, per = "10s", wait = "20s", name = "sd-limit")]
async fn limited() -> anyhow::Result<()> {
    Ok(())
}

#[circuit_breaker(name = "sd-breaker")]
async fn guarded() -> anyhow::Result<()> {
    Ok(())
}

#[timeout(secs = 1, name = "sd-timeout")]
async fn timed() -> anyhow::Result<()> {
    Ok(())
}

// Calls that never end, through each kind alone and through a stack.
#[circuit_breaker(name = "sd-hang-breaker")]
async fn hang_breaker() -> anyhow::Result<()> {
    pending().await
}

#[timeout(secs = 3600, name = "sd-hang-timeout")]
async fn hang_timeout() -> anyhow::Result<()> {
    pending().await
}

#[retry(max_attempts = 2, name = "sd-hang-retry")]
async fn hang_retry() -> anyhow::Result<()> {
    pending().await
}

#[rate_limit(rate = 100, per = "1s", name = "sd-hang-limit")]
async fn hang_limited() -> anyhow::Result<()> {
    pending().await
}

#[retry(max_attempts = 2, name = "sd-stack-retry")]
#[circuit_breaker(name = "sd-stack-breaker")]
#[timeout(secs = 3600, name = "sd-stack-timeout")]
async fn hang_stacked() -> anyhow::Result<()> {
    pending().await
}

fn stale(error: Error) -> Result<&'static str, Error> {
    match error {
        Error::ShuttingDown { .. } => Ok("stale"),
        other => Err(other),
    }
}

#[fallback(stale)]
#[circuit_breaker(name = "sd-fallback-breaker")]
async fn with_fallback() -> Result<&'static str, Error> {
    Ok("fresh")
}

#[tokio::test(start_paused = true)]
async fn shutdown_races_calls_in_every_state() {
    let runs = Arc::new(AtomicU32::new(0));
    let bare_runs = Arc::new(AtomicU32::new(0));
    let release = Arc::new(Notify::new());

    // Before: everything admits.
    guarded().await.unwrap();
    timed().await.unwrap();
    assert!(registry().live());

    // Admitted: holds sd-pool's only slot until released.
    let admitted = tokio::spawn(pooled(Arc::clone(&release)));
    // Queued behind it.
    let queued = tokio::spawn(pooled(Arc::new(Notify::new())));
    // Never ends: still running at the deadline.
    let never = tokio::spawn(stuck());
    // Sleeping between attempts (through a layer that can reject, and alone).
    let sleeping = tokio::spawn({
        let runs = Arc::clone(&runs);
        async move { failing(&runs).await }
    });
    let sleeping_alone = tokio::spawn({
        let runs = Arc::clone(&bare_runs);
        async move { failing_alone(&runs).await }
    });
    // Never end: through each kind alone, a stack, a tower layer and a composite.
    let composite = registry()
        .register_pipeline(
            Pipeline::builder("sd-composite")
                .circuit_breaker(|b| b)
                .timeout(Duration::from_secs(3600)),
        )
        .unwrap();
    let hanging = vec![
        tokio::spawn(hang_breaker()),
        tokio::spawn(hang_timeout()),
        tokio::spawn(hang_retry()),
        tokio::spawn(hang_limited()),
        tokio::spawn(hang_stacked()),
        tokio::spawn(async {
            let mut service = ServiceBuilder::new()
                .layer(CircuitBreakerLayer::register(CircuitBreaker::builder("sd-tower")).unwrap())
                .service(service_fn(|()| pending::<Result<(), std::io::Error>>()));
            service
                .ready()
                .await
                .unwrap()
                .call(())
                .await
                .map_err(anyhow::Error::from_boxed)
        }),
        tokio::spawn(async {
            registry()
                .execute("sd-composite", pending::<anyhow::Result<()>>)
                .await
        }),
    ];
    let hang_composite =
        tokio::spawn(async move { composite.execute(pending::<anyhow::Result<()>>).await });
    // A loop written by hand, sleeping before its second attempt.
    let attempts = Retry::builder("sd-attempts")
        .fixed(Duration::from_secs(10))
        .build()
        .unwrap();
    let attempts = Arc::new(attempts);
    let hand_loop = tokio::spawn({
        let attempts = Arc::clone(&attempts);
        async move {
            let mut loop_ = attempts.attempts();
            let mut tries = 0;
            while let Some(attempt) = loop_.next().await {
                tries += 1;
                attempt.failed(&"busy");
            }
            tries
        }
    });
    // A batch of three, one at a time: the first runs until released, the others wait.
    let batch_release = Arc::new(Notify::new());
    let batched = tokio::spawn({
        let release = Arc::clone(&batch_release);
        async move {
            let tasks = (0..3).map(|i| {
                let release = Arc::clone(&release);
                async move {
                    release.notified().await;
                    Ok::<_, ()>(i)
                }
            });
            let options = BatchOptions {
                max_concurrency: 1,
                ..BatchOptions::default()
            };
            batch(tasks, options).await.unwrap()
        }
    });

    // Takes the limiter's cell, so the next caller waits 10 s for the next.
    limited().await.unwrap();
    let waiting = tokio::spawn(limited());
    sleep(Duration::from_millis(1)).await;

    let pool = registry().bulkhead("sd-pool").unwrap();
    assert_eq!((pool.stats().in_flight, pool.stats().queued), (1, 1));
    let breaker = registry().circuit_breaker("sd-hang-breaker").unwrap();
    assert_eq!(breaker.in_flight(), 1);
    assert_eq!(
        registry()
            .rate_limiter("sd-hang-limit")
            .unwrap()
            .in_flight(),
        1
    );
    assert_eq!(
        registry().timeout("sd-hang-timeout").unwrap().in_flight(),
        1
    );
    assert_eq!(registry().retry("sd-hang-retry").unwrap().in_flight(), 1);
    assert_eq!(
        attempts.in_flight(),
        1,
        "the hand-written loop sleeps before attempt 2"
    );
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    assert_eq!(bare_runs.load(Ordering::SeqCst), 1);

    let started = Instant::now();
    let shutdown = tokio::spawn(registry().shutdown(Duration::from_secs(5)));
    sleep(Duration::from_millis(1)).await;

    // Waiting callers end at once: the queued one, the retry sleeps, the limiter wait.
    let queued = queued.await.unwrap().unwrap_err();
    assert!(shutting_down(&queued), "{queued}");
    let slept = sleeping.await.unwrap().unwrap_err();
    assert!(shutting_down(&slept), "{slept}");
    // A retry alone cannot reject: it ends with the last attempt's error, not retried.
    assert_eq!(sleeping_alone.await.unwrap(), Err("down".to_owned()));
    let waited = waiting.await.unwrap().unwrap_err();
    assert!(shutting_down(&waited), "{waited}");
    assert!(started.elapsed() < Duration::from_millis(10));
    assert_eq!(runs.load(Ordering::SeqCst), 1, "no second attempt");
    assert_eq!(bare_runs.load(Ordering::SeqCst), 1, "no second attempt");
    assert_eq!(pool.stats().queued, 0, "the queued caller left the queue");
    // The hand-written loop's sleep ends too, with no second attempt.
    assert_eq!(hand_loop.await.unwrap(), 1);
    assert_eq!(attempts.in_flight(), 0);
    // The batch's waiting tasks never start; the running one finishes when released.
    batch_release.notify_one();
    let results = batched.await.unwrap();
    assert_eq!(results[0], Ok(0));
    assert_eq!(
        &results[1..],
        &[Err(BatchError::ShuttingDown), Err(BatchError::ShuttingDown)]
    );
    // An unregistered deadline refuses a new call as the policies do.
    let refused: Result<(), Error> = with_timeout(Duration::from_secs(1), async { Ok(()) }).await;
    assert!(
        matches!(refused, Err(Error::ShuttingDown { .. })),
        "{refused:?}"
    );
    // A fallback over a rejecting policy answers the rejection, as it answers any failure it
    // accepts: a program that wants no answer while shutting down says so in `fallback_if`.
    assert_eq!(with_fallback().await, Ok("stale"));
    // A composite by name turns new calls away.
    let composite: anyhow::Result<()> = registry()
        .execute("sd-composite", || async { Ok(()) })
        .await;
    assert!(shutting_down(&composite.unwrap_err()));

    // New calls through every kind fail fast, with the policy's name.
    for err in [
        guarded().await.unwrap_err(),
        timed().await.unwrap_err(),
        limited().await.unwrap_err(),
        pooled(Arc::new(Notify::new())).await.unwrap_err(),
    ] {
        let rejection = err.downcast_ref::<Error>().unwrap();
        assert_eq!(rejection.code(), "SHUTTING_DOWN");
        assert_eq!(rejection.http_status(), 503);
    }
    assert!(matches!(
        failing(&runs).await.unwrap_err().downcast_ref::<Error>(),
        Some(Error::ShuttingDown { name }) if &**name == "sd-retry-timeout"
    ));
    assert_eq!(
        runs.load(Ordering::SeqCst),
        1,
        "a new call never ran its body"
    );

    // Health: not live, unhealthy.
    assert!(!registry().live());
    let health = registry().health().await;
    assert_eq!(health.status, HealthStatus::Unhealthy);
    assert!(health.checks.iter().any(|c| c.detail == "shutting down"));

    // The admitted call runs to its end.
    sleep(Duration::from_secs(2)).await;
    release.notify_one();
    assert_eq!(admitted.await.unwrap().unwrap(), 7);

    // The calls that never end are still running at the deadline, each named under every
    // policy it runs through, once (the composite's two calls, by name and by handle, twice).
    let report = shutdown.await.unwrap();
    assert_eq!(report.waited, Duration::from_secs(5));
    assert!(!report.drained());
    let named: BTreeSet<(PolicyKind, &str, u32)> = report
        .still_running
        .iter()
        .map(|running| (running.kind, running.name.as_str(), running.in_flight))
        .collect();
    let expected: BTreeSet<(PolicyKind, &str, u32)> = [
        (PolicyKind::Bulkhead, "sd-stuck", 1),
        (PolicyKind::CircuitBreaker, "sd-hang-breaker", 1),
        (PolicyKind::Timeout, "sd-hang-timeout", 1),
        (PolicyKind::Retry, "sd-hang-retry", 1),
        (PolicyKind::RateLimiter, "sd-hang-limit", 1),
        (PolicyKind::Retry, "sd-stack-retry", 1),
        (PolicyKind::CircuitBreaker, "sd-stack-breaker", 1),
        (PolicyKind::Timeout, "sd-stack-timeout", 1),
        (PolicyKind::CircuitBreaker, "sd-tower", 1),
        (PolicyKind::CircuitBreaker, "sd-composite", 2),
        (PolicyKind::Timeout, "sd-composite", 2),
    ]
    .into_iter()
    .collect();
    assert_eq!(named, expected, "{report}");
    assert_eq!(report.still_running.len(), expected.len(), "{report}");
    assert!(
        report.to_string().contains("`sd-hang-limit` (1 in flight)"),
        "{report}"
    );

    // Once they are gone, nothing is left: no slot or count leaked, and a second shutdown
    // returns at once.
    never.abort();
    let _ = never.await;
    for call in hanging {
        call.abort();
        let _ = call.await;
    }
    hang_composite.abort();
    let _ = hang_composite.await;
    let report = registry().shutdown(Duration::from_secs(5)).await;
    assert!(report.drained(), "{report}");
    assert_eq!(report.waited, Duration::ZERO);
    for name in ["sd-pool", "sd-stuck"] {
        let stats = registry().bulkhead(name).unwrap().stats();
        assert_eq!((stats.in_flight, stats.queued), (0, 0), "{name}");
    }
    assert_eq!(breaker.in_flight(), 0);
}
