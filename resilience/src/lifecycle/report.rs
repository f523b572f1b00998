//! What a shutdown left behind.

use std::fmt;
use std::time::Duration;

use crate::registry::PolicyKind;

/// The outcome of [`Registry::shutdown`](crate::Registry::shutdown) or
/// [`Bulkhead::shutdown`](crate::Bulkhead::shutdown).
///
/// ```
/// use resilience::ShutdownReport;
///
/// let report = ShutdownReport::default();
/// assert!(report.drained());
/// assert_eq!(report.to_string(), "shutdown drained every call in 0ns");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct ShutdownReport {
    /// How long the shutdown waited for running calls (at most its deadline).
    pub waited: Duration,
    /// Every policy with calls still running at the deadline; empty when all finished.
    pub still_running: Vec<StillRunning>,
}

/// A policy whose calls were still running when a shutdown's deadline passed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct StillRunning {
    /// The policy's kind.
    pub kind: PolicyKind,
    /// The policy's registry name.
    pub name: String,
    /// Its calls still running.
    pub in_flight: u32,
}

impl ShutdownReport {
    /// Whether every call finished before the deadline.
    pub fn drained(&self) -> bool {
        self.still_running.is_empty()
    }
}

impl fmt::Display for ShutdownReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.drained() {
            return write!(f, "shutdown drained every call in {:?}", self.waited);
        }
        write!(
            f,
            "shutdown deadline passed after {:?}; still running:",
            self.waited
        )?;
        for running in &self.still_running {
            write!(
                f,
                " {} `{}` ({} in flight);",
                running.kind, running.name, running.in_flight
            )?;
        }
        Ok(())
    }
}
