//! What `retry_if` and `retry_on` each decide: `retry_if` the function's own errors, `retry_on`
//! the rejections of the policies below, which `retry_if` never sees.

mod common;

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use common::{AppError, Runs};
use resilience::{circuit_breaker, registry, retry, timeout, CircuitState, Error};

static ASKED: AtomicU32 = AtomicU32::new(0);

/// Counts what it is asked about; says "retry" to everything.
fn counted_retry_if(_: &AppError) -> bool {
    ASKED.fetch_add(1, Ordering::SeqCst);
    true
}

/// A payment whose attempt may already have gone through when the timeout fires: a timeout must
/// not be retried, or the customer is charged twice.
#[retry(max_attempts = 3, backoff = "none", retry_on = [], retry_if = counted_retry_if)]
#[timeout(ms = 100)]
async fn charge(runs: &Runs) -> Result<(), AppError> {
    runs.tick();
    tokio::time::sleep(Duration::from_secs(1)).await;
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn retry_on_empty_retries_no_rejection_and_retry_if_never_sees_one() {
    let runs = Runs::new();
    let result = charge(&runs).await;
    assert!(
        matches!(result, Err(AppError::Policy(Error::Timeout { .. }))),
        "{result:?}"
    );
    assert_eq!(runs.get(), 1, "the payment ran once");
    assert_eq!(ASKED.load(Ordering::SeqCst), 0, "retry_if saw a rejection");
}

#[retry(max_attempts = 3, backoff = "none")]
#[timeout(ms = 100)]
async fn idempotent_read(runs: &Runs) -> Result<u32, AppError> {
    let n = runs.tick();
    if n < 3 {
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    Ok(n)
}

#[tokio::test(start_paused = true)]
async fn by_default_a_timeout_below_is_retried() {
    let runs = Runs::new();
    assert_eq!(idempotent_read(&runs).await, Ok(3));
    let retry = registry().retry("retry_control::idempotent_read").unwrap();
    assert_eq!(retry.stats().retries, 2);
}

/// An open circuit is retried on the retry's schedule, which outlasts the breaker's
/// `reset_timeout`: the last attempt is the half-open probe.
#[retry(max_attempts = 4, backoff = "fixed", delay = "1s", retry_on = ["circuit_open"])]
#[circuit_breaker(
    name = "retry-control-ledger",
    failure_threshold = 1,
    reset_timeout = "2s"
)]
async fn post(runs: &Runs) -> Result<u32, AppError> {
    let n = runs.tick();
    if n == 1 {
        Err(AppError::Down("ledger"))
    } else {
        Ok(n)
    }
}

fn never(_: &AppError) -> bool {
    false
}

#[retry(max_attempts = 4, backoff = "fixed", delay = "1s", retry_if = never, retry_on = ["circuit_open"])]
#[circuit_breaker(
    name = "retry-control-ledger-2",
    failure_threshold = 1,
    reset_timeout = "2s"
)]
async fn post_once(runs: &Runs) -> Result<u32, AppError> {
    let n = runs.tick();
    if n == 1 {
        Err(AppError::Down("ledger"))
    } else {
        Ok(n)
    }
}

#[tokio::test(start_paused = true)]
async fn retry_on_circuit_open_retries_an_open_circuit_until_a_probe_goes_through() {
    // The body's own failure is retried (retry_if: every error); it opens the breaker, whose
    // rejections are then retried too, until the probe at 2s succeeds.
    let runs = Runs::new();
    let start = tokio::time::Instant::now();
    assert_eq!(post(&runs).await, Ok(2));
    assert_eq!(runs.get(), 2, "rejected attempts do not run the body");
    assert_eq!(start.elapsed(), Duration::from_secs(2));

    // `retry_if` refuses the body's own error: no retry, whatever `retry_on` says.
    let runs = Runs::new();
    assert_eq!(post_once(&runs).await, Err(AppError::Down("ledger")));
    let breaker = registry()
        .circuit_breaker("retry-control-ledger-2")
        .unwrap();
    assert_eq!(breaker.state(), CircuitState::Open);
    // The next call meets the open circuit: retried on schedule, and the probe at 2s succeeds.
    assert_eq!(post_once(&runs).await, Ok(2));
    assert_eq!(breaker.state(), CircuitState::Closed);
}
