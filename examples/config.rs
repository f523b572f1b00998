//! Policies configured by name from a file, reloaded while the program serves calls.
//!
//! ```sh
//! cargo run --example config
//! ```
//!
//! The program copies `examples/resilience.toml` to a temporary directory, watches the copy,
//! and calls `fetch_stock` in a loop: its dependency fails one call in three. After a second it
//! edits the copy as an operator would (a breaker that trips on the first failure, a smaller
//! bulkhead), and the registry picks the edit up on its own; then it writes a broken version,
//! which is refused while the last good one stays in force. Each phase prints the registry
//! table, whose FROM column says where every setting came from.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use resilience::{bulkhead, circuit_breaker, registry, retry, timeout, Event};

#[derive(Debug)]
enum StockError {
    Unavailable,
    Policy(resilience::Error),
}

impl From<resilience::Error> for StockError {
    fn from(err: resilience::Error) -> Self {
        StockError::Policy(err)
    }
}

impl fmt::Display for StockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StockError::Unavailable => f.write_str("inventory service unavailable"),
            StockError::Policy(err) => err.fmt(f),
        }
    }
}

static CALLS: AtomicU64 = AtomicU64::new(0);

// The attributes give the code's settings; the file's sections for these names go over them.
#[retry(max_attempts = 2)]
#[circuit_breaker(name = "inventory", failure_threshold = 5)]
#[timeout(name = "inventory", ms = 100)]
#[bulkhead(name = "inventory", max = 4)]
async fn fetch_stock(sku: u64) -> Result<u64, StockError> {
    let call = CALLS.fetch_add(1, Ordering::Relaxed);
    tokio::time::sleep(Duration::from_millis(5)).await;
    if call % 3 == 2 {
        Err(StockError::Unavailable)
    } else {
        Ok(sku * 10)
    }
}

/// Calls for `period`, and prints what happened.
async fn serve(period: Duration) {
    let (mut ok, mut failed) = (0, 0);
    let until = tokio::time::Instant::now() + period;
    while tokio::time::Instant::now() < until {
        match fetch_stock(7).await {
            Ok(_) => ok += 1,
            Err(_) => failed += 1,
        }
        // A request every 10ms or so, answered or refused.
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    println!("  {ok} calls answered, {failed} failed\n");
    println!("{}", registry().snapshot());
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("resilience-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("resilience.toml");
    let original = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/resilience.toml"),
    )?;
    std::fs::write(&path, &original)?;

    let mut events = registry().subscribe();
    tokio::spawn(async move {
        while let Ok(event) = events.recv().await {
            if matches!(
                event,
                Event::ConfigApplied { .. } | Event::ConfigRejected { .. }
            ) {
                println!("event: {event}\n");
            }
        }
    });

    println!("== watching {}", path.display());
    let watch = registry().watch_config(&path, Duration::from_millis(200));
    serve(Duration::from_secs(1)).await;

    println!("== an operator edits the file: trip on the first failure, at most 2 in flight");
    let edited = original
        .replace("failure_threshold = 3", "failure_threshold = 1")
        .replace("max = 8", "max = 2");
    std::fs::write(&path, edited)?;
    tokio::time::sleep(Duration::from_millis(400)).await;
    serve(Duration::from_secs(1)).await;

    println!("== a typo: refused, the last good file stays in force");
    std::fs::write(&path, "[circuit_breaker.inventory]\nfailure_treshold = 2\n")?;
    tokio::time::sleep(Duration::from_millis(400)).await;
    if let Some(error) = registry().config_error() {
        println!("config_error(): {error}\n");
    }

    drop(watch);
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
