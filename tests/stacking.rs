//! Stacked attributes nest in the order they are written: the top one is outermost.

mod common;

use std::time::Duration;

use common::{AppError, Runs};
use resilience::{bulkhead, circuit_breaker, registry, retry, timeout, CircuitState};
use tokio::time::Instant;

#[retry(max_attempts = 3, backoff = "none")]
#[timeout(ms = 100)]
async fn retry_over_timeout(runs: &Runs) -> Result<(), AppError> {
    runs.tick();
    tokio::time::sleep(Duration::from_secs(1)).await;
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn retry_outside_timeout_gives_each_attempt_its_own_timeout() {
    let runs = Runs::new();
    let start = Instant::now();
    let err = retry_over_timeout(&runs).await.unwrap_err();
    assert_eq!(err.code(), Some("TIMEOUT"));
    assert_eq!(runs.get(), 3);
    assert_eq!(start.elapsed(), Duration::from_millis(300));
}

#[timeout(ms = 250)]
#[retry(max_attempts = 5, backoff = "fixed", delay = "100ms")]
async fn timeout_over_retry(runs: &Runs) -> Result<(), AppError> {
    runs.tick();
    Err(AppError::Down("always"))
}

#[tokio::test(start_paused = true)]
async fn timeout_outside_retry_bounds_all_attempts_together() {
    let runs = Runs::new();
    let start = Instant::now();
    let err = timeout_over_retry(&runs).await.unwrap_err();
    assert_eq!(err.code(), Some("TIMEOUT"));
    // Attempts at 0, 100 and 200 ms; the timeout fires at 250 ms during the third sleep.
    assert_eq!(runs.get(), 3);
    assert_eq!(start.elapsed(), Duration::from_millis(250));
}

#[retry(max_attempts = 5, backoff = "none")]
#[circuit_breaker(name = "stack-open", failure_threshold = 2)]
async fn retry_over_breaker(runs: &Runs) -> Result<(), AppError> {
    runs.tick();
    Err(AppError::Down("always"))
}

#[tokio::test]
async fn an_open_circuit_is_not_retried() {
    let runs = Runs::new();
    let err = retry_over_breaker(&runs).await.unwrap_err();
    // Two failures open the breaker; the third attempt is rejected and not retried.
    assert_eq!(err.code(), Some("CIRCUIT_OPEN"));
    assert_eq!(runs.get(), 2);
    assert_eq!(
        registry().circuit_breaker("stack-open").unwrap().state(),
        CircuitState::Open
    );
}

#[circuit_breaker(name = "stack-breaker-outside", failure_threshold = 2)]
#[retry(max_attempts = 3, backoff = "none")]
async fn breaker_over_retry(runs: &Runs) -> Result<(), AppError> {
    runs.tick();
    Err(AppError::Down("always"))
}

#[tokio::test]
async fn a_breaker_outside_retry_counts_one_outcome_per_call() {
    let runs = Runs::new();
    let breaker = || registry().circuit_breaker("stack-breaker-outside").unwrap();
    assert_eq!(
        breaker_over_retry(&runs).await,
        Err(AppError::Down("always"))
    );
    assert_eq!(runs.get(), 3);
    assert_eq!(breaker().state(), CircuitState::Closed);
    let _ = breaker_over_retry(&runs).await;
    assert_eq!(runs.get(), 6);
    assert_eq!(breaker().state(), CircuitState::Open);
}

#[retry(max_attempts = 3, backoff = "fixed", delay = "10ms")]
#[bulkhead(max = 1, name = "stack-bulkhead")]
async fn retry_over_bulkhead(hold: Duration) -> Result<(), AppError> {
    tokio::time::sleep(hold).await;
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn a_full_bulkhead_is_retried() {
    let (a, b) = tokio::join!(retry_over_bulkhead(Duration::from_millis(15)), async {
        tokio::task::yield_now().await;
        retry_over_bulkhead(Duration::ZERO).await
    });
    assert!(a.is_ok());
    // Rejected at 0 and 10 ms, admitted at 20 ms once the first call released its slot.
    assert!(b.is_ok());
    let stats = registry().bulkhead("stack-bulkhead").unwrap().stats();
    assert_eq!(stats.rejected, 2);
}

#[retry(max_attempts = 3, jitter)]
#[circuit_breaker(name = "stack-all")]
#[timeout(ms = 5000)]
#[bulkhead(max = 10)]
async fn all_four(runs: &Runs) -> Result<u32, AppError> {
    Ok(runs.tick())
}

#[tokio::test]
async fn all_four_attributes_stack_as_written() {
    let runs = Runs::new();
    assert_eq!(all_four(&runs).await, Ok(1));
    assert!(registry().circuit_breaker("stack-all").is_some());
    assert!(registry().bulkhead("stacking::all_four").is_some());
    assert!(registry().timeout("stacking::all_four").is_some());
    assert!(registry().retry("stacking::all_four").is_some());
}
