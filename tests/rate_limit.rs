//! `RateLimiter` as a user drives it without macros: with a retry above it, in the registry,
//! and under tasks on many threads.

mod common;

use std::ops::ControlFlow;
use std::sync::Arc;
use std::time::Duration;

use common::{AppError, Runs};
use resilience::{registry, Error, Failure, PolicyKind, PolicyStats, RateLimiter, Retry};
use tokio::time::Instant;

/// The stack `#[retry] #[rate_limit]` expands to: a retry loop around the limiter's layer.
async fn retry_through_limiter(
    retry: &Retry,
    limiter: &RateLimiter,
    runs: &Runs,
) -> Result<u32, Failure<AppError>> {
    let mut run = retry.begin();
    loop {
        let result = limiter.run(async { Ok(runs.tick()) }).await;
        match run
            .after_attempt(result, Failure::as_ref, |_| true, |_| {})
            .await
        {
            ControlFlow::Break(result) => return result,
            ControlFlow::Continue(()) => {}
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_retry_above_a_limiter_waits_retry_after_when_it_is_longer_than_its_own_delay() {
    let limiter = RateLimiter::new("it-rl-retry", 1, Duration::from_secs(1)).expect("valid");
    let retry = Retry::builder("it-rl-retry")
        .max_attempts(3)
        .fixed(Duration::from_millis(10))
        .build()
        .expect("valid");
    let runs = Runs::new();
    assert_eq!(retry_through_limiter(&retry, &limiter, &runs).await, Ok(1));

    // The bucket is empty: the first attempt is rejected with retry_after = 1 s, and the retry
    // sleeps that long instead of its 10 ms, so the second attempt gets the next cell.
    let start = Instant::now();
    assert_eq!(retry_through_limiter(&retry, &limiter, &runs).await, Ok(2));
    assert_eq!(start.elapsed(), Duration::from_secs(1));
    assert_eq!(runs.get(), 2);
    let stats = limiter.stats();
    assert_eq!((stats.permitted, stats.rejected), (2, 1));
    assert_eq!(retry.stats().successes_after_retry, 1);
}

#[tokio::test(start_paused = true)]
async fn a_retry_whose_own_delay_is_longer_keeps_it() {
    let limiter = RateLimiter::new("it-rl-retry-long", 1, Duration::from_secs(1)).expect("valid");
    let retry = Retry::builder("it-rl-retry-long")
        .max_attempts(2)
        .fixed(Duration::from_secs(3))
        .build()
        .expect("valid");
    let runs = Runs::new();
    assert!(limiter.try_acquire().is_ok());
    let start = Instant::now();
    assert_eq!(retry_through_limiter(&retry, &limiter, &runs).await, Ok(1));
    assert_eq!(start.elapsed(), Duration::from_secs(3));
}

#[tokio::test(start_paused = true)]
async fn a_rejection_reaches_the_callers_error_type() {
    let limiter = RateLimiter::new("it-rl-error", 2, Duration::from_secs(1)).expect("valid");
    let runs = Runs::new();
    for expected in 1..=2 {
        let served = limiter.call(async { Ok::<_, AppError>(runs.tick()) }).await;
        assert_eq!(served, Ok(expected));
    }
    let rejected = limiter.call(async { Ok::<_, AppError>(runs.tick()) }).await;
    match rejected {
        Err(AppError::Policy(error)) => {
            assert_eq!((error.code(), error.http_status()), ("RATE_LIMITED", 429));
            assert_eq!(error.policy_name(), "it-rl-error");
            assert_eq!(error.retry_after(), Some(Duration::from_millis(500)));
        }
        other => panic!("expected a rate limit, got {other:?}"),
    }
    assert_eq!(runs.get(), 2, "a rejected call does not run");
    // `std::io::Result` needs no code.
    let io: std::io::Result<()> = limiter.call(async { Ok(()) }).await;
    assert_eq!(io.map_err(|e| e.kind()), Err(std::io::ErrorKind::Other));
}

#[tokio::test(start_paused = true)]
async fn the_registry_shares_shows_and_resets_a_limiter() {
    let limiter = registry()
        .rate_limiter_or_register(RateLimiter::builder("it-rl-registry").rate(10).burst(4))
        .expect("valid");
    // A second site naming the same limiter shares it; different settings are a conflict.
    let same = registry()
        .rate_limiter_or_register(RateLimiter::builder("it-rl-registry").rate(20))
        .expect("valid");
    assert!(Arc::ptr_eq(&limiter, &same));
    assert!(Arc::ptr_eq(
        &limiter,
        &registry()
            .rate_limiter("it-rl-registry")
            .expect("registered")
    ));
    for _ in 0..5 {
        let _ = limiter.try_acquire();
    }

    let row = registry()
        .policies()
        .into_iter()
        .find(|p| p.name() == "it-rl-registry")
        .expect("a row");
    assert_eq!(row.kind(), PolicyKind::RateLimiter);
    assert_eq!(row.kind().as_str(), "rate_limiter");
    assert_eq!(row.config(), "rate=10/1s burst=4");
    assert_eq!(row.conflicts(), ["rate"]);
    match row.stats() {
        PolicyStats::RateLimiter(stats) => {
            assert_eq!(
                (stats.permitted, stats.rejected, stats.available),
                (4, 1, 0)
            );
        }
        other => panic!("expected rate limiter stats, got {other:?}"),
    }
    let table = registry().snapshot().to_string();
    let line = table
        .lines()
        .find(|line| line.contains("it-rl-registry"))
        .expect("a line");
    assert!(line.starts_with("rate_limiter"), "{line}");
    assert!(line.contains("0/4 free"), "{line}");
    assert!(
        line.contains("permitted=4 waited=0 rejected=1 CONFLICT(rate)"),
        "{line}"
    );

    // A reset fills the bucket and zeroes the counters.
    assert!(registry().reset("it-rl-registry"));
    let stats = limiter.stats();
    assert_eq!(
        (stats.permitted, stats.rejected, stats.available),
        (0, 0, 4)
    );
}

#[test]
fn registering_invalid_settings_fails() {
    let err = registry()
        .rate_limiter_or_register(RateLimiter::builder("it-rl-invalid").rate(0))
        .expect_err("rate 0 is invalid");
    assert!(matches!(
        err,
        resilience::ConfigError::OutOfRange { key: "rate", .. }
    ));
    assert!(registry().rate_limiter("it-rl-invalid").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_from_many_threads_never_exceed_the_burst_plus_the_rate_over_the_elapsed_time() {
    // 1000 per second (one cell a millisecond), 10 at once; 16 tasks call as fast as they can.
    // Between a clock reading before the limiter was built and one after the last call, at
    // most burst + elapsed / interval calls can have run.
    let start = Instant::now();
    let limiter = Arc::new(
        RateLimiter::builder("it-rl-threads")
            .rate(1_000)
            .burst(10)
            .build()
            .expect("valid"),
    );
    let runs = Arc::new(Runs::new());
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let limiter = Arc::clone(&limiter);
            let runs = Arc::clone(&runs);
            tokio::spawn(async move {
                for _ in 0..1_000 {
                    let _ = limiter.call(async { Ok::<_, Error>(runs.tick()) }).await;
                    tokio::task::yield_now().await;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("no panic");
    }
    let elapsed = start.elapsed();
    let ran = u64::from(runs.get());
    let allowed = 10 + (elapsed.as_nanos() / Duration::from_millis(1).as_nanos()) as u64;
    assert!(ran <= allowed, "{ran} calls ran in {elapsed:?}");
    assert!(ran >= 10, "the burst passes at once");
    let stats = limiter.stats();
    assert_eq!(stats.permitted, ran);
    assert_eq!(stats.permitted + stats.rejected, 16 * 1_000);
}
