//! Resilience policies for async Rust, by annotation.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod bulkhead;
mod circuit_breaker;
mod config_error;
mod error;
mod events;
mod failure;
mod registry;
mod retry;
mod timeout;

#[doc(hidden)]
pub mod __private;

pub use bulkhead::{Bulkhead, BulkheadBuilder, BulkheadConfig, BulkheadStats};
pub use circuit_breaker::{
    CallOutcome, CircuitBreaker, CircuitBreakerBuilder, CircuitBreakerConfig, CircuitBreakerStats,
    CircuitState, TransitionCause, TripRule, Window,
};
pub use config_error::ConfigError;
pub use error::Error;
pub use events::Event;
pub use failure::{Failure, FailureRef};
pub use registry::{registry, PolicyKind, PolicySnapshot, PolicyStats, Registry, RegistrySnapshot};
pub use retry::{Backoff, Jitter, Retry, RetryBuilder, RetryConfig, RetryContext, RetryRun, RetryStats};
pub use timeout::{Timeout, TimeoutBuilder, TimeoutConfig, TimeoutStats};

pub use resilience_macros::{bulkhead, circuit_breaker, retry, timeout};
