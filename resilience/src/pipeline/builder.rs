//! Building a pipeline: each member from its own builder, named with the pipeline's name.

use std::sync::Arc;
use std::time::Duration;

use super::{Pipeline, PipelineMembers};
use crate::{
    Bulkhead, BulkheadBuilder, CircuitBreaker, CircuitBreakerBuilder, ConfigError, RateLimiter,
    RateLimiterBuilder, Retry, RetryBuilder, Timeout, TimeoutBuilder,
};

/// Builds a [`Pipeline`]; start from [`Pipeline::builder`].
///
/// Each member is set by a closure that receives its kind's builder, already named with the
/// pipeline's name, and returns it configured: `.retry(|retry| retry.max_attempts(3))`. A
/// member never set is absent. Setting one again continues from the builder set before.
///
/// [`build`](Self::build) makes a pipeline of its own, registered nowhere, as the other
/// policies' builders do; [`Registry::register_pipeline`](crate::Registry::register_pipeline)
/// registers it and its members, so that `#[resilient(policy = "NAME")]` and
/// [`Registry::execute`](crate::Registry::execute) find it.
///
/// ```
/// use resilience::{ConfigError, Pipeline};
/// use std::time::Duration;
///
/// let pipeline = Pipeline::builder("doc-pipeline-builder")
///     .retry(|retry| retry.max_attempts(3).fixed(Duration::from_millis(100)))
///     .circuit_breaker(|breaker| breaker.failure_threshold(5))
///     .rate_limit(|limiter| limiter.rate(100))
///     .timeout(Duration::from_secs(2))
///     .bulkhead(|bulkhead| bulkhead.max_concurrent(10))
///     .build()
///     .unwrap();
/// assert_eq!(pipeline.members().kinds().len(), 5);
///
/// let refused = Pipeline::builder("doc-pipeline-builder").retry(|r| r.max_attempts(0)).build();
/// assert!(matches!(refused, Err(ConfigError::OutOfRange { key: "max_attempts", .. })));
/// ```
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until it is built or registered"]
pub struct PipelineBuilder {
    name: Arc<str>,
    pub(crate) retry: Option<RetryBuilder>,
    pub(crate) circuit_breaker: Option<CircuitBreakerBuilder>,
    pub(crate) rate_limit: Option<RateLimiterBuilder>,
    pub(crate) timeout: Option<TimeoutBuilder>,
    pub(crate) bulkhead: Option<BulkheadBuilder>,
}

impl PipelineBuilder {
    pub(super) fn new(name: Arc<str>) -> Self {
        PipelineBuilder {
            name,
            retry: None,
            circuit_breaker: None,
            rate_limit: None,
            timeout: None,
            bulkhead: None,
        }
    }

    /// The pipeline's name, which its members share.
    pub fn name(&self) -> &Arc<str> {
        &self.name
    }

    /// The outermost member, a [`Retry`]: `configure` gets `Retry::builder(name)`.
    pub fn retry(mut self, configure: impl FnOnce(RetryBuilder) -> RetryBuilder) -> Self {
        let builder = self
            .retry
            .take()
            .unwrap_or_else(|| Retry::builder(Arc::clone(&self.name)));
        self.retry = Some(configure(builder));
        self
    }

    /// The [`CircuitBreaker`] below the retry: `configure` gets `CircuitBreaker::builder(name)`.
    pub fn circuit_breaker(
        mut self,
        configure: impl FnOnce(CircuitBreakerBuilder) -> CircuitBreakerBuilder,
    ) -> Self {
        let builder = self
            .circuit_breaker
            .take()
            .unwrap_or_else(|| CircuitBreaker::builder(Arc::clone(&self.name)));
        self.circuit_breaker = Some(configure(builder));
        self
    }

    /// The [`RateLimiter`] below the breaker: `configure` gets `RateLimiter::builder(name)`,
    /// which needs a `rate`.
    pub fn rate_limit(
        mut self,
        configure: impl FnOnce(RateLimiterBuilder) -> RateLimiterBuilder,
    ) -> Self {
        let builder = self
            .rate_limit
            .take()
            .unwrap_or_else(|| RateLimiter::builder(Arc::clone(&self.name)));
        self.rate_limit = Some(configure(builder));
        self
    }

    /// The [`Timeout`] below the rate limiter, bounding each attempt to `duration`.
    pub fn timeout(mut self, duration: Duration) -> Self {
        self.timeout = Some(Timeout::builder(Arc::clone(&self.name)).duration(duration));
        self
    }

    /// The innermost member, a [`Bulkhead`]: `configure` gets `Bulkhead::builder(name)`, which
    /// needs a `max_concurrent`.
    pub fn bulkhead(mut self, configure: impl FnOnce(BulkheadBuilder) -> BulkheadBuilder) -> Self {
        let builder = self
            .bulkhead
            .take()
            .unwrap_or_else(|| Bulkhead::builder(Arc::clone(&self.name)));
        self.bulkhead = Some(configure(builder));
        self
    }

    /// Which members are set, in the order retry, circuit breaker, rate limit, timeout, bulkhead.
    pub(crate) fn presence(&self) -> [bool; 5] {
        [
            self.retry.is_some(),
            self.circuit_breaker.is_some(),
            self.rate_limit.is_some(),
            self.timeout.is_some(),
            self.bulkhead.is_some(),
        ]
    }

    /// Checks every member's settings and builds the pipeline, registered nowhere.
    ///
    /// # Errors
    ///
    /// The first member's [`ConfigError`], in the order retry, circuit breaker, rate limit,
    /// timeout, bulkhead; or a blank name's.
    pub fn build(self) -> Result<Pipeline, ConfigError> {
        ConfigError::check_name(&self.name)?;
        let members = PipelineMembers {
            retry: self
                .retry
                .map(RetryBuilder::build)
                .transpose()?
                .map(Arc::new),
            circuit_breaker: self
                .circuit_breaker
                .map(CircuitBreakerBuilder::build)
                .transpose()?
                .map(Arc::new),
            rate_limiter: self
                .rate_limit
                .map(RateLimiterBuilder::build)
                .transpose()?
                .map(Arc::new),
            timeout: self
                .timeout
                .map(TimeoutBuilder::build)
                .transpose()?
                .map(Arc::new),
            bulkhead: self
                .bulkhead
                .map(BulkheadBuilder::build)
                .transpose()?
                .map(Arc::new),
        };
        Ok(Pipeline::with_members(self.name, members))
    }
}
