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

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::PoisonError;
use std::time::Duration;

use tokio::sync::oneshot;

use crate::sync::{AtomicU64, Mutex, MutexGuard};

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
    max_concurrent: u32,
    queue_limit: u32,
    /// One handover per queued caller, oldest first. Entries of callers that left stay until a
    /// releaser or the next queued caller clears them.
    waiters: Mutex<VecDeque<oneshot::Sender<()>>>,
}

impl Slots {
    pub(super) fn new(max_concurrent: u32, queue_limit: u32) -> Self {
        Slots {
            occupancy: AtomicU64::new(0),
            max_concurrent,
            queue_limit,
            waiters: Mutex::new(VecDeque::new()),
        }
    }

    pub(super) fn occupancy(&self) -> Occupancy {
        Occupancy(self.occupancy.load(Ordering::Relaxed))
    }

    /// Claims a free slot without waiting, lock-free; `true` when the caller now owns one.
    #[inline]
    pub(super) fn try_claim(&self) -> bool {
        let mut current = self.occupancy.load(Ordering::Relaxed);
        loop {
            if Occupancy(current).in_flight() >= self.max_concurrent {
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
        if self.occupancy().queued() >= self.queue_limit {
            return Admission::Full;
        }
        let mut waiters = self.lock_waiters();
        let mut current = self.occupancy.load(Ordering::Relaxed);
        loop {
            let seen = Occupancy(current);
            // A slot freed since the first look is this caller's: nobody waits for it.
            let (next, admitted) = if seen.in_flight() < self.max_concurrent {
                (current + IN_FLIGHT, true)
            } else if seen.queued() < self.queue_limit {
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
        if self.occupancy().queued() == 0 {
            // Every waiter left before the lock was taken: release as if none had come.
            drop(waiters);
            return self.release();
        }
        while let Some(handover) = waiters.pop_front() {
            if handover.send(()).is_ok() {
                // The slot changes owner without leaving flight; the waiter is no longer queued.
                self.occupancy.fetch_sub(QUEUED, Ordering::Release);
                return;
            }
        }
        // Every caller still counted as queued is leaving and will take its own count out.
        self.occupancy.fetch_sub(IN_FLIGHT, Ordering::Release);
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
