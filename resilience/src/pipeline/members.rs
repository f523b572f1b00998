//! The policies a pipeline runs a call through, and one attempt of the call through the layers
//! below the retry.

use std::future::{poll_fn, Future};
use std::pin::{pin, Pin};
use std::sync::Arc;

use super::run::PipelineRun;
use crate::circuit_breaker::layer_outcome;
use crate::{
    Bulkhead, CallOutcome, CallPermit, CircuitBreaker, Failure, PolicyKind, RateLimiter, Retry,
    Timeout,
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
    /// `#[circuit_breaker] #[rate_limit] #[timeout] #[bulkhead]` stacked in that order run it:
    /// the same steps (`try_acquire`, `acquire`, the timeout's `poll_before_deadline`, the
    /// breaker's permit polling the body) in the same order. A rejection stays a
    /// [`Failure::Policy`]. `body` is not polled unless every layer admits it.
    ///
    /// The body is borrowed pinned, never moved: each layer's future holds a reference to the
    /// one below, so the attempt's future is as large as its own state, whatever the body's.
    #[doc(hidden)]
    pub async fn attempt<T, E, Fut>(&self, body: Pin<&mut Fut>) -> Result<T, Failure<E>>
    where
        Fut: Future<Output = Result<T, Failure<E>>>,
    {
        let Some(breaker) = &self.circuit_breaker else {
            return self.below_breaker(body, None).await;
        };
        let mut permit = breaker.try_acquire().map_err(Failure::Policy)?;
        let outcome = self.below_breaker(body, Some(&mut permit)).await;
        // `#[circuit_breaker]`'s defaults: every error of the operation is a failure; a timeout
        // below is a failure, any other rejection is ignored.
        permit.record(layer_outcome(&outcome, |_: &E| CallOutcome::Failure));
        outcome
    }

    /// The rate limiter, then the timeout around the bulkhead and the body.
    async fn below_breaker<T, E, Fut>(
        &self,
        body: Pin<&mut Fut>,
        permit: Option<&mut CallPermit<'_>>,
    ) -> Result<T, Failure<E>>
    where
        Fut: Future<Output = Result<T, Failure<E>>>,
    {
        if let Some(limiter) = &self.rate_limiter {
            // Without a wait the limiter decides at once; a wait makes it a real await.
            let admitted = if limiter.has_wait() {
                limiter.acquire().await
            } else {
                limiter.try_acquire()
            };
            admitted.map_err(Failure::Policy)?;
        }
        let _running = self.rate_limiter.as_ref().map(|limiter| limiter.enter());
        let Some(timeout) = &self.timeout else {
            return self.in_bulkhead(body, permit).await;
        };
        // `Timeout::call`'s steps: the duration is the one in force when the call starts; the
        // call and its deadline are dropped at the end of the block, before an expiry is
        // reported.
        let after = timeout.duration();
        let finished = {
            let _running = timeout.count_call();
            let mut call = pin!(self.in_bulkhead(body, permit));
            let mut deadline = pin!(None);
            timeout
                .before_deadline(call.as_mut(), deadline.as_mut(), after)
                .await
        };
        finished.unwrap_or_else(|| Err(Failure::Policy(timeout.expired(after))))
    }

    /// The bulkhead's slot, held while the body runs (polled through the breaker's permit, so
    /// that it tells a panic of the body's own poll from a drop during another's panic).
    async fn in_bulkhead<T, E, Fut>(
        &self,
        mut body: Pin<&mut Fut>,
        permit: Option<&mut CallPermit<'_>>,
    ) -> Result<T, Failure<E>>
    where
        Fut: Future<Output = Result<T, Failure<E>>>,
    {
        let _slot = match &self.bulkhead {
            None => None,
            // Without a queue the bulkhead decides at once; a queue makes the wait a real await.
            Some(bulkhead) => Some(
                if bulkhead.has_queue() {
                    bulkhead.acquire().await
                } else {
                    bulkhead.try_acquire()
                }
                .map_err(Failure::Policy)?,
            ),
        };
        match permit {
            Some(permit) => poll_fn(|cx| permit.poll_body(body.as_mut(), cx)).await,
            None => body.await,
        }
    }
}
