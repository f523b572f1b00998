//! The run of consecutive failures, counted lock-free and tied to the generation it belongs to.

use std::sync::atomic::Ordering::Relaxed;

use crate::sync::AtomicU64;

/// One word: `tag (31 bits) | success_seen (1) | failures (32)`, where `tag` is the low bits of
/// the generation the count belongs to, so that an outcome admitted before a transition cannot
/// touch the fresh count.
///
/// The success path is the hot path: once a success has been seen and no failure followed, a
/// success finds `failures == 0, success_seen` and returns after one relaxed load, writing
/// nothing, so concurrent successes never contend on this cache line. `success_seen` also marks
/// the first success of a run, the only one that reads the clock for `last_success`.
#[derive(Debug, Default)]
pub(super) struct FailureStreak(AtomicU64);

const COUNT_BITS: u32 = 32;
const SEEN_BIT: u64 = 1 << COUNT_BITS;
const TAG_SHIFT: u32 = COUNT_BITS + 1;

fn tag(generation: u64) -> u64 {
    // Only the low 31 bits fit; an outcome would have to be late by 2^31 transitions to alias.
    generation << TAG_SHIFT >> TAG_SHIFT
}

fn pack(tag: u64, success_seen: bool, failures: u32) -> u64 {
    let seen = if success_seen { SEEN_BIT } else { 0 };
    (tag << TAG_SHIFT) | seen | u64::from(failures)
}

fn tag_of(word: u64) -> u64 {
    word >> TAG_SHIFT
}

fn failures_of(word: u64) -> u32 {
    // Truncation keeps exactly the count's 32 bits.
    word as u32
}

impl FailureStreak {
    /// Starts a fresh count for `generation`. Called under the transition lock, before the new
    /// state word is published, so every call admitted in `generation` sees it.
    pub(super) fn restart(&self, generation: u64) {
        self.0.store(pack(tag(generation), false, 0), Relaxed);
    }

    /// Ends the streak with a success admitted in `generation`. Returns whether the success
    /// starts a run of successes (the first since a failure or a transition).
    #[inline]
    pub(super) fn success(&self, generation: u64) -> bool {
        let current = self.0.load(Relaxed);
        let unchanged = failures_of(current) == 0 && current & SEEN_BIT != 0;
        if unchanged {
            return false;
        }
        self.end(current, tag(generation))
    }

    #[inline(never)]
    fn end(&self, mut current: u64, tag: u64) -> bool {
        loop {
            let unchanged = failures_of(current) == 0 && current & SEEN_BIT != 0;
            if tag_of(current) != tag || unchanged {
                return false;
            }
            match self
                .0
                .compare_exchange_weak(current, pack(tag, true, 0), Relaxed, Relaxed)
            {
                Ok(_) => return current & SEEN_BIT == 0,
                Err(actual) => current = actual,
            }
        }
    }

    /// Adds a failure admitted in `generation`; returns the streak's new length, or `None` when
    /// the circuit has moved on since the call was admitted.
    pub(super) fn failure(&self, generation: u64) -> Option<u32> {
        let tag = tag(generation);
        let mut current = self.0.load(Relaxed);
        loop {
            if tag_of(current) != tag {
                return None;
            }
            let failures = failures_of(current).saturating_add(1);
            match self.0.compare_exchange_weak(
                current,
                pack(tag, false, failures),
                Relaxed,
                Relaxed,
            ) {
                Ok(_) => return Some(failures),
                Err(actual) => current = actual,
            }
        }
    }

    /// The streak's length in `generation` (zero once the circuit has moved on).
    pub(super) fn failures(&self, generation: u64) -> u32 {
        let current = self.0.load(Relaxed);
        if tag_of(current) == tag(generation) {
            failures_of(current)
        } else {
            0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_count_up_and_a_success_ends_the_streak() {
        let streak = FailureStreak::default();
        streak.restart(7);
        assert_eq!(streak.failure(7), Some(1));
        assert_eq!(streak.failure(7), Some(2));
        assert_eq!(streak.failures(7), 2);
        assert!(
            streak.success(7),
            "the first success after failures starts a run"
        );
        assert!(!streak.success(7), "later successes continue it");
        assert_eq!(streak.failures(7), 0);
    }

    #[test]
    fn the_first_success_after_a_restart_starts_a_run() {
        let streak = FailureStreak::default();
        streak.restart(1);
        assert!(streak.success(1));
        assert!(!streak.success(1));
        streak.restart(2);
        assert!(streak.success(2));
    }

    #[test]
    fn outcomes_of_another_generation_change_nothing() {
        let streak = FailureStreak::default();
        streak.restart(3);
        assert_eq!(streak.failure(3), Some(1));
        assert_eq!(streak.failure(2), None);
        assert!(!streak.success(4));
        assert_eq!(streak.failures(3), 1);
        assert_eq!(streak.failures(4), 0);
    }

    #[test]
    fn tags_compare_the_generation_low_bits() {
        let streak = FailureStreak::default();
        let generation = (1 << 40) + 5;
        streak.restart(generation);
        assert_eq!(streak.failure(generation), Some(1));
        assert_eq!(streak.failure(generation + 1), None);
    }

    #[test]
    fn the_count_saturates() {
        let streak = FailureStreak::default();
        streak.0.store(pack(tag(0), false, u32::MAX), Relaxed);
        assert_eq!(streak.failure(0), Some(u32::MAX));
    }
}
