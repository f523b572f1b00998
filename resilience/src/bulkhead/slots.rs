//! The slot accounting behind a bulkhead: one atomic word for the fast path, a FIFO of waiting
//! callers for the rest.
//!
//! The word packs the calls in flight (low 32 bits) and the callers queued (high 32 bits), so
//! claiming a free slot is one compare-exchange and giving it back, while nobody waits, another.
//! Everything else — queueing, handing a freed slot to the oldest waiter, a waiter leaving — runs
//! under the `waiters` lock, and only that code changes the queued count.
//!
//! The rule that makes this fair: **a slot is never free while a caller that can still take it
//! is queued.** A release that finds anyone queued does not free its slot but hands it to the
//! oldest waiter still waiting (the in-flight count does not move); it frees the slot only when
//! every caller counted as queued turns out to be on its way out. A caller is queued only when
//! every slot is taken. So a newcomer that finds a free slot jumps nobody, and the claim needs
//! no look at the queue.
//!
//! A waiter is counted from the moment it is queued until it is handed a slot (the releaser then
//! takes its count out) or it leaves (it takes its count out itself, under the lock). The
//! handover is a oneshot send, which either reaches a waiter still waiting or fails because that
//! waiter has closed its end: there is no moment where a slot belongs to nobody.
//!
//! **Resizing.** `max_concurrent` and the queue limit are relaxed atomics, so a reload can change
//! them while calls run ([`Slots::resize`]). The rule above becomes: a slot is never free while a
//! caller is queued, *and a slot over the max is never handed on*. Growing hands the new slots
//! to the waiters, oldest first, under the lock and before the lock-free claim can see the new
//! max, so newcomers still jump nobody. Shrinking only lowers the max: the calls in flight over
//! it keep their slots, and each release while the count is over the max retires its slot
//! instead of handing it over, until the count is back at the new max. A caller queued before a
//! shrink keeps its place even beyond the new queue limit. The in-flight count only ever moves
//! by a claim (below the max), a release or a retirement (of a slot its caller owned), so no
//! slot is leaked or counted twice, whatever the resizes.
//!
//! The queued count changes only under the lock, so under the lock `queued() > 0` is a fact,
//! not a guess. Outside the lock a claim racing a resize may still be judged against the old
//! max: one such call may run over a max that was just lowered, as the calls already in flight
//! do.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::PoisonError;
use std::time::Duration;

use tokio::sync::oneshot;

use crate::sync::{AtomicU32, AtomicU64, Mutex, MutexGuard};

/// One call in flight, in the occupancy word.
const IN_FLIGHT: u64 = 1;
/// One caller queued, in the occupancy word.
const QUEUED: u64 = 1 << 32;

/// A decoded occupancy word.
#[derive(Debug, Clone, Copy)]
pub(super) struct Occupancy(u64);

impl Occupancy {
    pub(super) fn in_flight(self) -> u32 {
        // The low half, by truncation.
        self.0 as u32
    }

    pub(super) fn queued(self) -> u32 {
        (self.0 >> 32) as u32
    }
}

/// What a caller willing to wait got.
pub(super) enum Admission<'a> {
    /// A slot: the caller now owns it and must [`Slots::release`] it.
    Admitted,
    /// Every slot is taken and the queue is full.
    Full,
    /// The caller is queued; wait on the ticket.
    Queued(WaitTicket<'a>),
}

/// Slots for calls in flight, and the queue of callers waiting for one.
pub(super) struct Slots {
    occupancy: AtomicU64,
    /// Calls admitted at once; changed only by [`Slots::resize`], under the `waiters` lock.
    max_concurrent: AtomicU32,
    /// Callers allowed to queue; changed only by [`Slots::resize`], under the `waiters` lock.
    queue_limit: AtomicU32,
    /// One handover per queued caller, oldest first. Entries of callers that left stay until a
    /// releaser or the next queued caller clears them.
    waiters: Mutex<VecDeque<oneshot::Sender<()>>>,
}

impl Slots {
    pub(super) fn new(max_concurrent: u32, queue_limit: u32) -> Self {
        Slots {
            occupancy: AtomicU64::new(0),
            max_concurrent: AtomicU32::new(max_concurrent),
            queue_limit: AtomicU32::new(queue_limit),
            waiters: Mutex::new(VecDeque::new()),
        }
    }

    pub(super) fn occupancy(&self) -> Occupancy {
        Occupancy(self.occupancy.load(Ordering::Relaxed))
    }

    /// Calls admitted at once, now.
    #[inline]
    pub(super) fn max_concurrent(&self) -> u32 {
        self.max_concurrent.load(Ordering::Relaxed)
    }

    /// Callers allowed to queue, now.
    #[inline]
    pub(super) fn queue_limit(&self) -> u32 {
        self.queue_limit.load(Ordering::Relaxed)
    }

    /// Claims a free slot without waiting, lock-free; `true` when the caller now owns one.
    #[inline]
    pub(super) fn try_claim(&self) -> bool {
        let max_concurrent = self.max_concurrent();
        let mut current = self.occupancy.load(Ordering::Relaxed);
        loop {
            if Occupancy(current).in_flight() >= max_concurrent {
                return false;
            }
            match self.occupancy.compare_exchange_weak(
                current,
                current + IN_FLIGHT,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(actual) => current = actual,
            }
        }
    }

    /// Claims a slot, or queues the caller if the queue has room.
    pub(super) fn claim_or_queue(&self) -> Admission<'_> {
        if self.try_claim() {
            return Admission::Admitted;
        }
        if self.occupancy().queued() >= self.queue_limit() {
            return Admission::Full;
        }
        let mut waiters = self.lock_waiters();
        // Read under the lock, which every resize holds: the limits cannot move from here on.
        let (max_concurrent, queue_limit) = (self.max_concurrent(), self.queue_limit());
        let mut current = self.occupancy.load(Ordering::Relaxed);
        loop {
            let seen = Occupancy(current);
            // A slot freed since the first look is this caller's: nobody waits for it.
            let (next, admitted) = if seen.in_flight() < max_concurrent {
                (current + IN_FLIGHT, true)
            } else if seen.queued() < queue_limit {
                (current + QUEUED, false)
            } else {
                return Admission::Full;
            };
            match self.occupancy.compare_exchange_weak(
                current,
                next,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) if admitted => return Admission::Admitted,
                Ok(_) => break,
                Err(actual) => current = actual,
            }
        }
        // Clearing the entries of callers that left keeps the queue's memory within its limit.
        waiters.retain(|handover| !handover.is_closed());
        let (handover, receiver) = oneshot::channel();
        waiters.push_back(handover);
        Admission::Queued(WaitTicket {
            slots: self,
            handover: Some(receiver),
        })
    }

    /// Gives a slot back: to the oldest waiter if there is one, else to the pool.
    #[inline]
    pub(super) fn release(&self) {
        let mut current = self.occupancy.load(Ordering::Relaxed);
        loop {
            if Occupancy(current).queued() != 0 {
                return self.hand_over();
            }
            match self.occupancy.compare_exchange_weak(
                current,
                current - IN_FLIGHT,
                Ordering::Release,
                Ordering::Relaxed,
            ) {
                Ok(_) => return,
                Err(actual) => current = actual,
            }
        }
    }

    /// The release path when someone is queued.
    fn hand_over(&self) {
        let mut waiters = self.lock_waiters();
        let seen = self.occupancy();
        if seen.queued() == 0 {
            // Every waiter left before the lock was taken: release as if none had come.
            drop(waiters);
            return self.release();
        }
        // With someone queued, only releases (which wait for this lock) lower the count, and no
        // claim raises it past the max: it stays over the max while this runs.
        if seen.in_flight() > self.max_concurrent() {
            // The max was lowered: this slot is retired, not handed on; the waiters wait for
            // the count to come down to the new max.
            self.occupancy.fetch_sub(IN_FLIGHT, Ordering::Release);
            return;
        }
        if !Self::hand_to_oldest(&mut waiters, &self.occupancy) {
            // Every caller still counted as queued is leaving and will take its own count out.
            self.occupancy.fetch_sub(IN_FLIGHT, Ordering::Release);
        }
    }

    /// Hands a slot the caller owns to the oldest waiter still waiting, under the lock; `false`
    /// when every waiter has left (or is leaving), and the slot is still the caller's.
    fn hand_to_oldest(waiters: &mut VecDeque<oneshot::Sender<()>>, occupancy: &AtomicU64) -> bool {
        while let Some(handover) = waiters.pop_front() {
            if handover.send(()).is_ok() {
                // The slot changes owner without leaving flight; the waiter is no longer queued.
                occupancy.fetch_sub(QUEUED, Ordering::Release);
                return true;
            }
        }
        false
    }

    /// Sets new limits while calls run. A larger max admits queued callers at once, oldest
    /// first, up to it; a smaller one lets the calls in flight finish and admits no one until
    /// the count is under it. A smaller queue limit turns newcomers away but keeps every caller
    /// already queued in its place.
    pub(super) fn resize(&self, max_concurrent: u32, queue_limit: u32) {
        let mut waiters = self.lock_waiters();
        self.queue_limit.store(queue_limit, Ordering::Relaxed);
        // The waiters are older than any newcomer: the new slots are theirs first, claimed one
        // at a time against the new max while the lock-free claim still sees the old one.
        let mut current = self.occupancy.load(Ordering::Relaxed);
        loop {
            let seen = Occupancy(current);
            if seen.queued() == 0 || seen.in_flight() >= max_concurrent {
                break;
            }
            if let Err(actual) = self.occupancy.compare_exchange_weak(
                current,
                current + IN_FLIGHT,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                current = actual;
                continue;
            }
            if !Self::hand_to_oldest(&mut waiters, &self.occupancy) {
                // Every caller still counted as queued is leaving: the slot goes back.
                self.occupancy.fetch_sub(IN_FLIGHT, Ordering::Release);
                break;
            }
            current = self.occupancy.load(Ordering::Relaxed);
        }
        self.max_concurrent.store(max_concurrent, Ordering::Relaxed);
    }

    fn lock_waiters(&self) -> MutexGuard<'_, VecDeque<oneshot::Sender<()>>> {
        // Nothing panics while the lock is held, so a poisoned lock still guards a sound queue.
        self.waiters.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A caller's place in the queue. Dropping it, waiting or not, gives the place up — and passes
/// on a slot handed over in the meantime, so a cancelled waiter never strands one.
pub(super) struct WaitTicket<'a> {
    slots: &'a Slots,
    /// `None` once the ticket is settled: a slot was taken over, or the caller left the queue.
    handover: Option<oneshot::Receiver<()>>,
}

impl WaitTicket<'_> {
    /// Waits up to `patience` for a slot; `true` when the caller now owns one.
    pub(super) async fn wait(mut self, patience: Duration) -> bool {
        if let Some(handover) = self.handover.as_mut() {
            if let Ok(Ok(())) = tokio::time::timeout(patience, handover).await {
                self.handover = None;
                return true;
            }
        }
        self.leave()
    }

    /// Takes the caller out of the queue. `true` when a slot was handed over before it could
    /// leave: the caller owns that slot. (The loom models call it to take a handed-over slot
    /// without tokio's timer.)
    pub(super) fn leave(&mut self) -> bool {
        let Some(mut handover) = self.handover.take() else {
            return false;
        };
        // After `close` no handover can arrive, so `try_recv` gives the final answer.
        handover.close();
        if handover.try_recv().is_ok() {
            // The releaser already took this caller's count out of the queue.
            return true;
        }
        let _waiters = self.slots.lock_waiters();
        self.slots.occupancy.fetch_sub(QUEUED, Ordering::Relaxed);
        false
    }
}

impl Drop for WaitTicket<'_> {
    fn drop(&mut self) {
        if self.leave() {
            self.slots.release();
        }
    }
}
