//! What a supervisor shows the registry while it runs.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::Strategy;

/// A supervisor's live counters, in its registry row
/// ([`PolicyStats::Supervisor`](crate::PolicyStats::Supervisor)).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct SupervisorStats {
    /// Children it was built with.
    pub children: usize,
    /// Children whose task is running now.
    pub running: usize,
    /// Restarts made since it was built (a restart of several children counts once).
    pub restarts: u64,
    /// Whether its last run gave up. A run started again clears it.
    pub gave_up: bool,
}

/// The state a supervisor shares with the registry: written by its run, read by snapshots and
/// health.
#[derive(Debug)]
pub(crate) struct SupervisorState {
    pub(crate) name: Arc<str>,
    pub(crate) strategy: Strategy,
    pub(crate) max_restarts: u32,
    pub(crate) period: Duration,
    pub(crate) children: usize,
    running: AtomicUsize,
    restarts: AtomicU64,
    gave_up: AtomicBool,
}

impl SupervisorState {
    pub(crate) fn new(
        name: Arc<str>,
        strategy: Strategy,
        max_restarts: u32,
        period: Duration,
        children: usize,
    ) -> Self {
        SupervisorState {
            name,
            strategy,
            max_restarts,
            period,
            children,
            running: AtomicUsize::new(0),
            restarts: AtomicU64::new(0),
            gave_up: AtomicBool::new(false),
        }
    }

    pub(crate) fn set_running(&self, running: usize) {
        self.running.store(running, Ordering::Relaxed);
    }

    pub(crate) fn note_restart(&self) {
        self.restarts.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn set_gave_up(&self, gave_up: bool) {
        self.gave_up.store(gave_up, Ordering::Relaxed);
    }

    pub(crate) fn gave_up(&self) -> bool {
        self.gave_up.load(Ordering::Relaxed)
    }

    pub(crate) fn stats(&self) -> SupervisorStats {
        SupervisorStats {
            children: self.children,
            running: self.running.load(Ordering::Relaxed),
            restarts: self.restarts.load(Ordering::Relaxed),
            gave_up: self.gave_up(),
        }
    }

    /// The registry row's configuration column.
    pub(crate) fn config_line(&self) -> String {
        format!(
            "{}, at most {} restart(s) in {:?}, {} child(ren)",
            self.strategy, self.max_restarts, self.period, self.children
        )
    }
}
