//! The settings a retry policy runs with.

use std::fmt;
use std::time::Duration;

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
}

impl RetryConfig {
    // The defaults live in the table the `#[retry]` attribute reads too.
    pub(crate) const DEFAULT_MAX_ATTEMPTS: u32 = resilience_settings::retry::DEFAULT_MAX_ATTEMPTS;
    pub(crate) const DEFAULT_MAX_DELAY: Duration = resilience_settings::retry::DEFAULT_MAX_DELAY;
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
        Ok(())
    }
}
