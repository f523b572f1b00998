//! Executor helpers: the policies for code that cannot be annotated (closures, callbacks), and
//! many futures run as one batch.
//!
//! - [`with_timeout`]: a deadline on one future, as `#[timeout]` sets it.
//! - [`with_retry`], [`with_protection`]: a retry, or a retry over a circuit breaker, around a
//!   closure, as `#[retry]` and `#[retry] #[circuit_breaker]` run a function body.
//! - [`batch`]: futures run with a bound on how many are in flight, with per-task and overall
//!   timeouts, results in input order.
//!
//! For a retry loop the caller writes itself, see [`Retry::attempts`](crate::Retry::attempts).

mod batch;
mod guarded;
mod timeout;

pub use batch::{batch, BatchError, BatchOptions};
pub use guarded::{with_protection, with_retry};
pub use timeout::with_timeout;
