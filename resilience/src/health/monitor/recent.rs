//! The newest crash times, as many as a limit needs to be judged exactly.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

/// The times of the newest crashes, at most `limit + 1` of them: whether the window holds more
/// than `limit` crashes is exact, and memory stays bounded whatever the crash rate.
#[derive(Debug, Default)]
pub(super) struct RecentCrashes {
    /// Oldest first; times never go backwards (they are read under the monitor's lock).
    times: VecDeque<Instant>,
}

impl RecentCrashes {
    /// Records a crash at `now`, keeping the newest `limit + 1`.
    pub(super) fn record(&mut self, now: Instant, limit: u32) {
        let keep = usize::try_from(limit).map_or(usize::MAX, |n| n.saturating_add(1));
        while self.times.len() >= keep {
            self.times.pop_front();
        }
        self.times.push_back(now);
    }

    /// Drops the crashes that left the window: those at least `window` old at `now`.
    pub(super) fn expire(&mut self, now: Instant, window: Duration) {
        while self
            .times
            .front()
            .is_some_and(|&at| now.saturating_duration_since(at) >= window)
        {
            self.times.pop_front();
        }
    }

    /// Crashes in the window (after [`expire`](Self::expire)), counted up to `limit + 1`.
    pub(super) fn count(&self) -> usize {
        self.times.len()
    }

    /// The crash times held, and the room allocated for them: what the bound is about.
    #[cfg(test)]
    pub(super) fn footprint(&self) -> (usize, usize) {
        (self.times.len(), self.times.capacity())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_newest_limit_plus_one_and_expires_at_the_window() {
        let start = Instant::now();
        let mut recent = RecentCrashes::default();
        for second in 0..10 {
            recent.record(start + Duration::from_secs(second), 3);
        }
        assert_eq!(recent.count(), 4);
        // The newest four are at 6..=9 s; a crash exactly a window old has left it.
        recent.expire(start + Duration::from_secs(16), Duration::from_secs(10));
        assert_eq!(recent.count(), 3);
        recent.expire(start + Duration::from_secs(19), Duration::from_secs(10));
        assert_eq!(recent.count(), 0);
    }
}
