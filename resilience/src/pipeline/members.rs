//! The policies a pipeline runs a call through, and one attempt of the call through the layers
//! below the retry.

use std::future::Future;
use std::sync::Arc;

use super::run::PipelineRun;
use crate::{
    Bulkhead, CallOutcome, CircuitBreaker, Failure, PolicyKind, RateLimiter, Retry, Timeout,
};

/// The member policies of a [`Pipeline`](super::Pipeline) at one moment, each optional, in the
/// fixed order a call runs through them, outermost first: retry → circuit breaker → rate limit →
/// timeout → bulkhead.
///
/// A call takes the members in force when it starts and keeps them to its end, whatever
/// replaces them meanwhile. Read them with [`Pipeline::members`](super::Pipeline::members).
///
/// ```
/// use resilience::{Pipeline, PolicyKind};
/// use std::time::Duration;
///
/// let pipeline = Pipeline::builder("doc-members")
///     .retry(|retry| retry.max_attempts(2))
///     .timeout(Duration::from_secs(1))
///     .build()
///     .unwrap();
/// let members = pipeline.members();
/// assert_eq!(members.kinds(), [PolicyKind::Retry, PolicyKind::Timeout]);
/// assert_eq!(members.retry.as_ref().unwrap().config().max_attempts, 2);
/// assert!(members.circuit_breaker.is_none());
/// ```
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct PipelineMembers {
    /// The outermost layer: retries the layers below.
    pub retry: Option<Arc<Retry>>,
    /// Each attempt counts against it; a timeout below is a failure, a full bulkhead or a rate
    /// limit is ignored.
    pub circuit_breaker: Option<Arc<CircuitBreaker>>,
    /// Admits each attempt at its rate.
    pub rate_limiter: Option<Arc<RateLimiter>>,
    /// Bounds each attempt, a wait for a bulkhead slot included.
    pub timeout: Option<Arc<Timeout>>,
    /// The innermost layer: bounds the attempts in flight at once.
    pub bulkhead: Option<Arc<Bulkhead>>,
}

impl PipelineMembers {
    /// The kinds of the members present, outermost first.
    pub fn kinds(&self) -> Vec<PolicyKind> {
        [
            (self.retry.is_some(), PolicyKind::Retry),
            (self.circuit_breaker.is_some(), PolicyKind::CircuitBreaker),
            (self.rate_limiter.is_some(), PolicyKind::RateLimiter),
            (self.timeout.is_some(), PolicyKind::Timeout),
            (self.bulkhead.is_some(), PolicyKind::Bulkhead),
        ]
        .into_iter()
        .filter_map(|(present, kind)| present.then_some(kind))
        .collect()
    }

    /// Whether there is no member at all: calls then run unprotected.
    pub fn is_empty(&self) -> bool {
        self.retry.is_none()
            && self.circuit_breaker.is_none()
            && self.rate_limiter.is_none()
            && self.timeout.is_none()
            && self.bulkhead.is_none()
    }

    /// The registry table's `CONFIG` column: the members' kinds in the order a call meets them.
    pub(crate) fn config_line(&self) -> String {
        let kinds = self.kinds();
        if kinds.is_empty() {
            return "no members: calls run unprotected".to_owned();
        }
        kinds
            .iter()
            .map(|kind| kind.as_str())
            .collect::<Vec<_>>()
            .join(" -> ")
    }

    /// Starts one call's way through the retry, if there is one: what `#[resilient]` expands to.
    #[doc(hidden)]
    #[inline]
    pub fn begin(&self) -> PipelineRun<'_> {
        PipelineRun::new(self.retry.as_deref())
    }

    /// One attempt through the layers below the retry: `body` (the operation's attempt, its
    /// error already a [`Failure::Operation`]) runs in the bulkhead, under the timeout, once the
    /// rate limiter admits it, counted by the breaker, exactly as the attributes
    /// `#[circuit_breaker] #[rate_limit] #[timeout] #[bulkhead]` stacked in that order run it.
    /// A rejection stays a [`Failure::Policy`]. `body` is not polled unless every layer admits
    /// it.
    #[doc(hidden)]
    pub async fn attempt<T, E, Fut>(&self, body: Fut) -> Result<T, Failure<E>>
    where
        Fut: Future<Output = Result<T, Failure<E>>>,
    {
        // Each layer's `run` is the one its attribute drives, and each is optional: a missing
        // member leaves the layers below as they are.
        let bulkheaded = async {
            match &self.bulkhead {
                Some(bulkhead) => bulkhead.run(body).await,
                None => body.await,
            }
        };
        let timed = async {
            match &self.timeout {
                Some(timeout) => timeout.run(bulkheaded).await,
                None => bulkheaded.await,
            }
        };
        let limited = async {
            match &self.rate_limiter {
                Some(limiter) => limiter.run(timed).await,
                None => timed.await,
            }
        };
        match &self.circuit_breaker {
            // `#[circuit_breaker]`'s defaults: every error of the operation is a failure.
            Some(breaker) => breaker.run(limited, |_: &E| CallOutcome::Failure).await,
            None => limited.await,
        }
    }
}
