//! One health status for a service: a crashing worker pool, a breaker, and the service's own
//! checks.
//!
//! ```sh
//! cargo run --example health
//! ```
//!
//! Four workers take jobs; from 1 s to 2.5 s a bad deploy makes most jobs crash, and each crash
//! is recorded in the pool's `HealthMonitor` (at most 5 crashes in a 1 s window). A breaker
//! guards the dependency the workers call, and the service adds two checks of its own: a
//! database ping (critical) and a disk check (not critical) that starts failing at 3 s. Every
//! 500 ms the program prints `registry().health()`: healthy, then unhealthy while the pool
//! crashes past its limit (a readiness probe would fail), healthy again once the crashes age out
//! of the window, and degraded (still ready) when the disk fills up.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use resilience::{registry, CircuitBreaker, HealthMonitor};
use tokio::time::Instant;

const RUN_FOR: Duration = Duration::from_millis(4000);
const BAD_DEPLOY: (Duration, Duration) = (Duration::from_millis(1000), Duration::from_millis(2500));

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let started = Instant::now();
    let pool = registry().health_monitor_or_register(
        HealthMonitor::builder("workers")
            .max_crashes(5)
            .window(Duration::from_secs(1))
            .max_worker_crashes(2),
    )?;
    let breaker = registry().circuit_breaker_or_register(
        CircuitBreaker::builder("jobs-db")
            .failure_threshold(3)
            .reset_timeout(Duration::from_millis(300)),
    )?;
    registry().add_check("database ping", Duration::from_millis(100), || async {
        tokio::time::sleep(Duration::from_millis(5)).await;
        Ok::<_, String>(())
    });
    // The disk fills up near the end: not critical, so health is degraded, still ready.
    registry()
        .add_check("disk", Duration::from_millis(100), move || async move {
            if started.elapsed() < Duration::from_millis(3000) {
                Ok(())
            } else {
                Err("/var 91% full")
            }
        })
        .non_critical();

    let jobs = Arc::new(AtomicU64::new(0));
    for worker in 0..4 {
        let (pool, breaker, jobs) = (pool.clone(), breaker.clone(), jobs.clone());
        tokio::spawn(async move {
            loop {
                let job = jobs.fetch_add(1, Ordering::Relaxed);
                let elapsed = started.elapsed();
                let bad = elapsed >= BAD_DEPLOY.0 && elapsed < BAD_DEPLOY.1;
                // The job calls the database through the breaker; under the bad deploy most
                // jobs crash the worker, which restarts.
                let outcome = breaker
                    .call(async { Ok::<_, resilience::Error>(job) })
                    .await;
                if bad && job % 3 != 0 {
                    pool.record_crash(format!("worker-{worker}"), "panicked: index out of bounds");
                    tokio::time::sleep(Duration::from_millis(100)).await; // restart
                } else if outcome.is_ok() {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        });
    }

    while started.elapsed() < RUN_FOR {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let report = registry().health().await;
        let stats = pool.stats();
        println!(
            "[{:>5} ms] ready: {}, crashes in window: {}, jobs: {}\n{report}\n",
            started.elapsed().as_millis(),
            report.ready(),
            stats.crashes_in_window,
            jobs.load(Ordering::Relaxed),
        );
    }
    Ok(())
}
