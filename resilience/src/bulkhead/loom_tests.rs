//! Loom models of the bulkhead's slot accounting: every interleaving (up to a preemption bound)
//! of callers claiming, queueing for, handing over and abandoning slots, and of a reload resizing
//! them meanwhile.
//!
//! Run with `RUSTFLAGS="--cfg resilience_loom" cargo test -p resilience --lib loom_tests`
//! (`.ci/run` does). Waiting on tokio's timer is out of loom's reach, so a queued caller here
//! gives up its place at once with [`WaitTicket::leave`], which is what a cancelled or timed-out
//! wait does, and takes the slot if one reached it first.

use loom::sync::atomic::{AtomicU32, Ordering::SeqCst};
use loom::sync::Arc;
use loom::thread;

use super::slots::{Admission, Slots};

fn model(body: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    if builder.preemption_bound.is_none() {
        builder.preemption_bound = Some(3);
    }
    builder.check(body);
}

/// The callers running in a slot now, checked against `max` on every entry.
struct Occupants {
    running: AtomicU32,
    max: u32,
}

impl Occupants {
    fn new(max: u32) -> Arc<Self> {
        Arc::new(Occupants {
            running: AtomicU32::new(0),
            max,
        })
    }

    /// Runs in a slot the caller owns, then gives the slot back.
    fn run_and_release(&self, slots: &Slots) {
        let before = self.running.fetch_add(1, SeqCst);
        assert!(before < self.max, "more than max calls in flight");
        self.running.fetch_sub(1, SeqCst);
        slots.release();
    }
}

fn assert_empty(slots: &Slots) {
    let occupancy = slots.occupancy();
    assert_eq!(occupancy.in_flight(), 0, "a slot was leaked");
    assert_eq!(occupancy.queued(), 0, "a queue place was leaked");
}

#[test]
fn lock_free_claims_never_exceed_max_nor_leak() {
    model(|| {
        let slots = Arc::new(Slots::new(1, 0));
        let occupants = Occupants::new(1);
        let callers: Vec<_> = (0..2)
            .map(|_| {
                let (slots, occupants) = (Arc::clone(&slots), Arc::clone(&occupants));
                thread::spawn(move || {
                    if slots.try_claim() {
                        occupants.run_and_release(&slots);
                    }
                })
            })
            .collect();
        for caller in callers {
            caller.join().expect("caller panicked");
        }
        assert_empty(&slots);
    });
}

#[test]
fn a_release_racing_a_leaving_waiter_strands_no_slot() {
    model(|| {
        let slots = Arc::new(Slots::new(1, 1));
        let occupants = Occupants::new(1);
        // The holder takes the only slot before the waiter arrives, and gives it back while the
        // waiter queues and leaves.
        assert!(slots.try_claim());
        let holder = {
            let slots = Arc::clone(&slots);
            thread::spawn(move || slots.release())
        };
        let waiter = {
            let (slots, occupants) = (Arc::clone(&slots), Arc::clone(&occupants));
            thread::spawn(move || match slots.claim_or_queue() {
                Admission::Admitted => occupants.run_and_release(&slots),
                Admission::Queued(mut ticket) => {
                    if ticket.leave() {
                        occupants.run_and_release(&slots);
                    }
                }
                Admission::Full => panic!("the queue had room"),
            })
        };
        holder.join().expect("holder panicked");
        waiter.join().expect("waiter panicked");
        assert_empty(&slots);
    });
}

#[test]
fn a_dropped_ticket_passes_on_a_handed_over_slot() {
    model(|| {
        let slots = Arc::new(Slots::new(1, 2));
        let occupants = Occupants::new(1);
        assert!(slots.try_claim());
        let holder = {
            let slots = Arc::clone(&slots);
            thread::spawn(move || slots.release())
        };
        // Two waiters: one abandons its place by dropping the ticket (a cancelled call), the
        // other takes whatever reaches it.
        let abandoning = {
            let slots = Arc::clone(&slots);
            thread::spawn(move || {
                if let Admission::Admitted = slots.claim_or_queue() {
                    slots.release();
                }
            })
        };
        let taking = {
            let (slots, occupants) = (Arc::clone(&slots), Arc::clone(&occupants));
            thread::spawn(move || match slots.claim_or_queue() {
                Admission::Admitted => occupants.run_and_release(&slots),
                Admission::Queued(mut ticket) => {
                    if ticket.leave() {
                        occupants.run_and_release(&slots);
                    }
                }
                Admission::Full => {}
            })
        };
        holder.join().expect("holder panicked");
        abandoning.join().expect("caller panicked");
        taking.join().expect("caller panicked");
        assert_empty(&slots);
    });
}

#[test]
fn concurrent_claims_and_queueing_respect_max() {
    model(|| {
        let slots = Arc::new(Slots::new(2, 1));
        let occupants = Occupants::new(2);
        let callers: Vec<_> = (0..3)
            .map(|_| {
                let (slots, occupants) = (Arc::clone(&slots), Arc::clone(&occupants));
                thread::spawn(move || match slots.claim_or_queue() {
                    Admission::Admitted => occupants.run_and_release(&slots),
                    Admission::Queued(mut ticket) => {
                        if ticket.leave() {
                            occupants.run_and_release(&slots);
                        }
                    }
                    Admission::Full => {}
                })
            })
            .collect();
        for caller in callers {
            caller.join().expect("caller panicked");
        }
        assert_empty(&slots);
    });
}

/// A caller that takes what it is given: a slot at once, or, once queued, a slot handed over
/// before it leaves.
fn call_once(slots: &Slots, occupants: &Occupants) {
    match slots.claim_or_queue() {
        Admission::Admitted => occupants.run_and_release(slots),
        Admission::Queued(mut ticket) => {
            if ticket.leave() {
                occupants.run_and_release(slots);
            }
        }
        Admission::Full => {}
    }
}

#[test]
fn growing_while_a_caller_queues_and_a_holder_releases_strands_no_slot() {
    model(|| {
        let slots = Arc::new(Slots::new(1, 1));
        // Checked against the larger max: a call may run on either side of the resize.
        let occupants = Occupants::new(2);
        assert!(slots.try_claim());
        let holder = {
            let slots = Arc::clone(&slots);
            thread::spawn(move || slots.release())
        };
        let caller = {
            let (slots, occupants) = (Arc::clone(&slots), Arc::clone(&occupants));
            thread::spawn(move || call_once(&slots, &occupants))
        };
        let reload = {
            let slots = Arc::clone(&slots);
            thread::spawn(move || slots.resize(2, 1))
        };
        holder.join().expect("holder panicked");
        caller.join().expect("caller panicked");
        reload.join().expect("reload panicked");
        assert_empty(&slots);
        assert_eq!(slots.max_concurrent(), 2);
    });
}

#[test]
fn shrinking_while_a_holder_releases_and_a_caller_queues_strands_no_slot() {
    model(|| {
        let slots = Arc::new(Slots::new(2, 1));
        let occupants = Occupants::new(2);
        assert!(slots.try_claim());
        assert!(slots.try_claim());
        let holder = {
            let slots = Arc::clone(&slots);
            thread::spawn(move || slots.release())
        };
        let caller = {
            let (slots, occupants) = (Arc::clone(&slots), Arc::clone(&occupants));
            thread::spawn(move || call_once(&slots, &occupants))
        };
        // The reload, then the other holder's release: over the new max, or handed over.
        slots.resize(1, 1);
        slots.release();
        holder.join().expect("holder panicked");
        caller.join().expect("caller panicked");
        assert_empty(&slots);
        assert_eq!(slots.max_concurrent(), 1);
    });
}
