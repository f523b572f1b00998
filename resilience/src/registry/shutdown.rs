//! Graceful shutdown of every policy in the registry.

use std::time::Duration;

use tokio::time::Instant;

use super::registered::RegisteredPolicy;
use super::Registry;
use crate::config::Layered;
use crate::lifecycle::gate;
use crate::lifecycle::{ShutdownReport, StillRunning};
use crate::{Bulkhead, CircuitBreaker, RateLimiter, Retry, Timeout};

/// How often a shutdown looks whether the calls still running have finished.
pub(crate) const DRAIN_POLL: Duration = Duration::from_millis(10);

impl Registry {
    /// Shuts down gracefully: from now on every new call through any policy fails at once with
    /// [`Error::ShuttingDown`](crate::Error::ShuttingDown) (never retried), and so do the calls
    /// waiting in a retry's sleep, a bulkhead's queue or a rate limiter's wait; calls already
    /// running go on. Returns when no call is running through any registered policy, or at
    /// `deadline`, with the [`ShutdownReport`] of what was still running.
    ///
    /// The gate is process-wide and never reopens: call this once, on the way out. While it is
    /// closed, [`live`](Self::live) is `false` and [`health`](Self::health) unhealthy.
    ///
    /// What is waited for: every call a registered breaker, retry, timeout, bulkhead or rate
    /// limiter has admitted and not yet seen end (see each policy's `in_flight`). A call under a
    /// stack of policies is running in each of them and is named under each in the report. Each
    /// policy counts its calls in and out on the calling thread's stripe of a counter (about a
    /// nanosecond a call; the bulkhead uses its own occupancy). A policy built on its own and
    /// never registered is not seen, nor is a call under `#[fallback]` alone, which admits
    /// nothing.
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

    /// Every policy with calls running, in the order of the registry's kinds and then names.
    fn still_running(&self) -> Vec<StillRunning> {
        let mut running = Vec::new();
        self.running::<CircuitBreaker>(&mut running);
        self.running::<Retry>(&mut running);
        self.running::<Timeout>(&mut running);
        self.running::<Bulkhead>(&mut running);
        self.running::<RateLimiter>(&mut running);
        running
    }

    fn running<P: RegisteredPolicy + Layered>(&self, running: &mut Vec<StillRunning>) {
        let shelf = P::shelf(self).read();
        let mut found: Vec<StillRunning> = shelf
            .iter()
            .filter_map(|(name, entry)| {
                let in_flight = entry.policy.in_flight();
                (in_flight > 0).then(|| StillRunning {
                    kind: P::KIND,
                    name: name.to_string(),
                    in_flight,
                })
            })
            .collect();
        found.sort_by(|a, b| a.name.cmp(&b.name));
        running.append(&mut found);
    }
}
