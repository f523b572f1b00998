//! Counters spread over cache lines by thread, so that concurrent calls do not contend on them.
//!
//! Every policy counts its calls, and one shared counter would make every core write the same
//! cache line on every call. A [`Striped`] value instead keeps one copy per group of threads;
//! each thread adds to the stripe it was dealt (a relaxed add on a line other threads rarely
//! touch), and reading sums the stripes, so totals taken while calls finish are a moment's
//! approximation, and exact once they are done.

use std::cell::Cell;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};

/// One stripe. Aligned to two cache lines because adjacent-line prefetchers pair 64-byte lines,
/// which would make neighbouring stripes contend again.
#[derive(Debug, Default)]
#[repr(align(128))]
struct Padded<T>(T);

/// A `T` (a group of atomic counters) per group of threads.
#[derive(Debug)]
pub(crate) struct Striped<T> {
    /// A power of two long and never empty, so a thread's stripe is its index masked.
    stripes: Box<[Padded<T>]>,
}

impl<T: Default> Striped<T> {
    pub(crate) fn new() -> Self {
        // More stripes than cores, since more threads than cores may call; capped to bound the
        // memory of each policy (128 bytes a stripe).
        let cores = std::thread::available_parallelism().map_or(4, NonZeroUsize::get);
        let stripes = cores.saturating_mul(4).clamp(1, 64).next_power_of_two();
        Striped {
            stripes: (0..stripes).map(|_| Padded::default()).collect(),
        }
    }
}

impl<T: Default> Default for Striped<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> Striped<T> {
    /// The calling thread's stripe.
    #[inline(always)]
    pub(crate) fn local(&self) -> &T {
        // The length is a power of two, so the mask keeps the index in bounds.
        let index = thread_stripe() & (self.stripes.len() - 1);
        &self.stripes[index].0
    }

    /// Every stripe, for summing or resetting.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &T> {
        self.stripes.iter().map(|stripe| &stripe.0)
    }

    /// The sum of one counter over every stripe.
    pub(crate) fn sum(&self, counter: impl Fn(&T) -> &AtomicU64) -> u64 {
        self.iter().fold(0, |sum, stripe| {
            sum.saturating_add(counter(stripe).load(Relaxed))
        })
    }
}

/// One counter, striped.
#[derive(Debug, Default)]
pub(crate) struct StripedCounter(Striped<AtomicU64>);

impl StripedCounter {
    /// Adds one on the calling thread's stripe.
    #[inline(always)]
    pub(crate) fn increment(&self) {
        self.0.local().fetch_add(1, Relaxed);
    }

    /// The total over every stripe.
    pub(crate) fn get(&self) -> u64 {
        self.0.sum(|counter| counter)
    }

    /// Sets every stripe back to zero.
    pub(crate) fn reset(&self) {
        self.0.iter().for_each(|counter| counter.store(0, Relaxed));
    }
}

/// This thread's stripe index, dealt round-robin on its first count. Shared by every striped
/// value: threads dealt consecutive indices land on different stripes of each.
#[inline(always)]
fn thread_stripe() -> usize {
    thread_local! {
        static STRIPE: Cell<usize> = const { Cell::new(usize::MAX) };
    }
    STRIPE
        .try_with(|stripe| match stripe.get() {
            usize::MAX => deal_stripe(stripe),
            index => index,
        })
        // A thread being torn down counts on stripe 0.
        .unwrap_or(0)
}

#[cold]
fn deal_stripe(stripe: &Cell<usize>) -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let index = NEXT.fetch_add(1, Relaxed) & (usize::MAX >> 1);
    stripe.set(index);
    index
}

/// Runs `work` on `threads` threads at once and waits for them all.
#[cfg(test)]
pub(crate) fn on_threads(threads: usize, work: impl Fn() + Sync) {
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(&work);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_from_many_threads_add_up() {
        let counter = StripedCounter::default();
        on_threads(4, || {
            for _ in 0..1000 {
                counter.increment();
            }
        });
        assert_eq!(counter.get(), 4000);
        counter.reset();
        assert_eq!(counter.get(), 0);
    }

    #[test]
    fn a_thread_keeps_its_stripe_and_the_stripes_can_be_masked() {
        let striped: Striped<AtomicU64> = Striped::new();
        assert!(striped.stripes.len().is_power_of_two());
        assert!(std::ptr::eq(striped.local(), striped.local()));
        striped.local().fetch_add(2, Relaxed);
        assert_eq!(striped.sum(|counter| counter), 2);
    }
}
