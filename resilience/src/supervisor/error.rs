//! What a supervisor's run ends with when it does not end well.

use std::sync::Arc;

/// Why [`Supervisor::run`](crate::Supervisor::run) failed.
///
/// It implements `Display`, so a supervisor's `run()` can itself be a child of another
/// supervisor: giving up is then that child's crash, and the parent decides (escalation).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SupervisorError {
    /// More restarts were asked for within the period than the intensity allows: every child
    /// was stopped.
    #[error("supervisor `{supervisor}` gave up: child `{child}` asked for restart {restarts} within the period, more than allowed")]
    #[non_exhaustive]
    GaveUp {
        /// The supervisor's name.
        supervisor: Arc<str>,
        /// The child whose end asked for the restart refused.
        child: Arc<str>,
        /// The restarts asked for within the period, the refused one included.
        restarts: u32,
    },
}
