//! The kinds of policy the registry holds.

/// The kind of a registered policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[non_exhaustive]
pub enum PolicyKind {
    /// A [`CircuitBreaker`](crate::CircuitBreaker).
    CircuitBreaker,
    /// A [`Retry`](crate::Retry).
    Retry,
    /// A [`Timeout`](crate::Timeout).
    Timeout,
    /// A [`Bulkhead`](crate::Bulkhead).
    Bulkhead,
    /// A [`RateLimiter`](crate::RateLimiter).
    RateLimiter,
    /// A [`Fallback`](crate::Fallback).
    Fallback,
    /// A composite named policy, a [`Pipeline`](crate::Pipeline): `"policy"`, as the
    /// configuration file's `[policy.NAME]` sections and `#[resilient(policy = "NAME")]` name it.
    /// Its members are registered under the same name as policies of their own kinds.
    #[cfg_attr(feature = "serde", serde(rename = "policy"))]
    Pipeline,
    /// A [`HealthMonitor`](crate::HealthMonitor): `"health_monitor"`.
    HealthMonitor,
    /// A [`Supervisor`](crate::Supervisor): `"supervisor"`.
    Supervisor,
    /// A [`RetryBudget`](crate::RetryBudget): `"retry_budget"`.
    RetryBudget,
    /// A [`Hedge`](crate::Hedge): `"hedge"`.
    Hedge,
    /// A [`Chaos`](crate::Chaos) policy: `"chaos"`.
    Chaos,
}

impl PolicyKind {
    /// The kind's name in snake case: `"circuit_breaker"`, `"retry"`, `"timeout"`, `"bulkhead"`,
    /// `"rate_limiter"` (whose attribute is `#[rate_limit]`), `"fallback"`, `"policy"` for a
    /// composite ([`PolicyKind::Pipeline`]), `"health_monitor"`, `"supervisor"`,
    /// `"retry_budget"`, `"hedge"` and `"chaos"`.
    pub fn as_str(self) -> &'static str {
        match self {
            PolicyKind::CircuitBreaker => "circuit_breaker",
            PolicyKind::Retry => "retry",
            PolicyKind::Timeout => "timeout",
            PolicyKind::Bulkhead => "bulkhead",
            PolicyKind::RateLimiter => "rate_limiter",
            PolicyKind::Fallback => "fallback",
            PolicyKind::Pipeline => "policy",
            PolicyKind::HealthMonitor => "health_monitor",
            PolicyKind::Supervisor => "supervisor",
            PolicyKind::RetryBudget => "retry_budget",
            PolicyKind::Hedge => "hedge",
            PolicyKind::Chaos => "chaos",
        }
    }
}

impl std::fmt::Display for PolicyKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
