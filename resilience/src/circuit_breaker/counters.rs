//! Outcome counters, striped by thread (see [`Striped`]).

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use super::CallOutcome;
use crate::striped::Striped;

/// Counters of one group of threads.
#[derive(Debug, Default)]
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

/// Per-outcome counters: every call is counted, on the calling thread's stripe.
#[derive(Debug, Default)]
pub(super) struct OutcomeCounters(Striped<Stripe>);

impl OutcomeCounters {
    #[inline(always)]
    pub(super) fn count(&self, outcome: CallOutcome) {
        let stripe = self.0.local();
        let counter = match outcome {
            CallOutcome::Success => &stripe.successes,
            CallOutcome::Failure => &stripe.failures,
            CallOutcome::Ignored => &stripe.ignored,
        };
        counter.fetch_add(1, Relaxed);
    }

    pub(super) fn count_rejection(&self) {
        self.0.local().rejected.fetch_add(1, Relaxed);
    }

    pub(super) fn successes(&self) -> u64 {
        self.0.sum(|stripe| &stripe.successes)
    }

    pub(super) fn totals(&self) -> OutcomeTotals {
        OutcomeTotals {
            successes: self.0.sum(|stripe| &stripe.successes),
            failures: self.0.sum(|stripe| &stripe.failures),
            ignored: self.0.sum(|stripe| &stripe.ignored),
            rejected: self.0.sum(|stripe| &stripe.rejected),
        }
    }

    pub(super) fn reset(&self) {
        for stripe in self.0.iter() {
            stripe.successes.store(0, Relaxed);
            stripe.failures.store(0, Relaxed);
            stripe.ignored.store(0, Relaxed);
            stripe.rejected.store(0, Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::striped::on_threads;

    #[test]
    fn counts_from_many_threads_add_up() {
        let counters = OutcomeCounters::default();
        on_threads(4, || {
            for _ in 0..1000 {
                counters.count(CallOutcome::Success);
            }
            counters.count(CallOutcome::Failure);
            counters.count(CallOutcome::Ignored);
            counters.count_rejection();
        });
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
