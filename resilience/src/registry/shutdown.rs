//! Graceful shutdown of every policy in the registry.

use std::time::Duration;

use tokio::time::Instant;

use super::{PolicyKind, Registry};
use crate::lifecycle::gate;
use crate::lifecycle::{ShutdownReport, StillRunning};

/// How often a shutdown looks whether the calls still running have finished.
pub(crate) const DRAIN_POLL: Duration = Duration::from_millis(10);

impl Registry {
    /// Shuts down gracefully: from now on every new call through any policy fails at once with
    /// [`Error::ShuttingDown`](crate::Error::ShuttingDown) (never retried), and so do the calls
    /// waiting in a retry's sleep, a bulkhead's queue or a rate limiter's wait; calls already
    /// running go on. Returns when no bulkhead has a call in flight, or at `deadline`, with
    /// the [`ShutdownReport`] of what was still running.
    ///
    /// The gate is process-wide and never reopens: call this once, on the way out. While it is
    /// closed, [`live`](Self::live) is `false` and [`health`](Self::health) unhealthy.
    ///
    /// What is waited for: the calls holding a bulkhead's slot, counted by the bulkhead's own
    /// occupancy so the success path pays nothing more. The other policies keep no count of
    /// calls in flight; put a `#[bulkhead]` on the calls a shutdown should wait for.
    ///
    /// ```no_run
    /// use std::time::Duration;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let report = resilience::registry().shutdown(Duration::from_secs(10)).await;
    /// if !report.drained() {
    ///     eprintln!("{report}");
    /// }
    /// # }
    /// ```
    pub async fn shutdown(&self, deadline: Duration) -> ShutdownReport {
        gate::GLOBAL.close();
        let started = Instant::now();
        let until = started + deadline;
        loop {
            let still_running = self.still_running();
            let now = Instant::now();
            if still_running.is_empty() || now >= until {
                return ShutdownReport {
                    waited: now.saturating_duration_since(started),
                    still_running,
                };
            }
            tokio::time::sleep_until((now + DRAIN_POLL).min(until)).await;
        }
    }

    /// Whether [`shutdown`](Self::shutdown) has begun.
    pub fn is_shutting_down(&self) -> bool {
        gate::is_closed()
    }

    fn still_running(&self) -> Vec<StillRunning> {
        self.bulkheads
            .read()
            .iter()
            .filter_map(|(name, entry)| {
                let in_flight = entry.policy.stats().in_flight;
                (in_flight > 0).then(|| StillRunning {
                    kind: PolicyKind::Bulkhead,
                    name: name.to_string(),
                    in_flight,
                })
            })
            .collect()
    }
}
