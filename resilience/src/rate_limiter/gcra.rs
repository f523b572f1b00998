//! The cell accounting behind a rate limiter: GCRA (the generic cell rate algorithm) in one
//! atomic word.
//!
//! A bucket holds at most `burst` cells and gains one every `interval` (`per / rate`). Instead
//! of a count and a refill time, GCRA keeps a single instant, the *theoretical arrival time*
//! (`tat`): the moment the bucket will be full again if nobody takes another cell. At time
//! `now` the bucket holds `(now + span - tat) / interval` cells, where `span = burst × interval`
//! is the time a bucket takes to fill from empty, and a cell may be taken when
//! `max(tat, now) + interval <= now + span`; taking it moves `tat` to that sum. So a full
//! bucket gives `burst` cells at once, and after that one cell per `interval`.
//!
//! `tat` is stored as nanoseconds since the limiter was built (an instant of `tokio::time`, so
//! paused time drives it), in one `AtomicU64`. Taking a cell is a load and one
//! compare-exchange; a lost race retries with the word it lost to. Every cell ever handed out
//! went through that compare-exchange with its condition holding, so however many threads
//! race, the cells taken in any interval of length `t` never exceed `burst + t / interval`.
//! Nothing else is published through the word, so every access is `Relaxed`.
//!
//! `interval` and `span` are relaxed atomics too, so that a reload can reshape the bucket while
//! calls run ([`Gcra::reshape`]). The bucket keeps its level across a reshape: the cells taken
//! and not yet refilled stay taken, re-timed at the new interval, and at most a whole new bucket
//! is owed. A call that races the reshape reads the two values separately and may be judged by
//! one old and one new: a one-off, for calls that were already deciding.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

/// The longest span (`burst × per / rate`) a limiter may have: the arithmetic on `tat` then
/// stays far from `u64` nanoseconds' limit (584 years) for any realistic uptime. The builder
/// checks it with the table the `#[rate_limit]` attribute reads.
pub(super) const MAX_SPAN: Duration = resilience_settings::rate_limit::MAX_REFILL;

/// A GCRA bucket of `burst` cells refilled one per `interval`.
pub(super) struct Gcra {
    /// What the nanosecond counts below are measured from.
    origin: Instant,
    /// Theoretical arrival time, in nanoseconds since `origin`: when the bucket is full again.
    tat: AtomicU64,
    /// Nanoseconds between two cells; at least 1.
    interval: AtomicU64,
    /// Nanoseconds a bucket takes to fill from empty: `burst × interval`.
    span: AtomicU64,
}

impl Gcra {
    /// A full bucket. `interval` must be at least 1 ns and `interval × burst` at most
    /// [`MAX_SPAN`]; the builder checks both.
    pub(super) fn new(interval: u64, burst: u32) -> Self {
        Gcra {
            origin: Instant::now(),
            tat: AtomicU64::new(0),
            interval: AtomicU64::new(interval),
            span: AtomicU64::new(interval.saturating_mul(u64::from(burst))),
        }
    }

    /// Gives the bucket a new `interval` and `burst` (checked as for [`new`](Self::new)) at
    /// `now`, keeping its level: the time still owed, `tat - now`, is re-timed from the old
    /// interval to the new one (the same number of cells are missing) and capped at the new
    /// span (a bucket cannot be emptier than empty). A full bucket stays full.
    ///
    /// So a higher rate lets the next calls through at the new pace, instead of after the debt
    /// run up at the old one, and a lower one does not forgive the calls just made.
    pub(super) fn reshape(&self, interval: u64, burst: u32, now: u64) {
        let span = interval.saturating_mul(u64::from(burst));
        let old_interval = self.interval.swap(interval, Ordering::Relaxed);
        self.span.store(span, Ordering::Relaxed);
        Self::retime(&self.tat, old_interval, interval, span, now);
    }

    /// The interval between two cells now, in nanoseconds.
    pub(super) fn interval(&self) -> u64 {
        self.interval.load(Ordering::Relaxed)
    }

    /// Re-times the word `tat` of a bucket (this one's or a key's) from `old_interval` to
    /// `interval`, capped at `span`, at `now`: the step [`reshape`](Self::reshape) takes.
    pub(super) fn retime(tat: &AtomicU64, old_interval: u64, interval: u64, span: u64, now: u64) {
        let old_interval = old_interval.max(1);
        let retime = |tat: u64| {
            let owed = tat.checked_sub(now).filter(|&owed| owed > 0)?;
            // Rounded up, so a reshape never hands out a fraction of a cell.
            let cells_in_nanos = u128::from(owed) * u128::from(interval);
            let retimed = cells_in_nanos.div_ceil(u128::from(old_interval));
            let owed = u64::try_from(retimed).unwrap_or(u64::MAX).min(span);
            Some(now.saturating_add(owed))
        };
        // `Err` means nothing was owed: the tat stays in the past.
        let _ = tat.fetch_update(Ordering::Relaxed, Ordering::Relaxed, retime);
    }

    /// Now, in nanoseconds since `origin`. A clock behind `origin` (another runtime's paused
    /// clock) reads as 0, which only makes the limiter stricter, never looser.
    #[inline]
    pub(super) fn now(&self) -> u64 {
        self.nanos_at(Instant::now())
    }

    #[inline]
    pub(super) fn nanos_at(&self, instant: Instant) -> u64 {
        let nanos = instant.saturating_duration_since(self.origin).as_nanos();
        u64::try_from(nanos).unwrap_or(u64::MAX)
    }

    /// The instant `nanos` after `origin`, for sleeping until it.
    pub(super) fn instant_at(&self, nanos: u64) -> Instant {
        let offset = Duration::from_nanos(nanos);
        // Past what `Instant` can hold is "never" for any sleep.
        self.origin
            .checked_add(offset)
            .unwrap_or_else(|| self.origin + MAX_SPAN)
    }

    /// Takes one cell at `now` (nanoseconds since `origin`), or says when the next one will be
    /// there: `Err(at)`, with `at > now`, in nanoseconds since `origin`.
    #[inline]
    pub(super) fn try_take(&self, now: u64) -> Result<(), u64> {
        self.try_take_from(&self.tat, now)
    }

    /// [`try_take`](Self::try_take) on another bucket of this one's shape: `tat` is that
    /// bucket's word (a key's, in a keyed limiter).
    #[inline]
    pub(super) fn try_take_from(&self, word: &AtomicU64, now: u64) -> Result<(), u64> {
        let (interval, span) = (
            self.interval.load(Ordering::Relaxed),
            self.span.load(Ordering::Relaxed),
        );
        let mut tat = word.load(Ordering::Relaxed);
        loop {
            let next = tat.max(now).saturating_add(interval);
            // The first moment at which `next <= moment + span`.
            let earliest = next.saturating_sub(span);
            if earliest > now {
                return Err(earliest);
            }
            match word.compare_exchange_weak(tat, next, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => return Ok(()),
                Err(actual) => tat = actual,
            }
        }
    }

    /// Cells the bucket holds at `now`, from 0 to `burst`.
    pub(super) fn available(&self, now: u64) -> u64 {
        self.available_in(&self.tat, now)
    }

    /// [`available`](Self::available) in another bucket of this one's shape.
    pub(super) fn available_in(&self, word: &AtomicU64, now: u64) -> u64 {
        let tat = word.load(Ordering::Relaxed).max(now);
        let span = self.span.load(Ordering::Relaxed);
        now.saturating_add(span).saturating_sub(tat) / self.interval.load(Ordering::Relaxed).max(1)
    }

    /// Nanoseconds a bucket takes to fill from empty.
    pub(super) fn span(&self) -> u64 {
        self.span.load(Ordering::Relaxed)
    }

    /// Fills the bucket up.
    pub(super) fn refill(&self) {
        self.tat.store(0, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    #[test]
    fn a_full_bucket_gives_burst_cells_then_one_per_interval() {
        let gcra = Gcra::new(10 * MS, 3);
        assert_eq!(gcra.available(0), 3);
        for _ in 0..3 {
            assert_eq!(gcra.try_take(0), Ok(()));
        }
        assert_eq!(gcra.available(0), 0);
        assert_eq!(gcra.try_take(0), Err(10 * MS));
        assert_eq!(gcra.try_take(10 * MS - 1), Err(10 * MS));
        assert_eq!(gcra.try_take(10 * MS), Ok(()));
        assert_eq!(gcra.try_take(10 * MS), Err(20 * MS));
        // Refilled up to `burst`, not beyond.
        assert_eq!(gcra.available(1_000 * MS), 3);
        assert_eq!(gcra.available(25 * MS), 1);
    }

    #[test]
    fn a_clock_behind_the_origin_reads_zero() {
        let gcra = Gcra::new(MS, 1);
        let before = gcra.origin.checked_sub(Duration::from_secs(1));
        assert_eq!(before.map(|instant| gcra.nanos_at(instant)), Some(0));
        assert_eq!(gcra.nanos_at(gcra.instant_at(5 * MS)), 5 * MS);
    }

    #[test]
    fn a_reshape_keeps_the_cells_taken_at_the_new_interval() {
        // 10 ms a cell, 4 at once; 3 taken at 0: 1 left, 30 ms owed.
        let gcra = Gcra::new(10 * MS, 4);
        for _ in 0..3 {
            assert_eq!(gcra.try_take(0), Ok(()));
        }
        assert_eq!(gcra.available(0), 1);

        // Twice as fast, same burst: still 3 missing, refilled by 15 ms.
        gcra.reshape(5 * MS, 4, 0);
        assert_eq!(gcra.available(0), 1);
        assert_eq!(gcra.available(5 * MS), 2);
        assert_eq!(gcra.available(15 * MS), 4);

        // A larger burst adds its room at once; the 2 cells still missing at 5 ms stay missing.
        gcra.reshape(5 * MS, 10, 5 * MS);
        assert_eq!(gcra.available(5 * MS), 8);
        assert_eq!(gcra.available(15 * MS), 10);
    }

    #[test]
    fn a_smaller_burst_owes_at_most_one_bucket() {
        let gcra = Gcra::new(MS, 100);
        for _ in 0..100 {
            assert_eq!(gcra.try_take(0), Ok(()));
        }
        // 100 cells missing, but the new bucket holds 2: empty, with the next cell one new
        // interval away rather than a hundred.
        gcra.reshape(10 * MS, 2, 0);
        assert_eq!(gcra.available(0), 0);
        assert_eq!(gcra.try_take(0), Err(10 * MS));
        assert_eq!(gcra.try_take(10 * MS), Ok(()));
    }

    #[test]
    fn a_full_bucket_stays_full_through_a_reshape() {
        let gcra = Gcra::new(MS, 3);
        assert_eq!(gcra.try_take(0), Ok(()));
        gcra.reshape(2 * MS, 5, 100 * MS);
        assert_eq!(gcra.available(100 * MS), 5);
    }

    #[test]
    fn refill_fills_the_bucket() {
        let gcra = Gcra::new(MS, 2);
        assert_eq!((gcra.try_take(0), gcra.try_take(0)), (Ok(()), Ok(())));
        assert_eq!(gcra.available(0), 0);
        gcra.refill();
        assert_eq!(gcra.available(0), 2);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn tasks_on_many_threads_never_take_more_than_burst_plus_the_elapsed_share() {
        // A cell every 1 ms, 5 at once. Whatever the interleaving, the cells taken between
        // two clock readings `a` and `b` are at most burst + (b - a) / interval.
        let start = Instant::now();
        let gcra = std::sync::Arc::new(Gcra::new(MS, 5));
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let gcra = std::sync::Arc::clone(&gcra);
                tokio::spawn(async move {
                    let mut taken = 0u64;
                    for _ in 0..5_000 {
                        if gcra.try_take(gcra.now()).is_ok() {
                            taken += 1;
                        }
                        tokio::task::yield_now().await;
                    }
                    taken
                })
            })
            .collect();
        let mut taken = 0;
        for task in tasks {
            taken += task.await.expect("no panic");
        }
        let elapsed = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
        assert!(taken <= 5 + elapsed / MS, "{taken} cells in {elapsed} ns");
        assert!(taken >= 5, "the burst is there at once");
    }
}
