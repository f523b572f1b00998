//! A service under load in front of a flaky dependency, watched through the registry.
//!
//! ```sh
//! cargo run --example introspect
//! ```
//!
//! Sixteen workers call `fetch_price` in a loop for five seconds. The dependency (simulated in
//! process) is healthy, then has an outage from 1.5 s to 3 s — half its calls fail at once, half
//! hang — then recovers. Every second the program prints the registry table; state transitions
//! print as they happen, and the noisier events (rejections, retries, timeouts) are tallied and
//! printed with each table. The breaker opens during the outage, probes every 500 ms, and closes
//! once the dependency answers again.

use std::fmt;
use std::time::Duration;

use resilience::{bulkhead, circuit_breaker, registry, retry, timeout, Event};
use tokio::sync::broadcast::error::RecvError;
use tokio::time::Instant;

const RUN_FOR: Duration = Duration::from_secs(5);
const WORKERS: u64 = 16;
const OUTAGE: (Duration, Duration) = (Duration::from_millis(1500), Duration::from_millis(3000));

/// The service's error: the dependency's own failures, or a policy's rejection.
#[derive(Debug)]
enum PriceError {
    Refused,
    Policy(resilience::Error),
}

impl From<resilience::Error> for PriceError {
    fn from(err: resilience::Error) -> Self {
        PriceError::Policy(err)
    }
}

impl fmt::Display for PriceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PriceError::Refused => f.write_str("connection refused"),
            PriceError::Policy(err) => err.fmt(f),
        }
    }
}

/// The flaky dependency: its health depends on the time since the program started.
struct PriceService {
    started: Instant,
}

impl PriceService {
    async fn price(&self, item: u64) -> Result<u64, PriceError> {
        let now = self.started.elapsed();
        let in_outage = now >= OUTAGE.0 && now < OUTAGE.1;
        if in_outage && item % 2 == 0 {
            return Err(PriceError::Refused);
        }
        // A hanging request during the outage; the timeout cuts it short.
        let latency = if in_outage { 500 } else { 5 + item % 10 };
        tokio::time::sleep(Duration::from_millis(latency)).await;
        Ok(100 + item)
    }
}

#[retry(
    name = "prices.fetch",
    max_attempts = 2,
    backoff = "fixed",
    delay = "20ms"
)]
#[circuit_breaker(name = "prices", failure_threshold = 5, reset_timeout = "500ms")]
#[timeout(name = "prices.timeout", ms = 100)]
#[bulkhead(name = "prices.bulkhead", max = 8, queue = 8, queue_timeout = "50ms")]
async fn fetch_price(service: &PriceService, item: u64) -> Result<u64, PriceError> {
    service.price(item).await
}

/// Events too frequent to print one by one, counted between two tables.
#[derive(Default)]
struct Tally {
    rejected: u64,
    retries: u64,
    gave_up: u64,
    timeouts: u64,
}

impl Tally {
    fn count(&mut self, event: &Event, started: Instant) {
        match event {
            Event::CallRejected { .. } => self.rejected += 1,
            Event::RetryAttempt { .. } => self.retries += 1,
            Event::RetriesExhausted { .. } => self.gave_up += 1,
            Event::TimedOut { .. } => self.timeouts += 1,
            // Transitions and conflicts are rare and the point of the demo: print them now.
            other => println!("[{:>5.2}s] event: {other}", started.elapsed().as_secs_f64()),
        }
    }

    fn take(&mut self) -> String {
        let line = format!(
            "events since the last table: {} rejected, {} retries, {} gave up, {} timed out",
            self.rejected, self.retries, self.gave_up, self.timeouts
        );
        *self = Tally::default();
        line
    }
}

#[tokio::main]
async fn main() {
    let started = Instant::now();
    let deadline = started + RUN_FOR;
    let mut events = registry().subscribe();

    let service = std::sync::Arc::new(PriceService { started });
    let workers: Vec<_> = (0..WORKERS)
        .map(|worker| {
            let service = std::sync::Arc::clone(&service);
            tokio::spawn(async move {
                let mut item = worker;
                while Instant::now() < deadline {
                    // Errors are the point here; the registry and the events report them.
                    let _ = fetch_price(&service, item).await;
                    item += WORKERS;
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            })
        })
        .collect();

    let mut tally = Tally::default();
    let mut tick =
        tokio::time::interval_at(started + Duration::from_secs(1), Duration::from_secs(1));
    loop {
        tokio::select! {
            received = events.recv() => match received {
                Ok(event) => tally.count(&event, started),
                Err(RecvError::Lagged(missed)) => tally.rejected += missed,
                Err(RecvError::Closed) => break,
            },
            at = tick.tick() => {
                println!(
                    "\n[{:>5.2}s] {}\n{}",
                    (at - started).as_secs_f64(),
                    tally.take(),
                    registry().snapshot()
                );
                if at >= deadline {
                    break;
                }
            }
        }
    }
    for worker in workers {
        // A worker only ends by itself, at the deadline.
        let _ = worker.await;
    }
}
