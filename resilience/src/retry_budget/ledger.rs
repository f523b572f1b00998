//! The budget's book: deposits and withdrawals per slot of time, over a sliding window.
//!
//! Time is cut into slots of a tenth of the window, counted from the budget's origin. At a time
//! in slot `s`, the window holds the slots `s - 9 ..= s`; what was counted in older slots no
//! longer counts. A retry may be withdrawn when, over the window,
//!
//! ```text
//! floor + ratio × deposits ≥ withdrawals + 1
//! ```
//!
//! where `floor = min_per_sec × window` (in seconds, fractions included). Everything is
//! counted in millionths of a retry, in integers: a ratio is exact to a millionth (any
//! ratio written with six decimals or fewer, `0.2`, `0.05`, `0.333333`, is exact), and
//! nothing is truncated to a whole number of calls per retry, unlike tower's `TpsBudget`
//! (whose 0.3 allows one retry in 3 calls, not 3 in 10).

use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

/// Slots in a window.
pub(crate) const SLOTS: usize = 10;
/// Millionths of a retry in one retry.
pub(crate) const UNIT: u128 = 1_000_000;

/// The settings the ledger counts with, in its units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rates {
    /// Millionths of a retry each deposit is worth.
    pub(crate) ratio_micros: u64,
    /// Millionths of a retry the floor gives over a window.
    pub(crate) floor_micros: u128,
    /// A slot's length in nanoseconds, at least 1.
    pub(crate) slot_nanos: u128,
}

impl Rates {
    pub(crate) fn new(ratio: f64, min_per_sec: u32, window: Duration) -> Self {
        // `ratio` is checked to lie in [0, 1000]: the product fits, rounding to the nearest
        // millionth.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let ratio_micros = (ratio * 1e6).round() as u64;
        let window_nanos = window.as_nanos();
        Rates {
            ratio_micros,
            // min_per_sec × window_seconds × 10^6 = min_per_sec × window_nanos / 1000.
            floor_micros: u128::from(min_per_sec) * window_nanos / 1000,
            slot_nanos: (window_nanos / SLOTS as u128).max(1),
        }
    }

    /// The slot of a time, in nanoseconds since the origin.
    pub(crate) fn slot(&self, nanos: u128) -> u64 {
        u64::try_from(nanos / self.slot_nanos).unwrap_or(u64::MAX)
    }
}

/// One slot's counts.
#[derive(Debug, Default)]
struct Slot {
    /// The slot's number since the origin; a ring entry with another number is stale.
    number: AtomicU64,
    deposits: AtomicU64,
    withdrawals: AtomicU64,
}

/// The counts of the window's slots, in a ring of atomics: a deposit is a load and an add on
/// its slot's entry, with no lock but once per slot, to reuse the entry of the slot ten back.
/// Withdrawals are decided under the budget's lock, so two never spend one retry.
#[derive(Debug, Default)]
pub(crate) struct Ledger {
    ring: [Slot; SLOTS],
    /// The latest slot counted in: a decision made with an earlier time (read before another
    /// thread's later one) counts over the window of the latest.
    latest: AtomicU64,
    /// Held to reuse a ring entry for a newer slot.
    rotation: Mutex<()>,
}

impl Ledger {
    /// The ring entry for slot `slot`, emptied first if it held an older slot.
    fn entry(&self, slot: u64) -> &Slot {
        let entry = &self.ring[(slot % SLOTS as u64) as usize];
        if entry.number.load(Acquire) < slot {
            let _rotating = self.rotation.lock().unwrap_or_else(PoisonError::into_inner);
            if entry.number.load(Acquire) < slot {
                entry.deposits.store(0, Relaxed);
                entry.withdrawals.store(0, Relaxed);
                // Published after the counts are zeroed: an add that sees the new number
                // counts on top of zero.
                entry.number.store(slot, Release);
                self.latest.fetch_max(slot, Relaxed);
            }
        }
        // An entry already past `slot` (this thread read the clock a whole window ago) takes
        // the count all the same: a little late, never lost.
        entry
    }

    pub(crate) fn deposit(&self, slot: u64) {
        self.entry(slot).deposits.fetch_add(1, Relaxed);
    }

    /// Deposits and withdrawals in the window that ends with slot `slot` (or the latest slot
    /// counted in, if later).
    pub(crate) fn totals(&self, slot: u64) -> (u64, u64) {
        let slot = slot.max(self.latest.load(Relaxed));
        let oldest = slot.saturating_sub(SLOTS as u64 - 1);
        self.ring
            .iter()
            .filter(|entry| (oldest..=slot).contains(&entry.number.load(Acquire)))
            // A fresh ledger's entries are slot 0 with nothing in them: harmless.
            .fold((0u64, 0u64), |(d, w), entry| {
                (
                    d.saturating_add(entry.deposits.load(Relaxed)),
                    w.saturating_add(entry.withdrawals.load(Relaxed)),
                )
            })
    }

    /// Whether a retry may be withdrawn in slot `slot`.
    pub(crate) fn can_withdraw(&self, rates: &Rates, slot: u64) -> bool {
        let (deposits, withdrawals) = self.totals(slot);
        let available = rates.floor_micros + u128::from(rates.ratio_micros) * u128::from(deposits);
        available >= (u128::from(withdrawals) + 1) * UNIT
    }

    /// Withdraws a retry in slot `slot` if the window allows one; whether it did. The caller
    /// holds the budget's lock: one decision at a time.
    pub(crate) fn withdraw(&self, rates: &Rates, slot: u64) -> bool {
        let slot = slot.max(self.latest.load(Relaxed));
        if !self.can_withdraw(rates, slot) {
            return false;
        }
        self.entry(slot).withdrawals.fetch_add(1, Relaxed);
        true
    }

    /// Retries that could be withdrawn now, whole.
    pub(crate) fn available(&self, rates: &Rates, slot: u64) -> u64 {
        let (deposits, withdrawals) = self.totals(slot);
        let available = rates.floor_micros + u128::from(rates.ratio_micros) * u128::from(deposits);
        let spent = u128::from(withdrawals) * UNIT;
        u64::try_from(available.saturating_sub(spent) / UNIT).unwrap_or(u64::MAX)
    }

    /// Empties every slot. The caller holds the budget's lock.
    pub(crate) fn clear(&self) {
        let _rotating = self.rotation.lock().unwrap_or_else(PoisonError::into_inner);
        for entry in &self.ring {
            entry.deposits.store(0, Relaxed);
            entry.withdrawals.store(0, Relaxed);
            entry.number.store(0, Release);
        }
        self.latest.store(0, Relaxed);
    }
}
