//! What a retry budget has counted.

/// Counters of a [`RetryBudget`](crate::RetryBudget) since it was built or last reset, and
/// what it allows now.
///
/// ```
/// use resilience::RetryBudget;
/// use std::time::Duration;
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let budget = RetryBudget::builder("doc-budget-stats").ratio(0.5).min_per_sec(0).build().unwrap();
/// budget.deposit();
/// budget.deposit();
/// assert!(budget.try_withdraw());
/// assert!(!budget.try_withdraw());
/// let stats = budget.stats();
/// assert_eq!((stats.deposits, stats.withdrawals, stats.refusals, stats.available), (2, 1, 1, 0));
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct RetryBudgetStats {
    /// Calls that deposited (every call of a retry or hedge naming the budget).
    pub deposits: u64,
    /// Retries (and hedged attempts) the budget allowed.
    pub withdrawals: u64,
    /// Retries (and hedged attempts) the budget refused.
    pub refusals: u64,
    /// Whole retries the budget would allow now.
    pub available: u64,
}
