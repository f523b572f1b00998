//! The error every policy rejection is reported with.

use std::sync::Arc;
use std::time::Duration;

/// A call rejected or cut short by a policy, before or instead of the operation's own result.
///
/// Annotated functions turn it into their own error type through `From<resilience::Error>`;
/// `anyhow::Error`, `Box<dyn std::error::Error + Send + Sync>` and `std::io::Error` need no code.
///
/// ```
/// use resilience::Error;
/// use std::time::Duration;
///
/// let err = Error::Timeout { name: "db".into(), after: Duration::from_millis(250) };
/// assert_eq!(err.code(), "TIMEOUT");
/// assert_eq!(err.http_status(), 504);
/// assert_eq!(err.policy_name(), "db");
/// assert_eq!(err.to_string(), "timeout `db` expired after 250ms");
///
/// let closing = Error::ShuttingDown { name: "db".into() };
/// assert_eq!(closing.code(), "SHUTTING_DOWN");
/// assert_eq!(closing.http_status(), 503);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The circuit breaker is open, or half-open with every probe slot taken: the call was
    /// rejected without running.
    #[error("circuit breaker `{name}` is open; {}", RetryHint(*retry_after))]
    CircuitOpen {
        /// Registry name of the breaker.
        name: Arc<str>,
        /// Time left until the breaker admits a probe call, never zero; `None` when no clock
        /// can tell: the circuit is held open by
        /// [`CircuitBreaker::force_open`](crate::CircuitBreaker::force_open), or it is
        /// half-open and every probe slot is taken (a slot frees when a probe finishes).
        retry_after: Option<Duration>,
    },
    /// The call did not finish in time; its future was dropped.
    #[error("timeout `{name}` expired after {after:?}")]
    Timeout {
        /// Registry name of the timeout.
        name: Arc<str>,
        /// The configured limit.
        after: Duration,
    },
    /// Every slot of the bulkhead was taken (and its queue full, or the wait too long).
    #[error("bulkhead `{name}` is full ({max_concurrent} calls in flight)")]
    BulkheadFull {
        /// Registry name of the bulkhead.
        name: Arc<str>,
        /// Calls the bulkhead admits at once.
        max_concurrent: u32,
    },
    /// The rate limiter had no capacity for the call.
    #[error("rate limiter `{name}` is exhausted; retry after {}", Millis(*retry_after))]
    RateLimited {
        /// Registry name of the rate limiter.
        name: Arc<str>,
        /// Time until capacity is available again.
        retry_after: Duration,
    },
    /// The program is shutting down: [`Registry::shutdown`](crate::Registry::shutdown) (or
    /// [`Bulkhead::shutdown`](crate::Bulkhead::shutdown) for one bulkhead) has begun. New calls
    /// fail with it at once, and so do calls waiting in a bulkhead's queue, a rate limiter's
    /// wait or a retry's sleep. Never retried.
    #[error("`{name}` is shutting down")]
    ShuttingDown {
        /// Registry name of the policy that turned the call away.
        name: Arc<str>,
    },
    /// A fault injected by an enabled [`Chaos`](crate::Chaos) policy (`#[chaos]` without
    /// `error = path`). It stands for a failure of the operation: a circuit breaker above counts
    /// it as a failure and a retry above retries it, whatever `retry_on` says.
    #[error("fault injected by chaos `{name}`")]
    Injected {
        /// Registry name of the chaos policy.
        name: Arc<str>,
    },
}

impl Error {
    /// A stable, machine-readable code: `"CIRCUIT_OPEN"`, `"TIMEOUT"`, `"BULKHEAD_FULL"`,
    /// `"RATE_LIMITED"`, `"SHUTTING_DOWN"`, `"INJECTED"`.
    pub fn code(&self) -> &'static str {
        match self {
            Error::CircuitOpen { .. } => "CIRCUIT_OPEN",
            Error::Timeout { .. } => "TIMEOUT",
            Error::BulkheadFull { .. } => "BULKHEAD_FULL",
            Error::RateLimited { .. } => "RATE_LIMITED",
            Error::ShuttingDown { .. } => "SHUTTING_DOWN",
            Error::Injected { .. } => "INJECTED",
        }
    }

    /// The HTTP status a server should answer with: 503, 504, 503, 429, and 503 while
    /// shutting down, 500 for an injected fault (it stands for the operation failing).
    pub fn http_status(&self) -> u16 {
        match self {
            Error::Injected { .. } => 500,
            Error::CircuitOpen { .. } | Error::BulkheadFull { .. } | Error::ShuttingDown { .. } => {
                503
            }
            Error::Timeout { .. } => 504,
            Error::RateLimited { .. } => 429,
        }
    }

    /// Registry name of the policy that rejected the call.
    pub fn policy_name(&self) -> &str {
        match self {
            Error::CircuitOpen { name, .. }
            | Error::Timeout { name, .. }
            | Error::BulkheadFull { name, .. }
            | Error::RateLimited { name, .. }
            | Error::ShuttingDown { name }
            | Error::Injected { name } => name,
        }
    }

    /// How long to wait before trying again, when the policy knows it: a rate limiter's wait
    /// for its next free cell, or an open circuit's time left until it admits a probe. `None`
    /// for a timeout, a full bulkhead, and a circuit whose wait is unknown (see
    /// [`CircuitOpen`](Error::CircuitOpen)).
    ///
    /// ```
    /// use resilience::Error;
    /// use std::time::Duration;
    ///
    /// let open = Error::CircuitOpen { name: "api".into(), retry_after: Some(Duration::from_millis(250)) };
    /// assert_eq!(open.retry_after(), Some(Duration::from_millis(250)));
    /// assert_eq!(open.to_string(), "circuit breaker `api` is open; retry after 250ms");
    ///
    /// let forced = Error::CircuitOpen { name: "api".into(), retry_after: None };
    /// assert_eq!(forced.retry_after(), None);
    /// assert_eq!(forced.to_string(), "circuit breaker `api` is open; no known time to retry");
    /// ```
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::CircuitOpen { retry_after, .. } => *retry_after,
            Error::RateLimited { retry_after, .. } => Some(*retry_after),
            Error::Timeout { .. }
            | Error::BulkheadFull { .. }
            | Error::ShuttingDown { .. }
            | Error::Injected { .. } => None,
        }
    }
}

/// Lets functions returning `std::io::Result<T>` be annotated with no code of the user's.
///
/// The kind is [`TimedOut`](std::io::ErrorKind::TimedOut) for a timeout and
/// [`Other`](std::io::ErrorKind::Other) for the rejections; the source is the [`Error`].
impl From<Error> for std::io::Error {
    fn from(err: Error) -> Self {
        let kind = match err {
            Error::Timeout { .. } => std::io::ErrorKind::TimedOut,
            _ => std::io::ErrorKind::Other,
        };
        std::io::Error::new(kind, err)
    }
}

/// An open circuit's advice, in words: `retry after 250ms`, or `no known time to retry`.
struct RetryHint(Option<Duration>);

impl std::fmt::Display for RetryHint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(wait) => write!(f, "retry after {}", Millis(wait)),
            None => f.write_str("no known time to retry"),
        }
    }
}

/// A duration shown to people: whole milliseconds (`1ms` and up), else microseconds.
struct Millis(Duration);

impl std::fmt::Display for Millis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let millis = self.0.as_millis();
        if millis > 0 || self.0.is_zero() {
            write!(f, "{millis}ms")
        } else {
            write!(f, "{}µs", self.0.as_micros())
        }
    }
}
