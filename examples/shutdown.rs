//! Graceful shutdown: workers call a protected function in a loop; on Ctrl-C (or SIGTERM) the
//! registry shuts down, new calls fail with `SHUTTING_DOWN`, and the calls in flight drain.
//!
//! `cargo run --example shutdown`; press Ctrl-C, or wait: with no signal within a second it
//! shuts itself down, so it also runs unattended.

use std::time::Duration;

use resilience::{bulkhead, registry, retry, timeout, Error};

/// A request that takes 300 ms; the bulkhead's slots are what a shutdown waits for.
#[retry(max_attempts = 3, delay = "50ms")]
#[timeout(secs = 2)]
#[bulkhead(max = 4, queue = 8, name = "orders")]
async fn handle(request: u32) -> Result<u32, Error> {
    tokio::time::sleep(Duration::from_millis(300)).await;
    Ok(request)
}

#[tokio::main]
async fn main() {
    let workers: Vec<_> = (0..6)
        .map(|worker| {
            tokio::spawn(async move {
                let mut served = 0;
                for request in 0.. {
                    match handle(request).await {
                        Ok(_) => served += 1,
                        Err(err) => {
                            println!(
                                "worker {worker}: stops after {served} requests: {err} ({})",
                                err.code()
                            );
                            break;
                        }
                    }
                }
            })
        })
        .collect();

    let deadline = Duration::from_secs(5);
    let report = tokio::select! {
        report = resilience::shutdown_on_signal(deadline) => report,
        report = async {
            tokio::time::sleep(Duration::from_secs(1)).await;
            println!("no signal within 1s: shutting down");
            registry().shutdown(deadline).await
        } => report,
    };
    println!("{report}");
    println!("live: {}", registry().live());
    for worker in workers {
        worker.await.expect("a worker panicked");
    }
}
