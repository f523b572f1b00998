//! A worker pool under a supervisor: workers crash now and then and are restarted, until one
//! crashes too often and the supervisor gives up, stopping the rest.
//!
//! `cargo run --example supervisor`

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use resilience::{registry, ChildSpec, Event, Restart, Strategy, Supervisor, SupervisorError};

/// A worker that handles "jobs" every 100 ms and gives up on the `fail_at`-th, every start.
fn worker(id: u32, fail_at: u32, starts: Arc<AtomicU32>) -> ChildSpec {
    ChildSpec::new(format!("worker-{id}"), move || {
        starts.fetch_add(1, Ordering::Relaxed);
        async move {
            for job in 1.. {
                tokio::select! {
                    _ = Supervisor::stop_requested() => {
                        println!("  worker-{id}: asked to stop after {job} job(s)");
                        return Ok(());
                    }
                    _ = tokio::time::sleep(Duration::from_millis(100)) => {}
                }
                if job == fail_at {
                    return Err(format!("job {job} failed"));
                }
            }
            Ok(())
        }
    })
    .restart(Restart::Permanent)
    .shutdown_timeout(Duration::from_secs(1))
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut events = registry().subscribe();
    tokio::spawn(async move {
        while let Ok(event) = events.recv().await {
            if matches!(
                event,
                Event::ChildRestarted { .. } | Event::SupervisorGaveUp { .. }
            ) {
                println!("event: {event}");
            }
        }
    });

    let starts = Arc::new(AtomicU32::new(0));
    let pool = Supervisor::builder("pool")
        .strategy(Strategy::OneForOne)
        .intensity(3, Duration::from_secs(1))
        .child(worker(1, 50, Arc::clone(&starts))) // steady
        .child(worker(2, 3, Arc::clone(&starts))) // crashes every 300 ms: too often
        .child(worker(3, 40, Arc::clone(&starts)))
        .build()
        .expect("valid settings");

    match pool.run().await {
        Err(SupervisorError::GaveUp {
            child, restarts, ..
        }) => {
            println!("the pool gave up on {child} after {restarts} restarts within a second");
        }
        other => println!("the pool ended: {other:?}"),
    }
    println!("{} worker start(s) in all", starts.load(Ordering::Relaxed));
    println!("live: {}", registry().live());
    println!("{}", registry().snapshot());
    tokio::task::yield_now().await;
}
