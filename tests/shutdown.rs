//! Graceful shutdown, end to end through the attributes, in virtual time: calls admitted,
//! queued in a bulkhead, sleeping between retries and waiting on a rate limiter when shutdown
//! begins, and calls that arrive after.
//!
//! The shutdown gate is process-wide and never reopens, so this file is one test, in its own
//! process: the scenarios run one after the other around a single shutdown.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use resilience::{
    bulkhead, circuit_breaker, rate_limit, registry, retry, timeout, Error, HealthStatus,
    PolicyKind,
};
use tokio::sync::Notify;
use tokio::time::{sleep, Instant};

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
    // Takes the limiter's cell, so the next caller waits 10 s for the next.
    limited().await.unwrap();
    let waiting = tokio::spawn(limited());
    sleep(Duration::from_millis(1)).await;

    let pool = registry().bulkhead("sd-pool").unwrap();
    assert_eq!((pool.stats().in_flight, pool.stats().queued), (1, 1));
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

    // The stuck call is still running at the deadline, and named.
    let report = shutdown.await.unwrap();
    assert_eq!(report.waited, Duration::from_secs(5));
    assert!(!report.drained());
    assert_eq!(report.still_running.len(), 1, "{report}");
    let running = &report.still_running[0];
    assert_eq!(
        (running.kind, running.name.as_str()),
        (PolicyKind::Bulkhead, "sd-stuck")
    );
    assert_eq!(running.in_flight, 1);

    // Once it is gone, nothing is left: no slot leaked, and a second shutdown returns at once.
    never.abort();
    let _ = never.await;
    let report = registry().shutdown(Duration::from_secs(5)).await;
    assert!(report.drained(), "{report}");
    assert_eq!(report.waited, Duration::ZERO);
    for name in ["sd-pool", "sd-stuck"] {
        let stats = registry().bulkhead(name).unwrap().stats();
        assert_eq!((stats.in_flight, stats.queued), (0, 0), "{name}");
    }
}
