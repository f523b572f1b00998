//! The workers a monitor tracks: those with a crash in the window, at most a fixed number.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::recent::RecentCrashes;
use crate::WallTime;

/// One worker's crashes.
#[derive(Debug)]
pub(super) struct Worker {
    /// The order of its last crash among every worker's: its key in [`Workers::by_last_crash`].
    order: u64,
    pub(super) recent: RecentCrashes,
    last_crash_at: Instant,
    pub(super) last_crash: WallTime,
    pub(super) last_reason: Box<str>,
}

/// One crash of a worker, as [`Workers::record`] takes it.
pub(super) struct Crash<'a> {
    pub(super) worker_id: &'a str,
    pub(super) at: Instant,
    pub(super) wall: WallTime,
    pub(super) reason: Box<str>,
}

/// Tracked workers by id, and the same ids in the order of their last crash, oldest first, so
/// that the idle are forgotten and the oldest-idle evicted in `O(log n)` each.
#[derive(Debug, Default)]
pub(super) struct Workers {
    by_id: HashMap<Arc<str>, Worker>,
    by_last_crash: BTreeMap<u64, Arc<str>>,
    /// The order the next crash gets. Crashes are recorded under the monitor's lock with the
    /// time read under it, so this order is also the order of their times.
    next_order: u64,
}

impl Workers {
    /// Records a crash of `crash.worker_id`, tracking it if it was not; when `cap` workers are
    /// tracked already, the one idle longest is forgotten to make room.
    pub(super) fn record(&mut self, crash: Crash<'_>, limit: u32, window: Duration, cap: usize) {
        self.forget_idle(crash.at, window);
        let order = self.next_order;
        self.next_order = self.next_order.saturating_add(1);
        if let Some(worker) = self.by_id.get_mut(crash.worker_id) {
            if let Some(id) = self.by_last_crash.remove(&worker.order) {
                self.by_last_crash.insert(order, id);
            }
            worker.order = order;
            worker.recent.record(crash.at, limit);
            worker.last_crash_at = crash.at;
            worker.last_crash = crash.wall;
            worker.last_reason = crash.reason;
            return;
        }
        while self.by_id.len() >= cap.max(1) {
            let Some((_, oldest)) = self.by_last_crash.pop_first() else {
                break;
            };
            self.by_id.remove(&oldest);
        }
        let id: Arc<str> = Arc::from(crash.worker_id);
        let mut recent = RecentCrashes::default();
        recent.record(crash.at, limit);
        self.by_last_crash.insert(order, Arc::clone(&id));
        self.by_id.insert(
            id,
            Worker {
                order,
                recent,
                last_crash_at: crash.at,
                last_crash: crash.wall,
                last_reason: crash.reason,
            },
        );
    }

    /// Forgets every worker whose last crash left the window: idle for a whole window.
    pub(super) fn forget_idle(&mut self, now: Instant, window: Duration) {
        while let Some(entry) = self.by_last_crash.first_entry() {
            let idle = self.by_id.get(entry.get()).map_or(true, |worker| {
                now.saturating_duration_since(worker.last_crash_at) >= window
            });
            if !idle {
                break;
            }
            let id = entry.remove();
            self.by_id.remove(&id);
        }
    }

    /// The worker `id`, its crashes that left the window dropped; call
    /// [`forget_idle`](Self::forget_idle) first.
    pub(super) fn get(&mut self, id: &str, now: Instant, window: Duration) -> Option<&Worker> {
        let worker = self.by_id.get_mut(id)?;
        worker.recent.expire(now, window);
        Some(worker)
    }

    /// Workers tracked.
    pub(super) fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Workers tracked, entries in the order index, and crash times held over all workers.
    #[cfg(test)]
    pub(super) fn footprint(&self) -> (usize, usize, usize) {
        let times = self
            .by_id
            .values()
            .map(|worker| worker.recent.footprint().0)
            .sum();
        (self.by_id.len(), self.by_last_crash.len(), times)
    }
}
