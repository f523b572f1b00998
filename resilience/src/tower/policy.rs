//! The layer and the service every policy's middleware is: a shared policy, and an inner service.

use std::fmt;
use std::sync::Arc;

use ::tower::Layer;

use crate::{Bulkhead, CircuitBreaker, RateLimiter, Timeout};

/// A tower [`Layer`] wrapping services in the policy `P`, shared by every service it makes and
/// by the annotated functions naming the same policy. Named per policy:
/// [`CircuitBreakerLayer`](super::CircuitBreakerLayer), [`BulkheadLayer`](super::BulkheadLayer),
/// [`RateLimitLayer`](super::RateLimitLayer), [`TimeoutLayer`](super::TimeoutLayer).
pub struct PolicyLayer<P> {
    policy: Arc<P>,
}

impl<P> PolicyLayer<P> {
    /// A layer running requests through `policy`.
    pub fn new(policy: Arc<P>) -> Self {
        PolicyLayer { policy }
    }

    /// The policy the layer's services share.
    pub fn policy(&self) -> &Arc<P> {
        &self.policy
    }
}

impl<P> Clone for PolicyLayer<P> {
    fn clone(&self) -> Self {
        PolicyLayer::new(Arc::clone(&self.policy))
    }
}

impl<S, P> Layer<S> for PolicyLayer<P> {
    type Service = PolicyService<S, P>;

    fn layer(&self, inner: S) -> Self::Service {
        PolicyService::new(inner, Arc::clone(&self.policy))
    }
}

impl<P: NamedPolicy> fmt::Debug for PolicyLayer<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct(P::LAYER)
            .field("policy", &self.policy.policy_name())
            .finish()
    }
}

/// The service of a [`PolicyLayer`]: `inner` with its requests run through the policy.
pub struct PolicyService<S, P> {
    pub(super) inner: S,
    pub(super) policy: Arc<P>,
}

impl<S, P> PolicyService<S, P> {
    /// `inner` with its requests run through `policy`.
    pub fn new(inner: S, policy: Arc<P>) -> Self {
        PolicyService { inner, policy }
    }

    /// The policy.
    pub fn policy(&self) -> &Arc<P> {
        &self.policy
    }

    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

impl<S: Clone, P> Clone for PolicyService<S, P> {
    fn clone(&self) -> Self {
        PolicyService::new(self.inner.clone(), Arc::clone(&self.policy))
    }
}

impl<S: fmt::Debug, P: NamedPolicy> fmt::Debug for PolicyService<S, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct(P::SERVICE)
            .field("inner", &self.inner)
            .field("policy", &self.policy.policy_name())
            .finish()
    }
}

/// A policy a [`PolicyLayer`] wraps services in: how its layer and service print.
pub trait NamedPolicy {
    /// The layer's name, for `Debug`.
    const LAYER: &'static str;
    /// The service's name, for `Debug`.
    const SERVICE: &'static str;
    /// The policy's registry name.
    fn policy_name(&self) -> &str;
}

macro_rules! named_policy {
    ($policy:ty, $layer:literal, $service:literal) => {
        impl NamedPolicy for $policy {
            const LAYER: &'static str = $layer;
            const SERVICE: &'static str = $service;
            fn policy_name(&self) -> &str {
                self.name()
            }
        }
    };
}

named_policy!(
    CircuitBreaker,
    "CircuitBreakerLayer",
    "CircuitBreakerService"
);
named_policy!(Bulkhead, "BulkheadLayer", "BulkheadService");
named_policy!(RateLimiter, "RateLimitLayer", "RateLimitService");
named_policy!(Timeout, "TimeoutLayer", "TimeoutService");
