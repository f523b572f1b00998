//! Outcome counters spread over cache lines, so that concurrent calls do not contend on them.

use std::cell::Cell;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};

use super::CallOutcome;

/// Counters of one group of threads. Aligned to two cache lines because adjacent-line
/// prefetchers pair 64-byte lines, which would make neighbouring stripes contend again.
#[derive(Debug, Default)]
#[repr(align(128))]
struct Stripe {
    successes: AtomicU64,
    failures: AtomicU64,
    ignored: AtomicU64,
    rejected: AtomicU64,
}

/// Sums of every stripe's counters at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct OutcomeTotals {
    pub(super) successes: u64,
    pub(super) failures: u64,
    pub(super) ignored: u64,
    pub(super) rejected: u64,
}

/// Per-outcome counters, striped by thread.
///
/// Every call must be counted, and one shared counter would make every core write the same cache
/// line on every success. Each thread instead increments the stripe it was dealt (a relaxed
/// add on a line other threads rarely touch); reading sums the stripes, so totals taken while
/// calls finish are a moment's approximation, and exact once they are done.
#[derive(Debug)]
pub(super) struct OutcomeCounters {
    /// A power of two long, so a thread's stripe is its index masked.
    stripes: Box<[Stripe]>,
}

impl OutcomeCounters {
    pub(super) fn new() -> Self {
        // More stripes than cores, since more threads than cores may call; capped to bound the
        // memory of each breaker (128 bytes a stripe).
        let cores = std::thread::available_parallelism().map_or(4, NonZeroUsize::get);
        let stripes = cores.saturating_mul(4).clamp(1, 64).next_power_of_two();
        OutcomeCounters {
            stripes: (0..stripes).map(|_| Stripe::default()).collect(),
        }
    }

    #[inline]
    fn stripe(&self) -> Option<&Stripe> {
        self.stripes
            .get(thread_stripe() & self.stripes.len().saturating_sub(1))
    }

    #[inline]
    pub(super) fn count(&self, outcome: CallOutcome) {
        if let Some(stripe) = self.stripe() {
            let counter = match outcome {
                CallOutcome::Success => &stripe.successes,
                CallOutcome::Failure => &stripe.failures,
                CallOutcome::Ignored => &stripe.ignored,
            };
            counter.fetch_add(1, Relaxed);
        }
    }

    pub(super) fn count_rejection(&self) {
        if let Some(stripe) = self.stripe() {
            stripe.rejected.fetch_add(1, Relaxed);
        }
    }

    pub(super) fn successes(&self) -> u64 {
        self.stripes.iter().fold(0, |sum, stripe| {
            sum.saturating_add(stripe.successes.load(Relaxed))
        })
    }

    pub(super) fn totals(&self) -> OutcomeTotals {
        self.stripes
            .iter()
            .fold(OutcomeTotals::default(), |sum, stripe| OutcomeTotals {
                successes: sum.successes.saturating_add(stripe.successes.load(Relaxed)),
                failures: sum.failures.saturating_add(stripe.failures.load(Relaxed)),
                ignored: sum.ignored.saturating_add(stripe.ignored.load(Relaxed)),
                rejected: sum.rejected.saturating_add(stripe.rejected.load(Relaxed)),
            })
    }

    pub(super) fn reset(&self) {
        for stripe in self.stripes.iter() {
            stripe.successes.store(0, Relaxed);
            stripe.failures.store(0, Relaxed);
            stripe.ignored.store(0, Relaxed);
            stripe.rejected.store(0, Relaxed);
        }
    }
}

/// This thread's stripe index, dealt round-robin on its first count. Shared by every breaker:
/// threads dealt consecutive indices land on different stripes of each.
#[inline]
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn counts_from_many_threads_add_up() {
        let counters = Arc::new(OutcomeCounters::new());
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let counters = Arc::clone(&counters);
                std::thread::spawn(move || {
                    for _ in 0..1000 {
                        counters.count(CallOutcome::Success);
                    }
                    counters.count(CallOutcome::Failure);
                    counters.count(CallOutcome::Ignored);
                    counters.count_rejection();
                })
            })
            .collect();
        for thread in threads {
            thread.join().expect("counting thread panicked");
        }
        let totals = counters.totals();
        assert_eq!(
            totals,
            OutcomeTotals {
                successes: 4000,
                failures: 4,
                ignored: 4,
                rejected: 4
            }
        );
        assert_eq!(counters.successes(), 4000);
        counters.reset();
        assert_eq!(counters.totals(), OutcomeTotals::default());
    }
}
