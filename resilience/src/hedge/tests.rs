use std::cell::Cell;
use std::time::Duration;

use tokio::time::{sleep, Instant};

use super::*;

fn hedge(max_hedged: u32) -> Hedge {
    Hedge::builder("t")
        .delay(Duration::from_millis(50))
        .max_hedged(max_hedged)
        .build()
        .unwrap()
}

/// An operation whose attempt `n` (from 1) waits `waits[n - 1]` ms and answers `answers[n - 1]`.
async fn run(hedge: &Hedge, waits: &[u64], answers: &[Result<u32, u32>]) -> Result<u32, u32> {
    let attempt = Cell::new(0usize);
    hedge
        .call(|| {
            let n = attempt.get();
            attempt.set(n + 1);
            let (wait, answer) = (waits[n], answers[n]);
            async move {
                sleep(Duration::from_millis(wait)).await;
                answer
            }
        })
        .await
}

#[tokio::test(start_paused = true)]
async fn a_fast_call_is_never_hedged() {
    let hedge = hedge(2);
    let started = Instant::now();
    assert_eq!(run(&hedge, &[10], &[Ok(1)]).await, Ok(1));
    assert_eq!(started.elapsed(), Duration::from_millis(10));
    assert_eq!(
        hedge.stats(),
        HedgeStats {
            calls: 1,
            ..HedgeStats::default()
        }
    );
}

#[tokio::test(start_paused = true)]
async fn the_first_success_wins_and_the_others_are_dropped() {
    let hedge = hedge(2);
    let dropped = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    struct Flag(std::sync::Arc<std::sync::atomic::AtomicBool>);
    impl Drop for Flag {
        fn drop(&mut self) {
            self.0.store(true, std::sync::atomic::Ordering::SeqCst);
        }
    }
    let attempt = Cell::new(0u64);
    let started = Instant::now();
    let result: Result<u64, ()> = hedge
        .call(|| {
            attempt.set(attempt.get() + 1);
            let n = attempt.get();
            let flag = (n == 1).then(|| Flag(dropped.clone()));
            async move {
                let _flag = flag;
                // The primary hangs; the first hedge (started at 50ms) answers at 70ms.
                sleep(Duration::from_millis(if n == 1 { 10_000 } else { 20 })).await;
                Ok(n)
            }
        })
        .await;
    assert_eq!(result, Ok(2));
    assert_eq!(started.elapsed(), Duration::from_millis(70));
    assert!(
        dropped.load(std::sync::atomic::Ordering::SeqCst),
        "the primary is dropped at once"
    );
    let stats = hedge.stats();
    assert_eq!((stats.hedged, stats.hedge_wins), (1, 1));
}

#[tokio::test(start_paused = true)]
async fn all_failed_returns_the_primarys_error() {
    let hedge = hedge(2);
    let started = Instant::now();
    // Attempts start at 0, 50 and 100 ms and fail at 120, 60 and 110 ms.
    let result = run(&hedge, &[120, 10, 10], &[Err(1), Err(2), Err(3)]).await;
    assert_eq!(result, Err(1));
    assert_eq!(started.elapsed(), Duration::from_millis(120));
    assert_eq!(hedge.stats().hedged, 2);
}

#[tokio::test(start_paused = true)]
async fn a_failed_primary_starts_no_attempt_of_its_own() {
    let hedge = hedge(1);
    // The primary fails at 10ms, before the delay: the call ends with its error.
    assert_eq!(run(&hedge, &[10], &[Err(7)]).await, Err(7));
    assert_eq!(hedge.stats().hedged, 0);
}

#[tokio::test(start_paused = true)]
async fn max_hedged_bounds_the_extra_attempts() {
    let hedge = hedge(1);
    let started = Instant::now();
    // The primary answers at 300ms; one hedge only (at 50ms), which also hangs.
    let result = run(&hedge, &[300, 1000, 0], &[Ok(1), Ok(2), Ok(3)]).await;
    assert_eq!(result, Ok(1));
    assert_eq!(started.elapsed(), Duration::from_millis(300));
    assert_eq!(hedge.stats().hedged, 1);
}

#[tokio::test(start_paused = true)]
async fn hedges_draw_on_the_budget() {
    let registry = crate::registry();
    let budget = registry
        .retry_budget_or_register(
            crate::RetryBudget::builder("hedge-test-budget")
                .ratio(0.0)
                .min_per_sec(1)
                .window(Duration::from_secs(1)),
        )
        .unwrap();
    let hedge = Hedge::builder("hedged")
        .delay(Duration::from_millis(50))
        .max_hedged(3)
        .budget("hedge-test-budget")
        .build()
        .unwrap();
    // A floor of one retry in the window: one hedge, then refused.
    let result = run(
        &hedge,
        &[500, 1000, 1000, 1000],
        &[Ok(1), Ok(2), Ok(3), Ok(4)],
    )
    .await;
    assert_eq!(result, Ok(1));
    let stats = hedge.stats();
    assert_eq!((stats.hedged, stats.refused), (1, 1));
    let budget_stats = budget.stats();
    assert_eq!(
        (
            budget_stats.deposits,
            budget_stats.withdrawals,
            budget_stats.refusals
        ),
        (1, 1, 1)
    );
}
