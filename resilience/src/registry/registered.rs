//! What the registry needs of each kind of policy, so that it handles every kind one way.

use std::sync::Arc;

use super::{PolicyKind, PolicyStats, Registry, Shelf};
use crate::{
    Bulkhead, BulkheadBuilder, CircuitBreaker, CircuitBreakerBuilder, ConfigError, Fallback,
    FallbackBuilder, RateLimiter, RateLimiterBuilder, Retry, RetryBuilder, Timeout, TimeoutBuilder,
};

/// A policy the registry holds by name.
pub(crate) trait RegisteredPolicy: Sized {
    const KIND: PolicyKind;
    type Builder: Clone;

    fn shelf(registry: &Registry) -> &Shelf<Self>;
    fn builder_name(builder: &Self::Builder) -> &Arc<str>;
    fn build(builder: Self::Builder) -> Result<Self, ConfigError>;
    /// Keys the builder set explicitly to another value than `existing` has.
    fn conflicts(builder: &Self::Builder, existing: &Self) -> Vec<&'static str>;
    /// A policy that never rejects, for settings a builder refused (see `__private`).
    fn fallback(name: Arc<str>) -> Self;
    fn config_line(&self) -> String;
    fn stats(&self) -> PolicyStats;
    /// The calls running through the policy now, for a shutdown to wait for and report.
    fn in_flight(&self) -> u32;
    /// Back to a fresh start: counters, and a breaker's state.
    fn reset(&self);
    /// Takes `built`'s configuration in place, keeping state; returns the keys that changed.
    fn reconfigure_from(&self, built: Self) -> Vec<&'static str>;
}

macro_rules! registered {
    ($policy:ident, $builder:ty, $shelf:ident, in_flight: $in_flight:expr, reset: $reset:expr) => {
        impl RegisteredPolicy for $policy {
            const KIND: PolicyKind = PolicyKind::$policy;
            type Builder = $builder;

            fn shelf(registry: &Registry) -> &Shelf<Self> {
                &registry.$shelf
            }
            fn builder_name(builder: &Self::Builder) -> &Arc<str> {
                builder.name()
            }
            fn build(builder: Self::Builder) -> Result<Self, ConfigError> {
                builder.build()
            }
            fn conflicts(builder: &Self::Builder, existing: &Self) -> Vec<&'static str> {
                builder.conflicts_with(existing)
            }
            fn fallback(name: Arc<str>) -> Self {
                $policy::with_defaults(name)
            }
            fn config_line(&self) -> String {
                self.config().to_string()
            }
            fn stats(&self) -> PolicyStats {
                PolicyStats::$policy($policy::stats(self))
            }
            fn in_flight(&self) -> u32 {
                let in_flight: fn(&$policy) -> u32 = $in_flight;
                in_flight(self)
            }
            fn reset(&self) {
                let reset: fn(&$policy) = $reset;
                reset(self);
            }
            fn reconfigure_from(&self, built: Self) -> Vec<&'static str> {
                $policy::reconfigure(self, built.config())
            }
        }
    };
}

registered!(CircuitBreaker, CircuitBreakerBuilder, circuit_breakers, in_flight: CircuitBreaker::in_flight, reset: |breaker| {
    breaker.reset();
    breaker.reset_stats();
});
registered!(Retry, RetryBuilder, retries, in_flight: Retry::in_flight, reset: Retry::reset_stats);
registered!(Timeout, TimeoutBuilder, timeouts, in_flight: Timeout::in_flight, reset: Timeout::reset_stats);
registered!(Bulkhead, BulkheadBuilder, bulkheads, in_flight: |bulkhead| bulkhead.stats().in_flight, reset: Bulkhead::reset_stats);
// A fallback admits nothing and is never turned away: the policies below it count its calls.
registered!(Fallback, FallbackBuilder, fallbacks, in_flight: |_| 0, reset: Fallback::reset_stats);
registered!(RateLimiter, RateLimiterBuilder, rate_limiters, in_flight: RateLimiter::in_flight, reset: |limiter| {
    limiter.refill();
    limiter.reset_stats();
});
