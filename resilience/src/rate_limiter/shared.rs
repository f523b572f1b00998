//! A shared limiter's call: one round trip to the fleet's bucket in the registry's store, the
//! local bucket when there is no store or it fails.

use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::time::Instant;

use super::RateLimiter;
use crate::lifecycle::gate;
use crate::store::{RateDecision, RateRequest};
use crate::Error;

impl RateLimiter {
    /// Takes a cell from the fleet's bucket, waiting up to `wait` for one as the local path
    /// does (each try one round trip); on any store failure, the local bucket decides.
    pub(super) async fn acquire_shared(&self) -> Result<(), Error> {
        let handle = match crate::registry().store_handle() {
            Some(handle) if !handle.skip_calls() => handle,
            // No store, or one that is down and was asked less than an interval ago.
            _ => return self.acquire_local().await,
        };
        let config = self.config.get();
        let request = RateRequest {
            interval: config.interval(),
            burst: config.burst,
        };
        let wait = Duration::from_nanos(self.wait_nanos.load(Ordering::Relaxed));
        let deadline = Instant::now().checked_add(wait);
        let mut waited = false;
        loop {
            let answer = handle
                .run(handle.store().acquire_permit(&self.name, request))
                .await;
            match answer {
                Ok(RateDecision::Permitted) => {
                    self.permitted.increment();
                    if waited {
                        self.waited.fetch_add(1, Ordering::Relaxed);
                    }
                    return Ok(());
                }
                Ok(RateDecision::Limited { retry_after }) => {
                    let retry_at = Instant::now().checked_add(retry_after);
                    let in_time = match (retry_at, deadline) {
                        (Some(at), Some(deadline)) => at <= deadline,
                        (None, _) => false,
                        (Some(_), None) => true,
                    };
                    if !in_time || retry_after.is_zero() {
                        return Err(self.reject(duration_nanos(retry_after).max(1)));
                    }
                    waited = true;
                    let sleep = tokio::time::sleep(retry_after);
                    if gate::unless_closed(sleep, None).await.is_none() {
                        return Err(self.turn_away());
                    }
                }
                // The store failing never fails a call: the local bucket decides.
                Err(_) => return self.acquire_local().await,
            }
        }
    }
}

fn duration_nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}
