//! `#[rate_limit]` and `#[fallback]` through the attributes: an exact admit/reject sequence in
//! virtual time, waiting for a cell, a retry honouring `retry_after`, fallbacks sync and async,
//! `fallback_if`, and both in a stack.

mod common;

use std::time::Duration;

use common::{AppError, Runs};
use resilience::{circuit_breaker, fallback, rate_limit, registry, retry, timeout, Error};
use tokio::time::Instant;

#[rate_limit(rate = 10, per = "1s", burst = 3, name = "rl-sequence")]
async fn limited(runs: &Runs) -> Result<u32, AppError> {
    Ok(runs.tick())
}

#[tokio::test(start_paused = true)]
async fn admits_the_burst_then_one_call_per_interval() {
    let runs = Runs::new();
    let mut admitted = Vec::new();
    // 30 calls, one every 50 ms over 1.5 s. A full bucket of 3 cells, refilled one per 100 ms
    // (GCRA): calls at 0, 50, 100 and 150 ms drain it (1.5 cells came back meanwhile), and from
    // 200 ms on one call per 100 ms is admitted.
    for i in 0..30u64 {
        if limited(&runs).await.is_ok() {
            admitted.push(i * 50);
        }
        tokio::time::advance(Duration::from_millis(50)).await;
    }
    let expected: Vec<u64> = [0, 50, 100, 150]
        .into_iter()
        .chain((4..30).step_by(2).map(|i| i * 50))
        .collect();
    assert_eq!(admitted, expected);
    assert_eq!(runs.get() as usize, expected.len());
}

#[rate_limit(rate = 1, per = "1s", name = "rl-retry-after")]
async fn once_a_second() -> Result<(), AppError> {
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn a_rejection_says_when_to_come_back() {
    once_a_second().await.unwrap();
    tokio::time::advance(Duration::from_millis(400)).await;
    match once_a_second().await {
        Err(AppError::Policy(Error::RateLimited { retry_after, .. })) => {
            assert_eq!(retry_after, Duration::from_millis(600))
        }
        other => panic!("expected a rate limit, got {other:?}"),
    }
    let stats = registry().rate_limiter("rl-retry-after").unwrap().stats();
    assert_eq!((stats.permitted, stats.rejected), (1, 1));
}

#[rate_limit(rate = 2, per = "1s", burst = 1, wait = "600ms", name = "rl-wait")]
async fn patient() -> Result<(), AppError> {
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn a_caller_waits_for_the_next_cell_within_wait() {
    let start = Instant::now();
    patient().await.unwrap();
    patient().await.unwrap();
    assert_eq!(start.elapsed(), Duration::from_millis(500));
}

#[retry(max_attempts = 2, backoff = "fixed", delay = "10ms")]
#[rate_limit(rate = 1, per = "2s", name = "rl-under-retry")]
async fn retried_when_limited() -> Result<(), AppError> {
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn an_outer_retry_sleeps_until_the_limiter_has_a_cell() {
    retried_when_limited().await.unwrap();
    let start = Instant::now();
    retried_when_limited().await.unwrap();
    assert_eq!(start.elapsed(), Duration::from_secs(2));
}

fn from_cache(id: u64, error: AppError) -> Result<String, AppError> {
    Ok(format!("cached {id} ({error})"))
}

#[fallback(from_cache_too)]
async fn sync_fallback(runs: &Runs, id: u64) -> Result<String, AppError> {
    runs.tick();
    if id == 0 {
        Ok("fresh".to_owned())
    } else {
        Err(AppError::Down("db"))
    }
}

/// The fallback takes the function's arguments: here `runs` too.
async fn slow_path(runs: &Runs, owned: String, error: AppError) -> Result<String, AppError> {
    runs.tick();
    Ok(format!("{owned} from the slow path after {error}"))
}

#[fallback(slow_path)]
async fn async_fallback(runs: &Runs, owned: String) -> Result<String, AppError> {
    drop(owned);
    Err(AppError::Down("primary"))
}

fn from_cache_too(_runs: &Runs, id: u64, error: AppError) -> Result<String, AppError> {
    from_cache(id, error)
}

#[tokio::test]
async fn a_sync_or_async_fallback_answers_for_a_failure() {
    let runs = Runs::new();
    assert_eq!(sync_fallback(&runs, 0).await, Ok("fresh".to_owned()));
    assert_eq!(
        sync_fallback(&runs, 5).await,
        Ok("cached 5 (down: db)".to_owned())
    );
    assert_eq!(
        async_fallback(&runs, "order".to_owned()).await,
        Ok("order from the slow path after down: primary".to_owned())
    );
    assert_eq!(runs.get(), 3);
}

fn is_outage(error: &AppError) -> bool {
    matches!(error, AppError::Policy(_))
}

fn stale(_id: u64, _error: AppError) -> Result<&'static str, AppError> {
    Ok("stale")
}

#[fallback(stale, fallback_if = is_outage)]
#[circuit_breaker(name = "fb-breaker", failure_threshold = 1)]
async fn guarded(id: u64) -> Result<&'static str, AppError> {
    let _ = id;
    Err(AppError::Down("service"))
}

#[tokio::test]
async fn fallback_if_limits_the_fallback_to_rejections() {
    // The service's own error is not an outage by `is_outage`: it goes up unchanged.
    assert_eq!(guarded(1).await, Err(AppError::Down("service")));
    // Now the breaker is open: the rejection is answered from the fallback.
    assert_eq!(guarded(1).await, Ok("stale"));
    // The registry counts both: one answered, one let through.
    let counters = registry()
        .fallback("rate_limit_and_fallback::guarded")
        .unwrap()
        .stats();
    assert_eq!((counters.answered, counters.passed), (1, 1));
    assert!(registry()
        .snapshot()
        .to_string()
        .contains("answered=1 passed=1"));
}

#[fallback(from_cache)]
#[timeout(ms = 100)]
async fn slow_with_fallback(id: u64) -> Result<String, AppError> {
    tokio::time::sleep(Duration::from_secs(1)).await;
    Ok(format!("fresh {id}"))
}

#[tokio::test(start_paused = true)]
async fn a_fallback_above_a_timeout_answers_for_the_timeout() {
    assert_eq!(
        slow_with_fallback(9).await,
        Ok(
            "cached 9 (timeout `rate_limit_and_fallback::slow_with_fallback` expired after 100ms)"
                .to_owned()
        )
    );
}

struct Catalog {
    default: &'static str,
}

impl Catalog {
    fn fallback_name(&self, _id: u64, _error: AppError) -> Result<&'static str, AppError> {
        Ok(self.default)
    }

    #[fallback(Self::fallback_name)]
    #[retry(max_attempts = 2, backoff = "none")]
    async fn name(&self, id: u64) -> Result<&'static str, AppError> {
        let _ = id;
        Err(AppError::Down("catalog"))
    }
}

#[tokio::test]
async fn a_method_falls_back_to_another_method() {
    let catalog = Catalog { default: "unknown" };
    assert_eq!(catalog.name(4).await, Ok("unknown"));
}
