//! The settings a retry policy runs with.

use std::fmt;
use std::time::Duration;

use resilience_settings::retry::{self as settings, BackoffStrategy};

use super::{Backoff, Jitter, RetryOn};

/// The settings of a [`Retry`](crate::Retry), as built by [`RetryBuilder`](crate::RetryBuilder).
///
/// ```
/// use resilience::{Backoff, Jitter, RetryConfig};
/// use std::time::Duration;
///
/// let config = RetryConfig::default();
/// assert_eq!(config.max_attempts, 3);
/// assert_eq!(config.backoff, Backoff::Exponential { base: Duration::from_millis(100), factor: 2.0 });
/// assert_eq!(config.max_delay, Duration::from_secs(30));
/// assert_eq!(config.jitter, Jitter::None);
/// assert_eq!(config.max_elapsed, None);
/// assert_eq!(config.to_string(), "max_attempts=3 backoff=exponential(100ms, x2) max_delay=30s");
/// ```
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct RetryConfig {
    /// Attempts in all, the first included; at least 1.
    pub max_attempts: u32,
    /// The delay before each retry.
    pub backoff: Backoff,
    /// The cap on any one delay, applied after the backoff and after proportional jitter.
    pub max_delay: Duration,
    /// The randomness added to each delay.
    pub jitter: Jitter,
    /// Give up when the next sleep would take the time since the first attempt began past
    /// this.
    pub max_elapsed: Option<Duration>,
    /// Which rejections of the policies below are retried.
    pub retry_on: RetryOn,
    /// The [`RetryBudget`](crate::RetryBudget) each retry draws on, by name.
    pub budget: Option<String>,
}

impl RetryConfig {
    // The defaults live in the table the `#[retry]` attribute reads too.
    pub(crate) const DEFAULT_MAX_ATTEMPTS: u32 = resilience_settings::retry::DEFAULT_MAX_ATTEMPTS;
    pub(crate) const DEFAULT_MAX_DELAY: Duration = resilience_settings::retry::DEFAULT_MAX_DELAY;
}

impl RetryConfig {
    /// The keys, spelled as in `#[retry]`, whose values differ in `other`. A backoff is compared
    /// key by key as the attribute spells it: `backoff` for the strategy, `delay`, `factor`,
    /// `delays` and `backoff_fn` for its parameters, each reported when its value changed or it
    /// was set on one side only.
    pub(crate) fn changed_keys(&self, other: &RetryConfig) -> Vec<&'static str> {
        let (mine, theirs) = (
            BackoffKeys::of(&self.backoff),
            BackoffKeys::of(&other.backoff),
        );
        let differs = [
            (
                settings::MAX_ATTEMPTS,
                self.max_attempts != other.max_attempts,
            ),
            (settings::BACKOFF, mine.strategy != theirs.strategy),
            (settings::DELAY, mine.delay != theirs.delay),
            (settings::FACTOR, mine.factor != theirs.factor),
            (settings::MAX_DELAY, self.max_delay != other.max_delay),
            (settings::DELAYS, mine.delays != theirs.delays),
            (settings::BACKOFF_FN, mine.function != theirs.function),
            (settings::JITTER, self.jitter != other.jitter),
            (settings::MAX_ELAPSED, self.max_elapsed != other.max_elapsed),
            (settings::RETRY_ON, self.retry_on != other.retry_on),
            (settings::BUDGET, self.budget != other.budget),
        ];
        differs
            .into_iter()
            .filter(|(_, differs)| *differs)
            .map(|(key, _)| key.setting)
            .collect()
    }
}

/// A [`Backoff`] as the attribute's keys describe it.
struct BackoffKeys<'a> {
    strategy: Option<BackoffStrategy>,
    delay: Option<Duration>,
    factor: Option<f64>,
    delays: Option<&'a [Duration]>,
    /// Compared by address, as [`Backoff`]'s `PartialEq` does.
    function: Option<usize>,
}

impl<'a> BackoffKeys<'a> {
    fn of(backoff: &'a Backoff) -> Self {
        let keys = BackoffKeys {
            strategy: None,
            delay: None,
            factor: None,
            delays: None,
            function: None,
        };
        match backoff {
            Backoff::None => BackoffKeys {
                strategy: Some(BackoffStrategy::None),
                ..keys
            },
            Backoff::Fixed(delay) => BackoffKeys {
                strategy: Some(BackoffStrategy::Fixed),
                delay: Some(*delay),
                ..keys
            },
            Backoff::Linear(base) => BackoffKeys {
                strategy: Some(BackoffStrategy::Linear),
                delay: Some(*base),
                ..keys
            },
            Backoff::Exponential { base, factor } => BackoffKeys {
                strategy: Some(BackoffStrategy::Exponential),
                delay: Some(*base),
                factor: Some(*factor),
                ..keys
            },
            Backoff::Schedule(delays) => BackoffKeys {
                delays: Some(delays),
                ..keys
            },
            Backoff::Custom(function) => BackoffKeys {
                function: Some(*function as usize),
                ..keys
            },
        }
    }
}

impl Default for RetryConfig {
    /// Three attempts, exponential backoff from 100ms doubling, capped at 30s, no jitter, no
    /// `max_elapsed`: what a bare `#[retry]` does.
    fn default() -> Self {
        RetryConfig {
            max_attempts: Self::DEFAULT_MAX_ATTEMPTS,
            backoff: Backoff::default(),
            max_delay: Self::DEFAULT_MAX_DELAY,
            jitter: Jitter::None,
            max_elapsed: None,
            retry_on: RetryOn::default(),
            budget: None,
        }
    }
}

/// One line for the registry's table, in the attribute's keys; `jitter`, `max_elapsed` and
/// `retry_on` appear only when they differ from the defaults.
impl fmt::Display for RetryConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "max_attempts={} backoff={} max_delay={:?}",
            self.max_attempts, self.backoff, self.max_delay
        )?;
        if self.jitter != Jitter::None {
            write!(f, " jitter={}", self.jitter)?;
        }
        if let Some(max_elapsed) = self.max_elapsed {
            write!(f, " max_elapsed={max_elapsed:?}")?;
        }
        if self.retry_on != RetryOn::default() {
            write!(f, " retry_on={}", self.retry_on)?;
        }
        if let Some(budget) = &self.budget {
            write!(f, " budget={budget}")?;
        }
        Ok(())
    }
}
