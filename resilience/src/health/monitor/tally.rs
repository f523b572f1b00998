//! The pool's crash count over a window, past the point where exact times are kept.

use std::time::Duration;

use tokio::time::Instant;

/// Slots across a window: a crash is counted to within `window / SLOTS` of its age.
const SLOTS: usize = 64;

/// Crash counts in time slots of `window / 64` (rounded up) each, in a ring of 65 slots that
/// covers at least the whole window: a count over the window may include crashes up to one slot
/// older than the window, never miss one. Fixed size, whatever the crash rate.
#[derive(Debug)]
pub(super) struct CrashTally {
    /// The slot length, at least a nanosecond.
    slot: Duration,
    /// Counts by slot number modulo the ring's length.
    counts: [u64; SLOTS + 1],
    /// Slot numbers count from here: the first crash.
    origin: Option<Instant>,
    /// The newest slot number the ring holds; older slots of the ring are cleared as it moves.
    newest: u64,
}

impl CrashTally {
    pub(super) fn new(window: Duration) -> Self {
        let slots = u32::try_from(SLOTS).unwrap_or(u32::MAX);
        // Rounded up, so that the ring spans the whole window.
        let slot = window
            .checked_div(slots)
            .filter(|slot| slot.saturating_mul(slots) >= window)
            .unwrap_or_else(|| (window / slots).saturating_add(Duration::from_nanos(1)))
            .max(Duration::from_nanos(1));
        CrashTally {
            slot,
            counts: [0; SLOTS + 1],
            origin: None,
            newest: 0,
        }
    }

    pub(super) fn record(&mut self, now: Instant) {
        let origin = *self.origin.get_or_insert(now);
        let slot = self.advance(origin, now);
        let count = &mut self.counts[slot];
        *count = count.saturating_add(1);
    }

    /// Crashes in the last window at `now`, give or take a slot's worth of the oldest.
    pub(super) fn count(&mut self, now: Instant) -> u64 {
        let Some(origin) = self.origin else {
            return 0;
        };
        self.advance(origin, now);
        self.counts
            .iter()
            .fold(0u64, |sum, &count| sum.saturating_add(count))
    }

    /// Moves the ring on to the slot of `now`, clearing the slots it passes; returns the index
    /// of `now`'s slot in the ring.
    fn advance(&mut self, origin: Instant, now: Instant) -> usize {
        let elapsed = now.saturating_duration_since(origin).as_nanos();
        let number = u64::try_from(elapsed / self.slot.as_nanos()).unwrap_or(u64::MAX);
        let ring = self.counts.len() as u64;
        if number > self.newest {
            let passed = (number - self.newest).min(ring);
            for step in 1..=passed {
                let index = (self.newest.wrapping_add(step) % ring) as usize;
                self.counts[index] = 0;
            }
            self.newest = number;
        }
        (self.newest % ring) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_the_window_and_forgets_what_left_it() {
        let start = Instant::now();
        let window = Duration::from_secs(64);
        let mut tally = CrashTally::new(window);
        for second in 0..64 {
            for _ in 0..1000 {
                tally.record(start + Duration::from_secs(second));
            }
        }
        assert_eq!(tally.count(start + Duration::from_secs(63)), 64_000);
        // At 100 s the crashes of 37 s and later are in the window; those of 36 s, one slot
        // older, may still be counted; none older is.
        let count = tally.count(start + Duration::from_secs(100));
        assert!((27_000..=28_000).contains(&count), "{count}");
        assert_eq!(tally.count(start + Duration::from_secs(1_000)), 0);
    }

    #[test]
    fn a_tiny_or_huge_window_neither_panics_nor_loses_count() {
        let start = Instant::now();
        let mut tiny = CrashTally::new(Duration::from_nanos(1));
        tiny.record(start);
        assert_eq!(tiny.count(start), 1);
        let mut huge = CrashTally::new(Duration::MAX);
        huge.record(start);
        huge.record(start + Duration::from_secs(1_000_000));
        assert_eq!(huge.count(start + Duration::from_secs(1_000_000)), 2);
    }
}
