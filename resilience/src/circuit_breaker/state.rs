//! The states a circuit can be in, and why it moves between them.

use std::fmt;

/// The state of a [`CircuitBreaker`](crate::CircuitBreaker).
///
/// ```
/// use resilience::{CircuitBreaker, CircuitState};
///
/// let breaker = CircuitBreaker::builder("doc-state").failure_threshold(1).build().unwrap();
/// assert_eq!(breaker.state(), CircuitState::Closed);
/// breaker.record_failure();
/// assert_eq!(breaker.state(), CircuitState::Open);
/// assert_eq!(breaker.state().to_string(), "open");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum CircuitState {
    /// Calls run; their outcomes are counted against the trip rule.
    #[default]
    Closed,
    /// Calls are rejected with [`Error::CircuitOpen`](crate::Error::CircuitOpen) without running,
    /// until `reset_timeout` has elapsed (or, when forced open, until
    /// [`reset`](crate::CircuitBreaker::reset)).
    Open,
    /// A limited number of probe calls run; their outcomes decide between closing and re-opening.
    HalfOpen,
}

impl CircuitState {
    /// The state in lower case, as [`Display`](fmt::Display) prints it: `"closed"`, `"open"`,
    /// `"half-open"`.
    pub fn as_str(self) -> &'static str {
        match self {
            CircuitState::Closed => "closed",
            CircuitState::Open => "open",
            CircuitState::HalfOpen => "half-open",
        }
    }
}

impl fmt::Display for CircuitState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a circuit changed state, as reported by
/// [`Event::CircuitTransition`](crate::Event::CircuitTransition).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[non_exhaustive]
pub enum TransitionCause {
    /// Closed → open: `failure_threshold` consecutive failures.
    FailureThreshold,
    /// Closed → open: the failure rate over the window reached `failure_rate`.
    FailureRate,
    /// Open → half-open: `reset_timeout` elapsed and a call arrived.
    ResetTimeoutElapsed,
    /// Half-open → closed: `success_threshold` probes succeeded.
    ProbesSucceeded,
    /// Half-open → open: a probe failed.
    ProbeFailed,
    /// Half-open → open: a probe had been running for `half_open_timeout`, and counts as
    /// failed.
    ProbeTimedOut,
    /// → open by [`force_open`](crate::CircuitBreaker::force_open).
    ForcedOpen,
    /// → closed by [`reset`](crate::CircuitBreaker::reset).
    Reset,
    /// A [shared](crate::CircuitBreakerBuilder::shared) breaker followed its fleet: another
    /// instance made this transition, or the fleet's counts tripped the circuit.
    Fleet,
}

impl TransitionCause {
    /// A short description, as [`Display`](fmt::Display) prints it.
    pub fn as_str(self) -> &'static str {
        match self {
            TransitionCause::FailureThreshold => "failure threshold reached",
            TransitionCause::FailureRate => "failure rate reached",
            TransitionCause::ResetTimeoutElapsed => "reset timeout elapsed",
            TransitionCause::ProbesSucceeded => "probes succeeded",
            TransitionCause::ProbeFailed => "probe failed",
            TransitionCause::ProbeTimedOut => "probe outlived the half-open timeout",
            TransitionCause::ForcedOpen => "forced open",
            TransitionCause::Reset => "reset",
            TransitionCause::Fleet => "followed the fleet",
        }
    }
}

impl fmt::Display for TransitionCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
