//! Retry budgets: a cap, shared by name, on the retries a group of call sites makes, as a share
//! of their calls (OPERATIONS.md §7; the peers are tower's `TpsBudget` and Finagle's
//! `RetryBudget`).
//!
//! Each call through a retry or hedge naming the budget deposits; each retry (or hedged
//! attempt) withdraws. Over the last `window` (default 10 s), retries may be at most `ratio`
//! (default 0.2) of the calls, plus a floor of `min_per_sec` (default 10) per second, so a quiet
//! service can still retry. An empty budget ends a retry with its last error and
//! [`Event::RetryBudgetExhausted`](crate::Event::RetryBudgetExhausted). See `ledger.rs` for the
//! arithmetic, which is exact to a millionth of a retry.

mod builder;
mod ledger;
mod stats;
#[cfg(test)]
mod tests;

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

pub use builder::RetryBudgetBuilder;
pub use stats::RetryBudgetStats;

use ledger::{Ledger, Rates};

/// A retry budget: how many retries a group of call sites may make, as a share of its calls.
///
/// Get one by name from the registry
/// ([`retry_budget_or_register`](crate::Registry::retry_budget_or_register),
/// [`retry_budget`](crate::Registry::retry_budget)); `#[retry(budget = "api")]` and
/// `#[hedge(budget = "api")]` use the one of that name, with the defaults if nothing defined it.
///
/// ```
/// use resilience::RetryBudget;
/// use std::time::Duration;
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// // One retry per ten calls over a minute, and no floor.
/// let budget = RetryBudget::builder("doc-budget")
///     .ratio(0.1)
///     .min_per_sec(0)
///     .window(Duration::from_secs(60))
///     .build()
///     .unwrap();
/// for _ in 0..20 {
///     budget.deposit();
/// }
/// assert!(budget.try_withdraw());
/// assert!(budget.try_withdraw());
/// assert!(!budget.try_withdraw()); // 2 retries for 20 calls: spent
///
/// // A minute later the calls no longer count.
/// tokio::time::advance(Duration::from_secs(60)).await;
/// budget.deposit();
/// assert!(!budget.try_withdraw());
/// # }
/// ```
pub struct RetryBudget {
    name: Arc<str>,
    /// What the ledger's time counts from.
    origin: Instant,
    book: Mutex<Book>,
    /// The slots' counts, outside the lock: a deposit takes none.
    ledger: Ledger,
    /// A slot's length in nanoseconds, for a deposit to date itself without the lock.
    slot_nanos: AtomicU64,
    deposits: AtomicU64,
    withdrawals: AtomicU64,
    refusals: AtomicU64,
}

/// The settings, under the lock a withdrawal decides under.
#[derive(Debug)]
struct Book {
    config: RetryBudgetConfig,
    rates: Rates,
}

/// The settings of a [`RetryBudget`].
///
/// ```
/// use resilience::RetryBudgetConfig;
/// use std::time::Duration;
///
/// let config = RetryBudgetConfig::default();
/// assert_eq!((config.ratio, config.min_per_sec, config.window), (0.2, 10, Duration::from_secs(10)));
/// assert_eq!(config.to_string(), "ratio=0.2 min_per_sec=10 window=10s");
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct RetryBudgetConfig {
    /// Retries allowed per call over the window, beside the floor; 0 ≤ ratio ≤ 1000.
    pub ratio: f64,
    /// Retries allowed per second whatever the traffic.
    pub min_per_sec: u32,
    /// How long a deposit and a withdrawal count.
    pub window: Duration,
}

impl Default for RetryBudgetConfig {
    fn default() -> Self {
        use resilience_settings::retry_budget as defaults;
        RetryBudgetConfig {
            ratio: defaults::DEFAULT_RATIO,
            min_per_sec: defaults::DEFAULT_MIN_PER_SEC,
            window: defaults::DEFAULT_WINDOW,
        }
    }
}

impl fmt::Display for RetryBudgetConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ratio={} min_per_sec={} window={:?}",
            self.ratio, self.min_per_sec, self.window
        )
    }
}

impl RetryBudgetConfig {
    fn rates(&self) -> Rates {
        Rates::new(self.ratio, self.min_per_sec, self.window)
    }

    /// The keys whose values differ in `other`.
    pub(crate) fn changed_keys(&self, other: &RetryBudgetConfig) -> Vec<&'static str> {
        let mut changed = Vec::new();
        if self.ratio != other.ratio {
            changed.push("ratio");
        }
        if self.min_per_sec != other.min_per_sec {
            changed.push("min_per_sec");
        }
        if self.window != other.window {
            changed.push("window");
        }
        changed
    }
}

impl RetryBudget {
    /// A builder for a budget named `name`.
    pub fn builder(name: impl Into<Arc<str>>) -> RetryBudgetBuilder {
        RetryBudgetBuilder::new(name.into())
    }

    fn new(name: Arc<str>, config: RetryBudgetConfig) -> Self {
        let rates = config.rates();
        RetryBudget {
            name,
            origin: Instant::now(),
            book: Mutex::new(Book { config, rates }),
            ledger: Ledger::default(),
            slot_nanos: AtomicU64::new(slot_nanos(&rates)),
            deposits: AtomicU64::new(0),
            withdrawals: AtomicU64::new(0),
            refusals: AtomicU64::new(0),
        }
    }

    /// The budget's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The budget's name, shared.
    pub fn name_arc(&self) -> &Arc<str> {
        &self.name
    }

    /// The settings in force.
    pub fn config(&self) -> RetryBudgetConfig {
        self.book().config
    }

    fn book(&self) -> std::sync::MutexGuard<'_, Book> {
        // Nothing panics under the lock: a poisoned lock still guards a whole ledger.
        self.book.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Nanoseconds since the origin, now.
    fn now(&self) -> u128 {
        Instant::now()
            .saturating_duration_since(self.origin)
            .as_nanos()
    }

    /// Counts a call: what a retry or hedge naming the budget does as each call begins. A
    /// clock read and two atomic adds; no lock but once per slot (a tenth of the window).
    pub fn deposit(&self) {
        let slot_nanos = u128::from(self.slot_nanos.load(Relaxed).max(1));
        let slot = u64::try_from(self.now() / slot_nanos).unwrap_or(u64::MAX);
        self.ledger.deposit(slot);
        self.deposits.fetch_add(1, Relaxed);
    }

    /// Takes one retry from the budget if it has one: `true` when the retry may go ahead,
    /// `false` (counted as a refusal) when the budget is spent.
    pub fn try_withdraw(&self) -> bool {
        let now = self.now();
        let allowed = {
            let book = self.book();
            self.ledger.withdraw(&book.rates, book.rates.slot(now))
        };
        let counter = if allowed {
            &self.withdrawals
        } else {
            &self.refusals
        };
        counter.fetch_add(1, Relaxed);
        allowed
    }

    /// What the budget has counted, and the whole retries it allows now.
    pub fn stats(&self) -> RetryBudgetStats {
        let now = self.now();
        let available = {
            let book = self.book();
            self.ledger.available(&book.rates, book.rates.slot(now))
        };
        RetryBudgetStats {
            deposits: self.deposits.load(Relaxed),
            withdrawals: self.withdrawals.load(Relaxed),
            refusals: self.refusals.load(Relaxed),
            available,
        }
    }

    /// Empties the ledger and sets the counters back to zero.
    pub fn reset(&self) {
        {
            let _book = self.book();
            self.ledger.clear();
        }
        for counter in [&self.deposits, &self.withdrawals, &self.refusals] {
            counter.store(0, Relaxed);
        }
    }

    /// Takes `config` in place of the settings in force and returns the keys that changed. The
    /// ledger is kept unless the window changed, whose slots it counts in.
    pub(crate) fn reconfigure(&self, config: RetryBudgetConfig) -> Vec<&'static str> {
        let mut book = self.book();
        let changed = book.config.changed_keys(&config);
        if changed.contains(&"window") {
            self.ledger.clear();
        }
        book.rates = config.rates();
        self.slot_nanos.store(slot_nanos(&book.rates), Relaxed);
        book.config = config;
        changed
    }
}

impl fmt::Debug for RetryBudget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryBudget")
            .field("name", &self.name)
            .field("config", &self.config())
            .field("stats", &self.stats())
            .finish()
    }
}

/// A slot's length as the deposits read it (a window over 584 years in tenths saturates).
fn slot_nanos(rates: &Rates) -> u64 {
    u64::try_from(rates.slot_nanos).unwrap_or(u64::MAX)
}

impl RetryBudget {
    /// A budget with the defaults, outside the registry.
    pub(crate) fn with_defaults(name: Arc<str>) -> Self {
        RetryBudget::new(name, RetryBudgetConfig::default())
    }
}
