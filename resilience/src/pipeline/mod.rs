//! Composite named policies: a retry, a breaker, a rate limiter, a timeout and a bulkhead run as
//! one pipeline, with exactly the semantics of the attributes stacked in that order.
//!
//! [`Pipeline`] holds its members behind a lock that a call reads once, so that a
//! reconfiguration replaces them in place under the call sites that hold the pipeline;
//! [`PipelineMembers::attempt`] and [`PipelineRun`] are one call's layers, driven alike by
//! [`Pipeline::execute`] and by the code `#[resilient]` generates.

mod builder;
mod members;
mod run;
mod stats;
#[cfg(test)]
mod tests;

use std::fmt;
use std::future::Future;
use std::ops::ControlFlow;
use std::pin::pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

pub use builder::PipelineBuilder;
pub use members::PipelineMembers;
pub use run::PipelineRun;
pub use stats::PipelineStats;

use crate::{Error, Failure};

/// A composite policy: up to five member policies run as one, in the fixed order retry →
/// circuit breaker → rate limit → timeout → bulkhead (outermost first, resilience4j's order),
/// with exactly the semantics of the attributes stacked in that order on an `async fn`:
///
/// ```text
/// #[retry] #[circuit_breaker] #[rate_limit] #[timeout] #[bulkhead]
/// ```
///
/// Inside, rejections stay typed ([`Failure::Policy`]) up to the outside, where they become the
/// caller's `E` through `From<`[`Error`]`>`. So, as under the attributes: each attempt of the
/// retry counts against the breaker and gets its own timeout and bulkhead slot; the breaker
/// counts a timeout as a failure and ignores a full bulkhead or a rate limit (decided on this
/// side, they say nothing about the dependency); the retry retries what its
/// [`retry_on`](crate::RetryBuilder::retry_on) lists (by default a timeout, a full bulkhead, and
/// a rate limit no sooner than its `retry_after`), and not an open circuit; every error of the
/// operation itself is retried and counted as a breaker failure (the attributes' defaults:
/// `retry_if` and `failure_if` are per function, and a composite has no function of its own).
///
/// A composite is also the way to stack policies without macros. Build one of your own with
/// [`Pipeline::builder`], or register it by name with
/// [`Registry::register_pipeline`](crate::Registry::register_pipeline), for
/// `#[resilient(policy = "NAME")]` and [`Registry::execute`](crate::Registry::execute).
///
/// A registered pipeline's members are replaced in place when it is reconfigured: call sites
/// keep the same `Arc<Pipeline>`, and each call runs with the members in force when it started.
///
/// ```
/// use resilience::{Error, Pipeline};
/// use std::time::Duration;
///
/// #[derive(Debug)]
/// enum PayError {
///     Declined,
///     Rejected(Error),
/// }
///
/// impl From<Error> for PayError {
///     fn from(rejection: Error) -> Self {
///         PayError::Rejected(rejection)
///     }
/// }
///
/// async fn charge(attempt: u32) -> Result<&'static str, PayError> {
///     if attempt < 2 { Err(PayError::Declined) } else { Ok("receipt") }
/// }
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let payments = Pipeline::builder("payments")
///     .retry(|retry| retry.max_attempts(3).fixed(Duration::from_millis(100)))
///     .circuit_breaker(|breaker| breaker.failure_threshold(5))
///     .timeout(Duration::from_secs(5))
///     .bulkhead(|bulkhead| bulkhead.max_concurrent(10))
///     .build()
///     .unwrap();
///
/// let mut attempts = 0;
/// let receipt = payments
///     .execute(|| {
///         attempts += 1;
///         charge(attempts)
///     })
///     .await;
/// assert_eq!(receipt.unwrap(), "receipt");
/// let members = payments.members();
/// assert_eq!(members.retry.as_ref().unwrap().stats().retries, 1);
/// assert_eq!(members.circuit_breaker.as_ref().unwrap().stats().failures, 1);
/// # }
/// ```
pub struct Pipeline {
    name: Arc<str>,
    /// Read once per call; replaced whole by a reconfiguration.
    members: RwLock<Arc<PipelineMembers>>,
    /// Calls that found no member at all.
    unprotected_calls: AtomicU64,
}

impl Pipeline {
    /// A builder for a pipeline named `name`, whose members are named `name` too.
    pub fn builder(name: impl Into<Arc<str>>) -> PipelineBuilder {
        PipelineBuilder::new(name.into())
    }

    pub(crate) fn with_members(name: Arc<str>, members: PipelineMembers) -> Self {
        Pipeline {
            name,
            members: RwLock::new(Arc::new(members)),
            unprotected_calls: AtomicU64::new(0),
        }
    }

    /// The pipeline's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The pipeline's name, shared.
    pub fn name_arc(&self) -> &Arc<str> {
        &self.name
    }

    /// The members in force now. A call that starts later may run with others, if the pipeline
    /// is reconfigured in between.
    pub fn members(&self) -> Arc<PipelineMembers> {
        // A panic while holding the lock cannot leave it half-written: the only write is one
        // assignment of an `Arc`.
        Arc::clone(&self.members.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Replaces every member at once; calls already running finish with the members they
    /// started with.
    pub(crate) fn replace_members(&self, members: PipelineMembers) {
        let members = Arc::new(members);
        // The old members are dropped after the lock is released.
        let _old = std::mem::replace(
            &mut *self.members.write().unwrap_or_else(PoisonError::into_inner),
            members,
        );
    }

    /// The pipeline's own state; see [`PipelineStats`].
    pub fn stats(&self) -> PipelineStats {
        PipelineStats {
            members: self.members().kinds(),
            unprotected_calls: self.unprotected_calls.load(Ordering::Relaxed),
        }
    }

    /// Sets the count of unprotected calls back to zero. The members' stats are their own.
    pub fn reset_stats(&self) {
        self.unprotected_calls.store(0, Ordering::Relaxed);
    }

    /// The members one call runs with, counting the call as unprotected when there are none:
    /// the first step of [`execute`](Self::execute) and of `#[resilient]`'s expansion.
    #[doc(hidden)]
    #[inline]
    pub fn members_for_call(&self) -> Arc<PipelineMembers> {
        let members = self.members();
        if members.is_empty() {
            self.unprotected_calls.fetch_add(1, Ordering::Relaxed);
        }
        members
    }

    /// Runs `op` through the pipeline: `op` is called once per attempt, once every member below
    /// the retry has admitted the attempt, and returns that attempt's future.
    ///
    /// Returns `op`'s result, or a rejection converted into `E`. When the retry gives up, the
    /// last failure is returned as it is. With no member at all, `op` runs once, unprotected.
    ///
    /// The returned future is `Send` when `op` and its futures are.
    pub async fn execute<T, E, F, Fut>(&self, mut op: F) -> Result<T, E>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: From<Error>,
    {
        self.run(&mut op, type_name_of::<E>)
            .await
            .map_err(Failure::into_error)
    }

    /// [`execute`](Self::execute) with the rejections kept typed, and `describe` naming an
    /// operation error in the retry's events. `op` is borrowed: a future that moved it would
    /// hold a second copy of it.
    pub(crate) async fn run<T, E, F, Fut, D>(
        &self,
        op: &mut F,
        describe: D,
    ) -> Result<T, Failure<E>>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        D: Fn(&E) -> String,
    {
        let members = self.members_for_call();
        let mut run = members.begin();
        loop {
            // `op` is called inside the attempt's body, so not at all for a rejected attempt.
            let body = pin!(async { op().await.map_err(Failure::Operation) });
            let attempt = members.attempt(body).await;
            match run.after_attempt(attempt, &describe).await {
                ControlFlow::Break(result) => return result,
                ControlFlow::Continue(()) => {}
            }
        }
    }
}

/// An operation error's text in the retry's events when nothing better is known: `execute` has
/// no `Display` bound, so the error is named by its type (`#[resilient]` gives its `Display`).
pub(crate) fn type_name_of<E>(_: &E) -> String {
    std::any::type_name::<E>().to_owned()
}

impl fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pipeline")
            .field("name", &self.name)
            .field("members", &self.members().kinds())
            .finish_non_exhaustive()
    }
}
