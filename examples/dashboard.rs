//! The HTTP surface and live dashboard (`resilience-http`) over a simulated shop whose
//! dependencies fail now and then, so that breakers open and close while you watch.
//!
//! Run with `cargo run --example dashboard` and open the URL it prints. It serves on
//! `127.0.0.1:9464` (or a free port when that one is taken; `RESILIENCE_HTTP_ADDR` picks
//! another), with the control endpoints enabled for the token it prints. It runs until Ctrl-C, or
//! for `N` seconds with `cargo run --example dashboard -- N`.
//!
//! - `payments` has an outage of about 8 s every 25 s: its breaker opens after 5 failures in a
//!   row, probes every 3 s, and closes when the outage is over. The retry around it retries
//!   timeouts but not the open circuit.
//! - `inventory` fails a varying share of its calls (a failure-rate breaker over 20 calls) and
//!   sits behind a bulkhead of 6 that fills up when it turns slow.
//! - `search` is rate limited to 30 calls a second, and gets bursts of more.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use resilience::{bulkhead, circuit_breaker, rate_limit, retry, timeout};
use resilience_http::{Server, DEFAULT_ADDR};

#[derive(Debug)]
enum ShopError {
    Down(&'static str),
    Policy(resilience::Error),
}

impl std::fmt::Display for ShopError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ShopError::Down(what) => write!(f, "{what} is down"),
            ShopError::Policy(rejection) => write!(f, "{rejection}"),
        }
    }
}

impl From<resilience::Error> for ShopError {
    fn from(rejection: resilience::Error) -> Self {
        ShopError::Policy(rejection)
    }
}

/// The simulated world: time since start in tenths of a second, read by the dependencies.
static TICKS: AtomicU64 = AtomicU64::new(0);

fn seconds() -> u64 {
    TICKS.load(Ordering::Relaxed) / 10
}

/// `payments` is down for 8 s of every 25.
fn payments_down() -> bool {
    seconds() % 25 >= 17
}

/// The share of `inventory` calls that fail: a slow wave between 0 and 70 %.
fn inventory_failure_share() -> f64 {
    let phase = (seconds() % 40) as f64 / 40.0 * std::f64::consts::TAU;
    (0.35 - 0.35 * phase.cos()).clamp(0.0, 0.7)
}

#[retry(name = "payments", max_attempts = 2, delay = "50ms")]
#[circuit_breaker(name = "payments", failure_threshold = 5, reset_timeout = "3s")]
#[timeout(name = "payments", duration = "200ms")]
async fn charge(roll: f64) -> Result<(), ShopError> {
    if payments_down() {
        if roll < 0.5 {
            // Hangs: the timeout ends it.
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        return Err(ShopError::Down("payments"));
    }
    tokio::time::sleep(Duration::from_millis(20)).await;
    Ok(())
}

#[circuit_breaker(
    name = "inventory",
    failure_rate = 0.5,
    window = 20,
    min_calls = 10,
    reset_timeout = "4s"
)]
#[bulkhead(name = "inventory", max = 6, queue = 4, queue_timeout = "100ms")]
async fn stock(roll: f64) -> Result<u32, ShopError> {
    let share = inventory_failure_share();
    // Slower as it gets worse.
    tokio::time::sleep(Duration::from_millis(10 + (share * 300.0) as u64)).await;
    if roll < share {
        Err(ShopError::Down("inventory"))
    } else {
        Ok(7)
    }
}

#[rate_limit(name = "search", rate = 30, per = "1s", burst = 10)]
async fn search() -> Result<usize, ShopError> {
    tokio::time::sleep(Duration::from_millis(5)).await;
    Ok(3)
}

/// One simulated client: a call every `every`, forever.
fn client<F, Fut>(every: Duration, seed: u64, call: F)
where
    F: Fn(f64) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let call = Arc::new(call);
    tokio::spawn(async move {
        let mut rng = SmallRng::seed_from_u64(seed);
        let mut ticks = tokio::time::interval(every);
        loop {
            ticks.tick().await;
            let roll = rng.gen::<f64>();
            tokio::spawn((call)(roll));
        }
    });
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let run_for = std::env::args().nth(1).and_then(|n| n.parse::<u64>().ok());
    let addr: SocketAddr = match std::env::var("RESILIENCE_HTTP_ADDR") {
        Ok(addr) => addr.parse()?,
        Err(_) => DEFAULT_ADDR,
    };
    let token = std::env::var("RESILIENCE_TOKEN").unwrap_or_else(|_| "demo-token".to_owned());
    let server = match Server::bind(addr).control_token(&token).start().await {
        Ok(server) => server,
        // Taken (another copy running?): any free port.
        Err(_) => {
            Server::bind(([127, 0, 0, 1], 0))
                .control_token(&token)
                .start()
                .await?
        }
    };
    let url = server.url();
    println!("dashboard: {url}");
    println!("  curl {url}policies");
    println!("  curl -N {url}events");
    println!("  curl {url}metrics");
    println!(
        "  curl -X POST -H 'Authorization: Bearer {token}' {url}policies/rate_limiter/search/reset"
    );
    println!("  curl -X POST -H 'Authorization: Bearer {token}' {url}policies/circuit_breaker/payments/force_open");
    println!("Ctrl-C to stop.");

    tokio::spawn(async {
        let mut tenth = tokio::time::interval(Duration::from_millis(100));
        loop {
            tenth.tick().await;
            TICKS.fetch_add(1, Ordering::Relaxed);
        }
    });
    client(Duration::from_millis(60), 1, |roll| async move {
        let _ = charge(roll).await;
    });
    client(Duration::from_millis(40), 2, |roll| async move {
        let _ = stock(roll).await;
    });
    client(Duration::from_millis(25), 3, |roll| async move {
        // Bursts: a few calls at once now and then.
        let calls = if roll < 0.1 { 12 } else { 1 };
        for _ in 0..calls {
            let _ = search().await;
        }
    });

    match run_for {
        Some(seconds) => tokio::time::sleep(Duration::from_secs(seconds)).await,
        None => tokio::signal::ctrl_c().await?,
    }
    server.shutdown().await;
    println!("{}", resilience::registry().snapshot());
    Ok(())
}
