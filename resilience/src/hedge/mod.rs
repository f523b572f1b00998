//! Hedging: when a call is slow, start another attempt beside it and take the first success
//! (OPERATIONS.md §7; the peers are Polly's hedging and failsafe-go's `hedgepolicy`).

mod run;
#[cfg(test)]
mod tests;

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use resilience_settings::hedge::HedgeSettings;

use crate::events::{emit, Event};
use crate::registry::PolicyKind;
use crate::{ConfigError, RetryBudget};

/// A hedging policy: if a call has not finished `delay` after its last attempt started, start
/// another attempt beside it, up to `max_hedged` extra ones. The first success wins and the
/// other attempts are dropped at once; if every attempt fails, the call ends with the first
/// attempt's (the primary's) error, once the last one has failed.
///
/// A hedge is not a retry: an attempt that fails does not start another one (stack a
/// `#[retry]` above the hedge for that). Every extra attempt draws on the hedge's
/// [`RetryBudget`], if it names one, and each call deposits in it; a refusal stops the hedging
/// of that call (the attempts running go on) and is reported as
/// [`Event::RetryBudgetExhausted`]. Once the program is shutting down
/// ([`Registry::shutdown`](crate::Registry::shutdown)), no new attempt starts; those running
/// finish.
///
/// ```
/// use resilience::Hedge;
/// use std::time::Duration;
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let hedge = Hedge::builder("doc-hedge").delay(Duration::from_millis(50)).build().unwrap();
/// let mut attempt = 0;
/// let started = tokio::time::Instant::now();
/// let answer: Result<&str, String> = hedge
///     .call(|| {
///         attempt += 1;
///         // The first attempt is stuck for a second; the hedge answers in 10ms.
///         let wait = if attempt == 1 { 1000 } else { 10 };
///         async move {
///             tokio::time::sleep(Duration::from_millis(wait)).await;
///             Ok(if wait == 10 { "hedge" } else { "primary" })
///         }
///     })
///     .await;
/// assert_eq!(answer, Ok("hedge"));
/// assert_eq!(started.elapsed(), Duration::from_millis(60));
/// assert_eq!(hedge.stats().hedge_wins, 1);
/// # }
/// ```
pub struct Hedge {
    name: Arc<str>,
    config: HedgeConfig,
    budget: Option<Arc<RetryBudget>>,
    calls: AtomicU64,
    hedged: AtomicU64,
    hedge_wins: AtomicU64,
    refused: AtomicU64,
}

/// The settings of a [`Hedge`].
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct HedgeConfig {
    /// How long the latest attempt runs alone before the next starts.
    pub delay: Duration,
    /// Extra attempts at most, beside the first.
    pub max_hedged: u32,
    /// The retry budget extra attempts draw on.
    pub budget: Option<String>,
}

impl fmt::Display for HedgeConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "delay={:?} max_hedged={}", self.delay, self.max_hedged)?;
        if let Some(budget) = &self.budget {
            write!(f, " budget={budget}")?;
        }
        Ok(())
    }
}

/// Counters of a [`Hedge`] since it was built or last reset.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct HedgeStats {
    /// Calls begun.
    pub calls: u64,
    /// Extra attempts started.
    pub hedged: u64,
    /// Calls whose success came from an extra attempt.
    pub hedge_wins: u64,
    /// Extra attempts the budget refused.
    pub refused: u64,
}

/// Settings for a [`Hedge`]: `delay` (default 50ms), `max_hedged` (default 1), `budget`.
#[derive(Debug, Clone, PartialEq)]
#[must_use]
pub struct HedgeBuilder {
    name: Arc<str>,
    settings: HedgeSettings,
    budget: Option<Arc<str>>,
}

impl HedgeBuilder {
    /// How long the latest attempt runs alone before the next starts (zero starts every
    /// attempt at once).
    pub fn delay(mut self, delay: Duration) -> Self {
        self.settings.delay = Some(delay);
        self
    }

    /// Extra attempts at most, beside the first; at least 1.
    pub fn max_hedged(mut self, max_hedged: u32) -> Self {
        self.settings.max_hedged = Some(max_hedged);
        self
    }

    /// The retry budget extra attempts draw on, by name (the defaults if never defined).
    pub fn budget(mut self, budget: impl Into<Arc<str>>) -> Self {
        self.budget = Some(budget.into());
        self
    }

    /// The hedge, or the first setting the shared table refuses. A budget is resolved in the
    /// [`registry`](crate::registry) now.
    ///
    /// # Errors
    ///
    /// [`ConfigError::OutOfRange`] for a blank name or budget name, or `max_hedged = 0`.
    pub fn build(self) -> Result<Hedge, ConfigError> {
        ConfigError::check_name(&self.name)?;
        self.settings.check().map_err(ConfigError::from_problem)?;
        if let Some(budget) = &self.budget {
            ConfigError::check_name(budget)?;
        }
        use resilience_settings::hedge as defaults;
        let config = HedgeConfig {
            delay: self.settings.delay.unwrap_or(defaults::DEFAULT_DELAY),
            max_hedged: self
                .settings
                .max_hedged
                .unwrap_or(defaults::DEFAULT_MAX_HEDGED),
            budget: self.budget.as_deref().map(str::to_owned),
        };
        let budget = config
            .budget
            .as_deref()
            .map(|name| crate::registry().retry_budget_named(name));
        Ok(Hedge {
            name: self.name,
            config,
            budget,
            calls: AtomicU64::new(0),
            hedged: AtomicU64::new(0),
            hedge_wins: AtomicU64::new(0),
            refused: AtomicU64::new(0),
        })
    }
}

impl Hedge {
    /// A builder for a hedge named `name`.
    pub fn builder(name: impl Into<Arc<str>>) -> HedgeBuilder {
        HedgeBuilder {
            name: name.into(),
            settings: HedgeSettings::default(),
            budget: None,
        }
    }

    /// The hedge's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The settings.
    pub fn config(&self) -> &HedgeConfig {
        &self.config
    }

    /// What the hedge has done.
    pub fn stats(&self) -> HedgeStats {
        HedgeStats {
            calls: self.calls.load(Relaxed),
            hedged: self.hedged.load(Relaxed),
            hedge_wins: self.hedge_wins.load(Relaxed),
            refused: self.refused.load(Relaxed),
        }
    }

    /// Sets the counters back to zero.
    pub fn reset(&self) {
        for counter in [&self.calls, &self.hedged, &self.hedge_wins, &self.refused] {
            counter.store(0, Relaxed);
        }
    }

    /// Runs `operation` (called once per attempt) hedged: see the type's docs.
    pub async fn call<T, E, F, Fut>(&self, operation: F) -> Result<T, E>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        run::hedged(self, operation).await
    }

    /// Counts a call and deposits in the budget.
    fn begin(&self) {
        self.calls.fetch_add(1, Relaxed);
        if let Some(budget) = &self.budget {
            budget.deposit();
        }
    }

    /// Whether attempt `attempt` (from 2) may start: the budget's say, counted and reported.
    fn may_hedge(&self, attempt: u32) -> bool {
        if let Some(budget) = &self.budget {
            if !budget.try_withdraw() {
                self.refused.fetch_add(1, Relaxed);
                emit(|| Event::RetryBudgetExhausted {
                    name: Arc::clone(budget.name_arc()),
                    policy_kind: PolicyKind::Hedge,
                    policy: Arc::clone(&self.name),
                });
                return false;
            }
        }
        self.hedged.fetch_add(1, Relaxed);
        emit(|| Event::Hedged {
            name: Arc::clone(&self.name),
            attempt,
        });
        true
    }

    fn won_by_hedge(&self) {
        self.hedge_wins.fetch_add(1, Relaxed);
    }
}

impl fmt::Debug for Hedge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hedge")
            .field("name", &self.name)
            .field("config", &self.config)
            .field("stats", &self.stats())
            .finish()
    }
}

impl HedgeBuilder {
    /// The name the hedge is registered under.
    pub(crate) fn name_ref(&self) -> &Arc<str> {
        &self.name
    }

    /// The hedge with the defaults and no budget, for a site whose settings were refused.
    pub(crate) fn build_unchecked(self) -> Hedge {
        Hedge {
            name: self.name,
            config: HedgeConfig {
                delay: resilience_settings::hedge::DEFAULT_DELAY,
                max_hedged: resilience_settings::hedge::DEFAULT_MAX_HEDGED,
                budget: None,
            },
            budget: None,
            calls: AtomicU64::new(0),
            hedged: AtomicU64::new(0),
            hedge_wins: AtomicU64::new(0),
            refused: AtomicU64::new(0),
        }
    }
}
