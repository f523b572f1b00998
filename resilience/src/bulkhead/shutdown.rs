//! Shutting one bulkhead down.

use std::time::Duration;

use tokio::time::Instant;

use super::Bulkhead;
use crate::lifecycle::{ShutdownReport, StillRunning};
use crate::registry::PolicyKind;

impl Bulkhead {
    /// Shuts this bulkhead down: from now on every new call fails at once with
    /// [`Error::ShuttingDown`](crate::Error::ShuttingDown), and so does every caller waiting in
    /// its queue; calls holding a slot go on. Returns once none is left (it looks every 10 ms),
    /// or at `deadline`, with what was still running. The bulkhead stays shut.
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
    /// // The drain looks every 10 ms.
    /// assert!((Duration::from_secs(1)..=Duration::from_millis(1010)).contains(&report.waited));
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::{Bulkhead, Error};

    #[tokio::test(start_paused = true)]
    async fn a_queued_caller_leaves_at_once_and_the_running_one_is_reported() {
        let bulkhead = Bulkhead::builder("shutdown-one")
            .max_concurrent(1)
            .queue(1)
            .queue_timeout(Duration::from_secs(60))
            .build()
            .unwrap();
        let running = bulkhead.try_acquire().unwrap();
        let (report, queued) = tokio::join!(bulkhead.shutdown(Duration::from_secs(3)), async {
            bulkhead.acquire().await.map(drop)
        });
        // `join!` polls the shutdown first: the queued caller finds the bulkhead shut.
        assert!(matches!(queued, Err(Error::ShuttingDown { .. })));
        assert_eq!(report.waited, Duration::from_secs(3));
        assert_eq!(report.still_running[0].in_flight, 1);
        assert_eq!(bulkhead.stats().queued, 0);
        drop(running);
        assert_eq!(bulkhead.stats().in_flight, 0);
        assert!(bulkhead.is_shutting_down());
        // Other bulkheads are untouched.
        assert!(Bulkhead::new("shutdown-other", 1)
            .unwrap()
            .try_acquire()
            .is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn a_caller_already_queued_wakes_when_the_bulkhead_shuts() {
        let bulkhead = Bulkhead::builder("shutdown-queued")
            .max_concurrent(1)
            .queue(1)
            .queue_timeout(Duration::from_secs(60))
            .build()
            .unwrap();
        let running = bulkhead.try_acquire().unwrap();
        let (queued, report) = tokio::join!(async { bulkhead.acquire().await.map(drop) }, async {
            tokio::time::sleep(Duration::from_secs(1)).await;
            assert_eq!(bulkhead.stats().queued, 1);
            bulkhead.shutdown(Duration::from_secs(5)).await
        });
        assert!(matches!(queued, Err(Error::ShuttingDown { .. })));
        assert!(!report.drained());
        drop(running);
        assert_eq!(
            (bulkhead.stats().in_flight, bulkhead.stats().queued),
            (0, 0)
        );
    }
}
