//! Calls running through a policy, counted so that a shutdown can wait for them and name them.
//!
//! A call adds one to its thread's stripe of `started` when a policy admits it, and one to
//! `ended` when its guard drops, whichever way it ends (a result, an error, a panic, or the
//! caller dropping the future). Two relaxed adds on a stripe the thread rarely shares, so the
//! success path pays about a nanosecond; the count, read off the call path, is `started - ended`
//! summed over the stripes. Never reset with a policy's stats: a reset while calls run must
//! not lose them.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crate::striped::Striped;

#[derive(Debug, Default)]
struct Stripe {
    started: AtomicU64,
    ended: AtomicU64,
}

/// The calls a policy has admitted and not yet seen end.
#[derive(Debug, Default)]
pub(crate) struct InFlight(Striped<Stripe>);

impl InFlight {
    /// Counts a call in; it is counted out when the guard drops.
    #[inline(always)]
    pub(crate) fn enter(&self) -> InFlightGuard<'_> {
        self.0.local().started.fetch_add(1, Relaxed);
        InFlightGuard(self)
    }

    /// Counts a call in whose end the caller reports with [`exit`](Self::exit) (for a permit that
    /// already has a drop path of its own).
    #[inline(always)]
    pub(crate) fn enter_unguarded(&self) {
        self.0.local().started.fetch_add(1, Relaxed);
    }

    /// Counts a call out.
    #[inline(always)]
    pub(crate) fn exit(&self) {
        self.0.local().ended.fetch_add(1, Relaxed);
    }

    /// The calls running now: a moment's approximation while calls start and end, exact once
    /// none does. `ended` is read first, so a call that ends while this reads is never counted
    /// out without having been counted in.
    pub(crate) fn count(&self) -> u32 {
        let ended = self.0.sum(|stripe| &stripe.ended);
        let started = self.0.sum(|stripe| &stripe.started);
        u32::try_from(started.saturating_sub(ended)).unwrap_or(u32::MAX)
    }
}

/// One call counted in by a policy, counted out when dropped.
///
/// Held by the code that runs a call (the attribute macros' expansion among it) for as long as
/// the call runs.
#[derive(Debug)]
#[must_use = "the call is counted out as soon as the guard drops"]
pub struct InFlightGuard<'a>(&'a InFlight);

impl Drop for InFlightGuard<'_> {
    #[inline(always)]
    fn drop(&mut self) {
        self.0.exit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::striped::on_threads;

    #[test]
    fn guards_count_calls_in_and_out_on_any_thread() {
        let in_flight = InFlight::default();
        let outer = in_flight.enter();
        on_threads(4, || {
            for _ in 0..1000 {
                let _guard = in_flight.enter();
            }
        });
        assert_eq!(in_flight.count(), 1);
        in_flight.enter_unguarded();
        assert_eq!(in_flight.count(), 2);
        // Counted out on another thread than the one that counted it in.
        std::thread::scope(|scope| {
            scope.spawn(|| in_flight.exit());
        });
        drop(outer);
        assert_eq!(in_flight.count(), 0);
    }

    #[test]
    fn a_guard_dropped_by_unwinding_counts_the_call_out() {
        let in_flight = InFlight::default();
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _guard = in_flight.enter();
            panic!("the call panicked");
        }));
        assert!(caught.is_err());
        assert_eq!(in_flight.count(), 0);
    }
}
