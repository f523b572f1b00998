//! Every `#[retry]` key, every backoff strategy and every jitter form.

use std::time::Duration;

use resilience::{retry, RetryContext};

fn is_transient(err: &String) -> bool {
    err.starts_with("transient")
}

fn log_retry(ctx: &RetryContext<'_, String>) {
    let _ = (ctx.attempt(), ctx.delay(), ctx.elapsed());
}

fn my_schedule(retry: u32) -> Duration {
    Duration::from_millis(10 * u64::from(retry))
}

#[retry]
async fn defaults() -> Result<u32, String> {
    Ok(1)
}

#[retry(
    max_attempts = 5,
    backoff = "exponential",
    delay = "100ms",
    factor = 3.0,
    max_delay = "2s"
)]
async fn exponential() -> Result<u32, String> {
    Ok(1)
}

#[retry(backoff = "fixed", delay_ms = 250, max_delay_ms = 1000)]
async fn fixed() -> Result<u32, String> {
    Ok(1)
}

#[retry(backoff = "linear", delay = "1m30s", max_delay = "10m")]
async fn linear() -> Result<u32, String> {
    Ok(1)
}

#[retry(max_attempts = 1, backoff = "none")]
async fn no_backoff() -> Result<u32, String> {
    Ok(1)
}

#[retry(max_attempts = 4, delays = ["100ms", "200ms", "400ms"], max_elapsed = "5s")]
async fn schedule() -> Result<u32, String> {
    Ok(1)
}

#[retry(backoff_fn = my_schedule, max_elapsed_ms = 5000)]
async fn custom_schedule() -> Result<u32, String> {
    Ok(1)
}

#[retry(jitter)]
async fn proportional_jitter() -> Result<u32, String> {
    Ok(1)
}

#[retry(jitter = 0.1)]
async fn fraction_jitter() -> Result<u32, String> {
    Ok(1)
}

#[retry(jitter = 1)]
async fn whole_jitter() -> Result<u32, String> {
    Ok(1)
}

#[retry(jitter = "full")]
async fn full_jitter() -> Result<u32, String> {
    Ok(1)
}

#[retry(jitter = "equal")]
async fn equal_jitter() -> Result<u32, String> {
    Ok(1)
}

#[retry(jitter = "decorrelated", delay = "50ms", max_delay = "1s")]
async fn decorrelated_jitter() -> Result<u32, String> {
    Ok(1)
}

#[retry(retry_if = is_transient, on_retry = log_retry, name = "retry-keys",)]
async fn hooks() -> Result<u32, String> {
    Ok(1)
}

#[resilience::retry(max_attempts = 2, retry_if = self::is_transient)]
async fn by_path() -> Result<u32, String> {
    Ok(1)
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    runtime.block_on(async {
        assert_eq!(defaults().await, Ok(1));
        assert_eq!(exponential().await, Ok(1));
        assert_eq!(fixed().await, Ok(1));
        assert_eq!(linear().await, Ok(1));
        assert_eq!(no_backoff().await, Ok(1));
        assert_eq!(schedule().await, Ok(1));
        assert_eq!(custom_schedule().await, Ok(1));
        assert_eq!(proportional_jitter().await, Ok(1));
        assert_eq!(fraction_jitter().await, Ok(1));
        assert_eq!(whole_jitter().await, Ok(1));
        assert_eq!(full_jitter().await, Ok(1));
        assert_eq!(equal_jitter().await, Ok(1));
        assert_eq!(decorrelated_jitter().await, Ok(1));
        assert_eq!(hooks().await, Ok(1));
        assert_eq!(by_path().await, Ok(1));
    });
    assert!(resilience::registry().retry("retry-keys").is_some());
}

#[retry(retry_on = [])]
async fn retries_no_rejection() -> Result<u32, resilience::Error> {
    Ok(1)
}

#[retry(retry_on = ["timeout", "bulkhead_full", "rate_limited", "circuit_open"])]
async fn retries_every_rejection() -> Result<u32, resilience::Error> {
    Ok(1)
}
