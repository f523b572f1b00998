//! Shutting one bulkhead down.

use std::time::Duration;

use tokio::time::Instant;

use super::Bulkhead;
use crate::lifecycle::{ShutdownReport, StillRunning};
use crate::registry::PolicyKind;

impl Bulkhead {
    /// Shuts this bulkhead down: from now on every new call fails at once with
    /// [`Error::ShuttingDown`](crate::Error::ShuttingDown), and so does every caller waiting in
    /// its queue; calls holding a slot go on. Returns once none is left, or at `deadline`,
    /// with what was still running. The bulkhead stays shut.
    ///
    /// ```
    /// use resilience::{Bulkhead, Error};
    /// use std::time::Duration;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let bulkhead = Bulkhead::new("doc-shutdown", 2).unwrap();
    /// let running = bulkhead.try_acquire().unwrap();
    /// let (report, ()) = tokio::join!(bulkhead.shutdown(Duration::from_secs(5)), async {
    ///     tokio::time::sleep(Duration::from_secs(1)).await;
    ///     drop(running);
    /// });
    /// assert!(report.drained());
    /// assert_eq!(report.waited, Duration::from_secs(1));
    /// assert!(matches!(bulkhead.try_acquire(), Err(Error::ShuttingDown { .. })));
    /// # }
    /// ```
    pub async fn shutdown(&self, deadline: Duration) -> ShutdownReport {
        self.gate.close();
        let started = Instant::now();
        let until = started + deadline;
        loop {
            let in_flight = self.stats().in_flight;
            let now = Instant::now();
            if in_flight == 0 || now >= until {
                let still_running = (in_flight > 0)
                    .then(|| StillRunning {
                        kind: PolicyKind::Bulkhead,
                        name: self.name.to_string(),
                        in_flight,
                    })
                    .into_iter()
                    .collect();
                return ShutdownReport {
                    waited: now.saturating_duration_since(started),
                    still_running,
                };
            }
            let next = (now + crate::registry::DRAIN_POLL).min(until);
            tokio::time::sleep_until(next).await;
        }
    }

    /// Whether [`shutdown`](Self::shutdown) (of this bulkhead, or the registry's) has begun.
    pub fn is_shutting_down(&self) -> bool {
        self.is_closing()
    }
}
