//! A tour of the four attributes on a simulated flaky service, ending with the registry's table.
//!
//! Run with `cargo run --example tour`. Everything happens in-process; it takes about two seconds.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use resilience::{
    bulkhead, circuit_breaker, fallback, rate_limit, registry, retry, timeout, RetryContext,
};
use tokio::time::Instant;

/// The application's error: the service's own failures, plus the policies' rejections.
#[derive(Debug)]
enum ServiceError {
    Unavailable(String),
    Policy(resilience::Error),
}

impl From<resilience::Error> for ServiceError {
    fn from(err: resilience::Error) -> Self {
        ServiceError::Policy(err)
    }
}

impl std::fmt::Display for ServiceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ServiceError::Unavailable(why) => write!(f, "service unavailable: {why}"),
            ServiceError::Policy(err) => write!(f, "rejected [{}]: {err}", err.code()),
        }
    }
}

/// A simulated remote service: it fails its first `failures` requests, then answers.
struct FlakyService {
    requests: AtomicU32,
    failures: AtomicU32,
    healthy: AtomicBool,
}

impl FlakyService {
    const fn new() -> Self {
        FlakyService {
            requests: AtomicU32::new(0),
            failures: AtomicU32::new(0),
            healthy: AtomicBool::new(true),
        }
    }

    fn fail_next(&self, n: u32) {
        self.failures.store(n, Ordering::SeqCst);
    }

    fn set_healthy(&self, healthy: bool) {
        self.healthy.store(healthy, Ordering::SeqCst);
    }

    fn requests(&self) -> u32 {
        self.requests.load(Ordering::SeqCst)
    }

    async fn request(&self, what: &str, latency: Duration) -> Result<String, ServiceError> {
        let n = self.requests.fetch_add(1, Ordering::SeqCst) + 1;
        tokio::time::sleep(latency).await;
        let scripted_failure = self
            .failures
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| {
                left.checked_sub(1)
            })
            .is_ok();
        if scripted_failure || !self.healthy.load(Ordering::SeqCst) {
            Err(ServiceError::Unavailable(format!(
                "request #{n} for {what} failed"
            )))
        } else {
            Ok(format!("{what} (request #{n})"))
        }
    }
}

static SERVICE: FlakyService = FlakyService::new();

fn announce_retry(ctx: &RetryContext<'_, ServiceError>) {
    println!(
        "    attempt {} failed ({}); retrying in {:?}",
        ctx.attempt(),
        ctx.failure(),
        ctx.delay()
    );
}

#[retry(max_attempts = 4, delay = "50ms", on_retry = announce_retry)]
async fn lookup_user(id: u64) -> Result<String, ServiceError> {
    SERVICE
        .request(&format!("user {id}"), Duration::from_millis(5))
        .await
}

#[circuit_breaker(name = "inventory", failure_threshold = 3, reset_timeout = "500ms")]
async fn check_stock(sku: &str) -> Result<String, ServiceError> {
    SERVICE.request(sku, Duration::from_millis(5)).await
}

#[timeout(ms = 200)]
async fn slow_report() -> Result<String, ServiceError> {
    SERVICE.request("report", Duration::from_secs(2)).await
}

#[bulkhead(max = 2)]
async fn render(page: u32) -> Result<String, ServiceError> {
    SERVICE
        .request(&format!("page {page}"), Duration::from_millis(100))
        .await
}

#[rate_limit(rate = 5, per = "1s", burst = 2)]
async fn notify(user: u32) -> Result<String, ServiceError> {
    SERVICE
        .request(&format!("notification to {user}"), Duration::ZERO)
        .await
}

/// Serves a price from the last known list when the pricing service cannot answer.
fn cached_price(sku: &str, error: ServiceError) -> Result<String, ServiceError> {
    Ok(format!("{sku}: 9.99 (cached, because {error})"))
}

#[fallback(cached_price)]
#[circuit_breaker(name = "pricing", failure_threshold = 1, reset_timeout = "10s")]
async fn price(sku: &str) -> Result<String, ServiceError> {
    SERVICE
        .request(&format!("price of {sku}"), Duration::from_millis(5))
        .await
}

#[retry(max_attempts = 3, jitter)]
#[circuit_breaker(name = "checkout")]
#[timeout(ms = 5000)]
#[bulkhead(max = 10)]
async fn checkout(order: u64) -> Result<String, ServiceError> {
    SERVICE
        .request(&format!("order {order}"), Duration::from_millis(10))
        .await
}

fn show(result: &Result<String, ServiceError>) -> String {
    match result {
        Ok(value) => format!("ok: {value}"),
        Err(err) => format!("error: {err}"),
    }
}

#[tokio::main]
async fn main() {
    let start = Instant::now();
    let at = || format!("[{:>5} ms]", start.elapsed().as_millis());

    println!(
        "1. #[retry(max_attempts = 4, delay = \"50ms\")] — the service fails twice, then answers"
    );
    SERVICE.fail_next(2);
    let result = lookup_user(42).await;
    println!("{} {}\n", at(), show(&result));

    println!("2. #[circuit_breaker(failure_threshold = 3, reset_timeout = \"500ms\")] — the service goes down");
    SERVICE.set_healthy(false);
    for _ in 0..3 {
        let result = check_stock("sku-7").await;
        println!("{} {}", at(), show(&result));
    }
    let breaker = registry()
        .circuit_breaker("inventory")
        .expect("registered on first call");
    println!("{} breaker is now {}", at(), breaker.state());
    let before = SERVICE.requests();
    let result = check_stock("sku-7").await;
    println!("{} {}", at(), show(&result));
    println!(
        "{} the service saw {} new request(s): the open breaker answered for it",
        at(),
        SERVICE.requests() - before
    );
    SERVICE.set_healthy(true);
    tokio::time::sleep(Duration::from_millis(500)).await;
    println!("{} reset timeout elapsed; the service is back", at());
    let result = check_stock("sku-7").await;
    println!("{} {}", at(), show(&result));
    println!("{} breaker is now {}\n", at(), breaker.state());

    println!("3. #[timeout(ms = 200)] — the report takes 2 s");
    let result = slow_report().await;
    println!("{} {}\n", at(), show(&result));

    println!("4. #[bulkhead(max = 2)] — four pages rendered at once");
    let (a, b, c, d) = tokio::join!(render(1), render(2), render(3), render(4));
    for (page, result) in [a, b, c, d].iter().enumerate() {
        println!("{} page {}: {}", at(), page + 1, show(result));
    }
    println!();

    println!("5. #[rate_limit(rate = 5, per = \"1s\", burst = 2)] — four notifications at once");
    for user in 1..=4 {
        let result = notify(user).await;
        println!("{} user {user}: {}", at(), show(&result));
    }
    println!();

    println!("6. #[fallback(cached_price)] over a breaker — the pricing service is down");
    SERVICE.set_healthy(false);
    for _ in 0..2 {
        let result = price("sku-9").await;
        println!("{} {}", at(), show(&result));
    }
    SERVICE.set_healthy(true);
    println!();

    println!("7. Four attributes stacked: retry → circuit_breaker → timeout → bulkhead");
    SERVICE.fail_next(1);
    let result = checkout(1001).await;
    println!("{} {}\n", at(), show(&result));

    println!("The registry, as an operator sees it:\n");
    print!("{}", registry().snapshot());
}
