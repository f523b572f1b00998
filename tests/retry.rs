//! `#[retry]`: exact backoff schedules in virtual time, jitter bounds, give-up rules, hooks.

mod common;

use std::sync::Mutex;
use std::time::Duration;

use common::Runs;
use resilience::{retry, RetryContext};
use tokio::time::Instant;

/// Fails until run number `succeed_on`.
async fn flaky(runs: &Runs, succeed_on: u32) -> Result<u32, String> {
    let n = runs.tick();
    if n >= succeed_on {
        Ok(n)
    } else {
        Err(format!("transient failure {n}"))
    }
}

#[retry(max_attempts = 4)]
async fn exponential_default(runs: &Runs, succeed_on: u32) -> Result<u32, String> {
    flaky(runs, succeed_on).await
}

#[tokio::test(start_paused = true)]
async fn exponential_backoff_sleeps_100_200_400() {
    let runs = Runs::new();
    let start = Instant::now();
    assert_eq!(exponential_default(&runs, 4).await, Ok(4));
    assert_eq!(start.elapsed(), Duration::from_millis(100 + 200 + 400));
}

#[tokio::test(start_paused = true)]
async fn exhausted_retries_return_the_last_error_unchanged() {
    let runs = Runs::new();
    let start = Instant::now();
    let result = exponential_default(&runs, 100).await;
    assert_eq!(result, Err("transient failure 4".to_owned()));
    assert_eq!(runs.get(), 4);
    assert_eq!(start.elapsed(), Duration::from_millis(700));
}

#[tokio::test(start_paused = true)]
async fn first_try_success_does_not_sleep() {
    let runs = Runs::new();
    let start = Instant::now();
    assert_eq!(exponential_default(&runs, 1).await, Ok(1));
    assert_eq!(start.elapsed(), Duration::ZERO);
}

#[retry(max_attempts = 3, backoff = "fixed", delay = "50ms")]
async fn fixed(runs: &Runs) -> Result<u32, String> {
    flaky(runs, u32::MAX).await
}

#[retry(max_attempts = 4, backoff = "linear", delay_ms = 10)]
async fn linear(runs: &Runs) -> Result<u32, String> {
    flaky(runs, u32::MAX).await
}

#[retry(max_attempts = 5, backoff = "none")]
async fn immediate(runs: &Runs) -> Result<u32, String> {
    flaky(runs, u32::MAX).await
}

#[retry(max_attempts = 5, delays = ["10ms", "30ms"])]
async fn scheduled(runs: &Runs) -> Result<u32, String> {
    flaky(runs, u32::MAX).await
}

fn seven_ms_per_retry(retry: u32) -> Duration {
    Duration::from_millis(7 * u64::from(retry))
}

#[retry(max_attempts = 4, backoff_fn = seven_ms_per_retry)]
async fn custom(runs: &Runs) -> Result<u32, String> {
    flaky(runs, u32::MAX).await
}

#[retry(max_attempts = 5, delay = "100ms", factor = 3.0, max_delay = "1s")]
async fn capped(runs: &Runs) -> Result<u32, String> {
    flaky(runs, u32::MAX).await
}

async fn elapsed_of<F: std::future::Future>(call: F) -> Duration {
    let start = Instant::now();
    call.await;
    start.elapsed()
}

#[tokio::test(start_paused = true)]
async fn every_strategy_sleeps_its_exact_schedule() {
    let runs = Runs::new();
    assert_eq!(elapsed_of(fixed(&runs)).await, Duration::from_millis(100));
    assert_eq!(runs.get(), 3);

    let runs = Runs::new();
    assert_eq!(
        elapsed_of(linear(&runs)).await,
        Duration::from_millis(10 + 20 + 30)
    );
    assert_eq!(runs.get(), 4);

    let runs = Runs::new();
    assert_eq!(elapsed_of(immediate(&runs)).await, Duration::ZERO);
    assert_eq!(runs.get(), 5);

    let runs = Runs::new();
    assert_eq!(
        elapsed_of(scheduled(&runs)).await,
        Duration::from_millis(10 + 30 + 30 + 30)
    );
    assert_eq!(runs.get(), 5);

    let runs = Runs::new();
    assert_eq!(
        elapsed_of(custom(&runs)).await,
        Duration::from_millis(7 + 14 + 21)
    );
    assert_eq!(runs.get(), 4);

    // 100, 300, 900, then capped at 1000.
    let runs = Runs::new();
    assert_eq!(
        elapsed_of(capped(&runs)).await,
        Duration::from_millis(100 + 300 + 900 + 1000)
    );
    assert_eq!(runs.get(), 5);
}

#[retry(max_attempts = 2, backoff = "fixed", delay = "1s", jitter)]
async fn proportional_jitter(runs: &Runs) -> Result<u32, String> {
    flaky(runs, u32::MAX).await
}

#[retry(max_attempts = 2, backoff = "fixed", delay = "1s", jitter = 0.1)]
async fn ten_percent_jitter(runs: &Runs) -> Result<u32, String> {
    flaky(runs, u32::MAX).await
}

#[retry(max_attempts = 2, backoff = "fixed", delay = "1s", jitter = "full")]
async fn full_jitter(runs: &Runs) -> Result<u32, String> {
    flaky(runs, u32::MAX).await
}

#[retry(max_attempts = 2, backoff = "fixed", delay = "1s", jitter = "equal")]
async fn equal_jitter(runs: &Runs) -> Result<u32, String> {
    flaky(runs, u32::MAX).await
}

#[tokio::test(start_paused = true)]
async fn jitter_stays_within_its_bounds() {
    let ms = Duration::from_millis;
    let mut distinct = std::collections::HashSet::new();
    for _ in 0..200 {
        let d = elapsed_of(proportional_jitter(&Runs::new())).await;
        assert!(d >= ms(750) && d <= ms(1250), "±25% jitter gave {d:?}");
        distinct.insert(d);
        let d = elapsed_of(ten_percent_jitter(&Runs::new())).await;
        assert!(d >= ms(900) && d <= ms(1100), "±10% jitter gave {d:?}");
        let d = elapsed_of(full_jitter(&Runs::new())).await;
        assert!(d <= ms(1000), "full jitter gave {d:?}");
        let d = elapsed_of(equal_jitter(&Runs::new())).await;
        assert!(d >= ms(500) && d <= ms(1000), "equal jitter gave {d:?}");
    }
    assert!(distinct.len() > 10, "jitter should vary the delay");
}

#[retry(
    max_attempts = 10,
    backoff = "fixed",
    delay = "100ms",
    max_elapsed = "350ms"
)]
async fn bounded_in_time(runs: &Runs) -> Result<u32, String> {
    flaky(runs, u32::MAX).await
}

#[tokio::test(start_paused = true)]
async fn max_elapsed_gives_up_before_a_delay_would_pass_it() {
    let runs = Runs::new();
    let start = Instant::now();
    assert!(bounded_in_time(&runs).await.is_err());
    // Attempts at 0, 100, 200, 300 ms; a fifth would start at 400 ms > 350 ms.
    assert_eq!(runs.get(), 4);
    assert_eq!(start.elapsed(), Duration::from_millis(300));
}

// `retry_if` receives `&E`, and `E` is `String` here.
#[allow(clippy::ptr_arg)]
fn is_transient(error: &String) -> bool {
    error.starts_with("transient")
}

#[retry(max_attempts = 5, backoff = "none", retry_if = is_transient)]
async fn selective(runs: &Runs, error: &'static str) -> Result<(), String> {
    runs.tick();
    Err(error.to_owned())
}

#[tokio::test]
async fn retry_if_decides_which_errors_are_retried() {
    let runs = Runs::new();
    assert_eq!(
        selective(&runs, "permanent").await,
        Err("permanent".to_owned())
    );
    assert_eq!(runs.get(), 1);

    let runs = Runs::new();
    assert!(selective(&runs, "transient").await.is_err());
    assert_eq!(runs.get(), 5);
}

static SEEN: Mutex<Vec<(u32, Duration, String)>> = Mutex::new(Vec::new());

fn remember(ctx: &RetryContext<'_, String>) {
    let error = ctx.error().cloned().unwrap_or_default();
    SEEN.lock()
        .unwrap()
        .push((ctx.attempt(), ctx.delay(), error));
}

#[retry(max_attempts = 3, delay = "10ms", on_retry = remember)]
async fn observed(runs: &Runs) -> Result<u32, String> {
    flaky(runs, u32::MAX).await
}

#[tokio::test(start_paused = true)]
async fn on_retry_sees_each_attempt_before_its_sleep() {
    let runs = Runs::new();
    let _ = observed(&runs).await;
    let seen = SEEN.lock().unwrap().clone();
    assert_eq!(
        seen,
        vec![
            (
                1,
                Duration::from_millis(10),
                "transient failure 1".to_owned()
            ),
            (
                2,
                Duration::from_millis(20),
                "transient failure 2".to_owned()
            ),
        ]
    );
}

/// The body moves `payload`: each attempt gets its own clone.
#[retry(max_attempts = 3, backoff = "none")]
async fn consumes(runs: &Runs, payload: String, mut tries: Vec<u32>) -> Result<String, String> {
    tries.push(runs.tick());
    if tries.len() == 1 && runs.get() < 3 {
        drop(payload);
        return Err("again".to_owned());
    }
    Ok(format!("{payload} after {tries:?}"))
}

#[tokio::test]
async fn owned_arguments_are_cloned_for_each_attempt() {
    let runs = Runs::new();
    assert_eq!(
        consumes(&runs, "hello".to_owned(), Vec::new()).await,
        Ok("hello after [3]".to_owned())
    );
}

#[retry(name = "retry-stats", max_attempts = 3, backoff = "none")]
async fn counted(runs: &Runs, succeed_on: u32) -> Result<u32, String> {
    flaky(runs, succeed_on).await
}

#[tokio::test]
async fn the_registry_counts_calls_and_retries() {
    counted(&Runs::new(), 1).await.unwrap();
    counted(&Runs::new(), 3).await.unwrap();
    counted(&Runs::new(), 10).await.unwrap_err();
    let retry = resilience::registry().retry("retry-stats").unwrap();
    let stats = retry.stats();
    assert_eq!(stats.calls, 3);
    assert_eq!(stats.retries, 2 + 2);
    assert_eq!(stats.successes_after_retry, 1);
    assert_eq!(stats.exhausted, 1);
}

#[retry(max_attempts = 3, backoff = "none")]
async fn with_anyhow(runs: &Runs) -> anyhow::Result<u32> {
    let n = runs.tick();
    anyhow::ensure!(n == 3, "not yet");
    Ok(n)
}

#[tokio::test]
async fn anyhow_results_work_with_no_code() {
    assert_eq!(with_anyhow(&Runs::new()).await.unwrap(), 3);
}
