//! Two instances of a service sharing a rate limiter and a circuit breaker through Redis.
//!
//! ```sh
//! redis-server --port 6379 --save "" &          # Debian: apt-get install redis-server
//! cargo run -p resilience-redis --example fleet  # REDIS_URL overrides redis://127.0.0.1:6379
//! ```
//!
//! Run plainly, it starts two copies of itself, instances `a` and `b` (`fleet a`, `fleet b`),
//! and prints what each saw: the limiter's 5 cells split between them, and the breaker that `a`
//! trips followed by `b` within a sync interval, although none of `b`'s own calls failed.

use std::process::Command;
use std::time::{Duration, Instant};

use resilience::{circuit_breaker, rate_limit, registry, CircuitState, Error};
use resilience_redis::RedisStore;

/// Five calls per ten seconds, for the whole fleet.
#[rate_limit(name = "fleet-search", rate = 5, per = "10s", shared)]
async fn search(query: &str) -> Result<String, Error> {
    Ok(format!("results for {query}"))
}

/// Opens after three failures in a row, fleet-wide.
#[circuit_breaker(
    name = "fleet-payments",
    failure_threshold = 3,
    reset_timeout = "30s",
    shared
)]
async fn charge(backend_up: bool) -> Result<(), Error> {
    if backend_up {
        Ok(())
    } else {
        Err(Error::Timeout {
            name: "payments-backend".into(),
            after: Duration::from_secs(2),
        })
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    match std::env::args().nth(1).as_deref() {
        Some(instance) => run_instance(instance, &url).await,
        None => {
            // A fresh fleet for each run of the example.
            let prefix = format!("example-{}", std::process::id());
            let me = std::env::current_exe()?;
            let b = Command::new(&me)
                .arg("b")
                .env("FLEET_PREFIX", &prefix)
                .spawn()?;
            let a = Command::new(&me)
                .arg("a")
                .env("FLEET_PREFIX", &prefix)
                .spawn()?;
            for mut child in [a, b] {
                child.wait()?;
            }
            Ok(())
        }
    }
}

async fn run_instance(instance: &str, url: &str) -> Result<(), Box<dyn std::error::Error>> {
    let prefix = std::env::var("FLEET_PREFIX").unwrap_or_else(|_| "example".to_owned());
    let store = RedisStore::builder(url).prefix(prefix).connect().await?;
    registry().set_store(store);
    let mut events = registry().subscribe();

    let mut passed = 0;
    for i in 0..4 {
        match search(&format!("{instance}-{i}")).await {
            Ok(_) => passed += 1,
            Err(error) => println!("[{instance}] search limited: {error}"),
        }
    }
    println!("[{instance}] {passed} of 4 searches passed (5 for the whole fleet)");

    charge(true).await?;
    let breaker = registry()
        .circuit_breaker("fleet-payments")
        .expect("registered");
    if instance == "a" {
        for _ in 0..3 {
            let _ = charge(false).await;
        }
        println!(
            "[a] the payments backend failed 3 times: circuit {}",
            breaker.state()
        );
        // Stays up long enough to sync the trip to the fleet.
        tokio::time::sleep(Duration::from_millis(300)).await;
    } else {
        let started = Instant::now();
        while breaker.state() != CircuitState::Open && started.elapsed() < Duration::from_secs(5) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        println!(
            "[b] circuit {} after {:?}, with no failure of its own",
            breaker.state(),
            started.elapsed()
        );
        if let Err(error) = charge(true).await {
            println!("[b] charge rejected: {error}");
        }
        while let Ok(event) = events.try_recv() {
            println!("[b] event: {event}");
        }
    }
    Ok(())
}
