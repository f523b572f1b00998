use crate::ConfigError;
use std::time::Duration;

use super::*;

fn budget(ratio: f64, floor: u32, window_secs: u64) -> RetryBudget {
    RetryBudget::builder("test")
        .ratio(ratio)
        .min_per_sec(floor)
        .window(Duration::from_secs(window_secs))
        .build()
        .unwrap()
}

fn withdrawals(budget: &RetryBudget, asks: u32) -> u32 {
    (0..asks).filter(|_| budget.try_withdraw()).count() as u32
}

#[tokio::test(start_paused = true)]
async fn a_fractional_ratio_is_exact() {
    // tower's TpsBudget truncates 1 / 0.3 to 3 calls a retry (0.333); here 10 calls give 3.
    let budget = budget(0.3, 0, 10);
    for _ in 0..10 {
        budget.deposit();
    }
    assert_eq!(withdrawals(&budget, 5), 3);
    // 0.3 × 7 calls = 2.1: two retries, not three.
    let budget = super::tests::budget(0.3, 0, 10);
    for _ in 0..7 {
        budget.deposit();
    }
    assert_eq!(withdrawals(&budget, 5), 2);
}

#[tokio::test(start_paused = true)]
async fn the_floor_lets_a_quiet_service_retry() {
    // 2 a second over 10 s: 20 retries with no calls at all.
    let budget = budget(0.0, 2, 10);
    assert_eq!(withdrawals(&budget, 25), 20);
    assert_eq!(budget.stats().refusals, 5);
}

#[tokio::test(start_paused = true)]
async fn deposits_and_withdrawals_expire_with_the_window() {
    let budget = budget(1.0, 0, 10);
    for _ in 0..4 {
        budget.deposit();
    }
    assert_eq!(withdrawals(&budget, 10), 4);
    // 9 s later the slot of the deposits is still in the window: nothing more.
    tokio::time::advance(Duration::from_secs(9)).await;
    assert_eq!(withdrawals(&budget, 1), 0);
    // At 10 s both the deposits and the withdrawals have left it.
    tokio::time::advance(Duration::from_secs(1)).await;
    assert_eq!(budget.stats().available, 0);
    budget.deposit();
    assert_eq!(withdrawals(&budget, 3), 1);
}

#[tokio::test(start_paused = true)]
async fn reset_empties_the_ledger_and_counters() {
    let budget = budget(1.0, 0, 10);
    budget.deposit();
    assert!(budget.try_withdraw());
    budget.reset();
    assert_eq!(budget.stats(), RetryBudgetStats::default());
    assert!(!budget.try_withdraw());
}

#[tokio::test(start_paused = true)]
async fn reconfigure_keeps_the_ledger_unless_the_window_changes() {
    let budget = budget(0.5, 0, 10);
    for _ in 0..4 {
        budget.deposit();
    }
    let changed = budget.reconfigure(RetryBudgetConfig {
        ratio: 1.0,
        ..budget.config()
    });
    assert_eq!(changed, ["ratio"]);
    assert_eq!(budget.stats().available, 4);
    let changed = budget.reconfigure(RetryBudgetConfig {
        window: Duration::from_secs(20),
        ..budget.config()
    });
    assert_eq!(changed, ["window"]);
    assert_eq!(budget.stats().available, 0);
}

#[test]
fn build_refuses_what_the_table_refuses() {
    let never = RetryBudget::builder("x").ratio(0.0).min_per_sec(0).build();
    assert!(matches!(
        never,
        Err(ConfigError::OutOfRange { key: "ratio", .. })
    ));
    let negative = RetryBudget::builder("x").ratio(-1.0).build();
    assert!(matches!(
        negative,
        Err(ConfigError::OutOfRange { key: "ratio", .. })
    ));
    let zero_window = RetryBudget::builder("x").window(Duration::ZERO).build();
    assert!(matches!(
        zero_window,
        Err(ConfigError::OutOfRange { key: "window", .. })
    ));
    let blank = RetryBudget::builder(" ").build();
    assert!(matches!(
        blank,
        Err(ConfigError::OutOfRange { key: "name", .. })
    ));
}

#[test]
fn threads_depositing_and_withdrawing_at_once_lose_nothing_and_overspend_nothing() {
    // A minute's window on the real clock: the test ends long before anything expires.
    let budget = std::sync::Arc::new(budget(0.5, 0, 60));
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let budget = std::sync::Arc::clone(&budget);
            std::thread::spawn(move || {
                for _ in 0..1000 {
                    budget.deposit();
                }
                (0..1000).filter(|_| budget.try_withdraw()).count()
            })
        })
        .collect();
    let withdrawn: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
    let stats = budget.stats();
    assert_eq!(stats.deposits, 4000);
    // Half the calls, at most; and once every deposit is in, the rest is there to take.
    assert!(withdrawn <= 2000, "{withdrawn}");
    let rest = withdrawals(&budget, 4000) as usize;
    assert_eq!(withdrawn + rest, 2000);
    assert_eq!(stats.withdrawals as usize, withdrawn);
}
