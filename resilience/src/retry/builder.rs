//! Building a retry policy, and telling which of its settings were given explicitly.

use std::sync::Arc;
use std::time::Duration;

use resilience_settings::retry::{BackoffStrategy, JitterStrategy, RetrySettings};

use super::{Backoff, Jitter, Retry, RetryConfig, RetryOn};
use crate::ConfigError;

/// Builds a [`Retry`]; start from [`Retry::builder`].
///
/// Setters never fail; [`build`](RetryBuilder::build) checks the values. The backoff setters
/// (`backoff`, `exponential`, `fixed`, `linear`, `no_backoff`, `delays`, `backoff_fn`) all set
/// the one backoff: the last call wins.
///
/// The builder remembers which settings were given, so that the registry can tell two sites
/// that configure one name differently ([`conflicts_with`](RetryBuilder::conflicts_with)) from
/// a site that leaves a setting at its default.
///
/// ```
/// use resilience::{ConfigError, Jitter, Retry};
/// use std::time::Duration;
///
/// let retry = Retry::builder("doc-builder")
///     .max_attempts(5)
///     .exponential(Duration::from_millis(50), 3.0)
///     .max_delay(Duration::from_secs(2))
///     .jitter(Jitter::Full)
///     .max_elapsed(Duration::from_secs(10))
///     .build()
///     .unwrap();
/// assert_eq!(retry.config().max_attempts, 5);
///
/// let err = Retry::builder("doc-builder").exponential(Duration::from_millis(50), 0.5).build();
/// assert!(matches!(err, Err(ConfigError::OutOfRange { key: "factor", .. })));
/// ```
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct RetryBuilder {
    name: Arc<str>,
    max_attempts: Option<u32>,
    backoff: Option<Backoff>,
    max_delay: Option<Duration>,
    jitter: Option<Jitter>,
    max_elapsed: Option<Duration>,
    retry_on: Option<RetryOn>,
    budget: Option<Arc<str>>,
}

impl RetryBuilder {
    pub(crate) fn new(name: Arc<str>) -> Self {
        RetryBuilder {
            name,
            max_attempts: None,
            backoff: None,
            max_delay: None,
            jitter: None,
            max_elapsed: None,
            retry_on: None,
            budget: None,
        }
    }

    /// The [`RetryBudget`](crate::RetryBudget) each retry draws on, by name: the registry's
    /// budget of that name, registered with the defaults if nothing defined it. Each call
    /// deposits in it; a retry it refuses ends the call with the last error.
    pub fn budget(mut self, budget: impl Into<Arc<str>>) -> Self {
        self.budget = Some(budget.into());
        self
    }

    /// The budget given, if any.
    pub(crate) fn given_budget(&self) -> Option<&Arc<str>> {
        self.budget.as_ref()
    }

    /// The registry name the policy is built with.
    pub fn name(&self) -> &Arc<str> {
        &self.name
    }

    /// Attempts in all, the first included; at least 1 (default 3).
    pub fn max_attempts(mut self, max_attempts: u32) -> Self {
        self.max_attempts = Some(max_attempts);
        self
    }

    /// Which rejections of the policies below are retried (default [`RetryOn::default()`]: a
    /// timeout, a full bulkhead, a rate limit); [`RetryOn::NONE`] retries none. The operation's
    /// own errors are `retry_if`'s to decide.
    pub fn retry_on(mut self, retry_on: RetryOn) -> Self {
        self.retry_on = Some(retry_on);
        self
    }

    /// The delay before each retry (default `Exponential { base: 100ms, factor: 2.0 }`).
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = Some(backoff);
        self
    }

    /// `base * factor^(n - 1)` before retry `n`; `factor` must be finite and greater than 1.
    pub fn exponential(self, base: Duration, factor: f64) -> Self {
        self.backoff(Backoff::Exponential { base, factor })
    }

    /// The same delay before every retry.
    pub fn fixed(self, delay: Duration) -> Self {
        self.backoff(Backoff::Fixed(delay))
    }

    /// `base * n` before retry `n`.
    pub fn linear(self, base: Duration) -> Self {
        self.backoff(Backoff::Linear(base))
    }

    /// Retry at once, with no delay.
    pub fn no_backoff(self) -> Self {
        self.backoff(Backoff::None)
    }

    /// Explicit delays, one per retry, the last repeating; must not be empty.
    pub fn delays(self, delays: Vec<Duration>) -> Self {
        self.backoff(Backoff::Schedule(delays))
    }

    /// `delay_for_retry(n)` before retry `n`, `n` counting retries from 1.
    pub fn backoff_fn(self, delay_for_retry: fn(u32) -> Duration) -> Self {
        self.backoff(Backoff::Custom(delay_for_retry))
    }

    /// The cap on any one delay (default 30s).
    pub fn max_delay(mut self, max_delay: Duration) -> Self {
        self.max_delay = Some(max_delay);
        self
    }

    /// The randomness added to each delay (default none).
    pub fn jitter(mut self, jitter: Jitter) -> Self {
        self.jitter = Some(jitter);
        self
    }

    /// Give up when the next sleep would take the time since the first attempt began past
    /// `max_elapsed` (default: no limit).
    pub fn max_elapsed(mut self, max_elapsed: Duration) -> Self {
        self.max_elapsed = Some(max_elapsed);
        self
    }

    /// The configuration this builder describes, defaults filled in, unchecked.
    fn config(&self) -> RetryConfig {
        let defaults = RetryConfig::default();
        RetryConfig {
            max_attempts: self.max_attempts.unwrap_or(defaults.max_attempts),
            backoff: self.backoff.clone().unwrap_or(defaults.backoff),
            max_delay: self.max_delay.unwrap_or(defaults.max_delay),
            jitter: self.jitter.unwrap_or(defaults.jitter),
            max_elapsed: self.max_elapsed.or(defaults.max_elapsed),
            retry_on: self.retry_on.unwrap_or(defaults.retry_on),
            budget: self
                .budget
                .as_deref()
                .map(str::to_owned)
                .or(defaults.budget),
        }
    }

    /// Checks the settings and builds the policy.
    ///
    /// # Errors
    ///
    /// [`ConfigError::OutOfRange`], with the checks `#[retry]` runs at compile time: key
    /// `max_attempts` for 0, `factor` for an exponential factor that is not finite and greater
    /// than 1, `jitter` for a proportional fraction outside `(0, 1]`, `delays` for an empty
    /// schedule, `max_elapsed` for zero, `delay` (or `delays`, or `max_delay` when given) for a
    /// first delay longer than `max_delay`, which would cut it; `name` for a blank name.
    pub fn build(self) -> Result<Retry, ConfigError> {
        ConfigError::check_name(&self.name)?;
        self.settings().check().map_err(ConfigError::from_problem)?;
        if let Some(budget) = &self.budget {
            resilience_settings::check_name(budget).map_err(|_| ConfigError::OutOfRange {
                key: "budget",
                value: format!("{budget:?}"),
                allowed: resilience_settings::retry::BUDGET.allowed,
            })?;
        }
        let config = self.config();
        Ok(Retry::new(self.name, config))
    }

    /// The settings given, by key, for the checks the `#[retry]` attribute runs too.
    pub(crate) fn settings(&self) -> RetrySettings {
        let mut settings = RetrySettings {
            max_attempts: self.max_attempts,
            max_delay: self.max_delay,
            max_elapsed: self.max_elapsed,
            jitter: match self.jitter {
                None | Some(Jitter::None) => None,
                Some(Jitter::Proportional(fraction)) => {
                    Some(JitterStrategy::Proportional(fraction))
                }
                Some(Jitter::Full) => Some(JitterStrategy::Full),
                Some(Jitter::Equal) => Some(JitterStrategy::Equal),
                Some(Jitter::Decorrelated) => Some(JitterStrategy::Decorrelated),
            },
            ..RetrySettings::default()
        };
        match &self.backoff {
            None => {}
            Some(Backoff::None) => settings.backoff = Some(BackoffStrategy::None),
            Some(Backoff::Fixed(delay)) => {
                settings.backoff = Some(BackoffStrategy::Fixed);
                settings.delay = Some(*delay);
            }
            Some(Backoff::Linear(base)) => {
                settings.backoff = Some(BackoffStrategy::Linear);
                settings.delay = Some(*base);
            }
            Some(Backoff::Exponential { base, factor }) => {
                settings.backoff = Some(BackoffStrategy::Exponential);
                settings.delay = Some(*base);
                settings.factor = Some(*factor);
            }
            Some(Backoff::Schedule(delays)) => settings.delays = Some(delays.clone()),
            Some(Backoff::Custom(_)) => settings.backoff_fn = true,
        }
        settings
    }

    /// The backoff given, if any: a custom function has no settings a file could write.
    pub(crate) fn given_backoff(&self) -> Option<&Backoff> {
        self.backoff.as_ref()
    }

    /// The `retry_on` given, if any.
    pub(crate) fn given_retry_on(&self) -> Option<RetryOn> {
        self.retry_on
    }

    /// The keys this builder set explicitly to a value that differs from `existing`'s
    /// configuration, spelled as the attribute spells them. Every backoff setting (`delay`,
    /// `factor`, `delays`, `backoff_fn`) is reported as `"backoff"`.
    pub fn conflicts_with(&self, existing: &Retry) -> Vec<&'static str> {
        let config = existing.config();
        let mut keys = Vec::new();
        if self.max_attempts.is_some_and(|v| v != config.max_attempts) {
            keys.push("max_attempts");
        }
        if self.backoff.as_ref().is_some_and(|v| *v != config.backoff) {
            keys.push("backoff");
        }
        if self.max_delay.is_some_and(|v| v != config.max_delay) {
            keys.push("max_delay");
        }
        if self.jitter.is_some_and(|v| v != config.jitter) {
            keys.push("jitter");
        }
        if self
            .max_elapsed
            .is_some_and(|v| Some(v) != config.max_elapsed)
        {
            keys.push("max_elapsed");
        }
        if self.retry_on.is_some_and(|v| v != config.retry_on) {
            keys.push("retry_on");
        }
        if self.budget.is_some() && self.budget.as_deref() != config.budget.as_deref() {
            keys.push("budget");
        }
        keys
    }
}
