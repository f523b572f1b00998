//! The bulkhead policy: a cap on calls in flight at once, with an optional bounded queue.

mod config;
#[cfg(all(test, resilience_loom))]
mod loom_tests;
mod slots;
#[cfg(test)]
mod tests;

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

pub use config::{BulkheadBuilder, BulkheadConfig};

use self::slots::{Admission, Slots};
use crate::events::{self, Event};
use crate::registry::PolicyKind;
use crate::{ConfigError, Error, Failure};

/// Caps the calls in flight at once, so one slow dependency cannot take every task, connection
/// or thread with it; the macro-free form of `#[bulkhead(...)]`.
///
/// A call takes a slot for as long as it runs. With every slot taken, a caller waits in a
/// queue of at most [`queue`](BulkheadConfig::queue) callers for at most
/// [`queue_timeout`](BulkheadConfig::queue_timeout); a caller that finds the queue full, or
/// waits too long, is rejected with [`Error::BulkheadFull`] (and `Event::CallRejected` is
/// emitted), without running.
///
/// **Fairness.** Waiting callers are served first come, first served, and before newcomers: a
/// slot freed while someone waits is not put back but handed straight to the oldest waiter, so
/// a newcomer finds a free slot only when nobody is waiting for one.
///
/// **Slots are RAII guards.** A slot is given back when the call completes, fails, panics or is
/// dropped; a caller dropped while it waits in the queue leaves the queue, and passes on a slot
/// that reached it in the meantime.
///
/// **Cost.** When a slot is free and nobody waits, taking it is one compare-exchange on an
/// atomic word and giving it back is another; only waiting takes a lock and allocates.
///
/// ```
/// use resilience::{Bulkhead, Error};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let bulkhead = Bulkhead::new("db", 2).unwrap();
///
/// let rows = bulkhead.call(async { Ok::<_, Error>(vec![1, 2, 3]) }).await;
/// assert_eq!(rows, Ok(vec![1, 2, 3]));
///
/// // Hold both slots: the next call is turned away without running.
/// let first = bulkhead.try_acquire().unwrap();
/// let second = bulkhead.try_acquire().unwrap();
/// let rejected = bulkhead.call(async { Ok::<_, Error>(vec![4]) }).await;
/// assert_eq!(rejected, Err(Error::BulkheadFull { name: "db".into(), max_concurrent: 2 }));
/// assert_eq!(bulkhead.stats().in_flight, 2);
///
/// drop((first, second));
/// assert_eq!(bulkhead.stats().available, 2);
/// # }
/// ```
pub struct Bulkhead {
    name: Arc<str>,
    config: BulkheadConfig,
    slots: Slots,
    rejected: AtomicU64,
}

/// Counters and occupancy of a [`Bulkhead`], read with [`Bulkhead::stats`].
///
/// Calls admitted are not counted: that would add a second atomic write, on a shared cache
/// line, to every call.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct BulkheadStats {
    /// Calls admitted at once.
    pub max_concurrent: u32,
    /// Calls holding a slot now.
    pub in_flight: u32,
    /// Callers waiting for a slot now.
    pub queued: u32,
    /// Slots free now.
    pub available: u32,
    /// Calls rejected: queue full, or waited `queue_timeout` in vain.
    pub rejected: u64,
}

/// A slot of a [`Bulkhead`], held for as long as the permit lives; from
/// [`Bulkhead::try_acquire`] or [`Bulkhead::acquire`].
///
/// Dropping it gives the slot back — to the oldest waiting caller if there is one.
#[must_use = "the slot is given back as soon as the permit is dropped"]
pub struct BulkheadPermit<'a> {
    bulkhead: &'a Bulkhead,
}

impl Bulkhead {
    /// Starts a builder for a bulkhead registered as `name`.
    pub fn builder(name: impl Into<Arc<str>>) -> BulkheadBuilder {
        BulkheadBuilder::new(name.into())
    }

    /// A bulkhead named `name` admitting `max_concurrent` calls at once, with no queue.
    ///
    /// # Errors
    ///
    /// [`ConfigError::OutOfRange`] when `max_concurrent` is 0.
    pub fn new(name: impl Into<Arc<str>>, max_concurrent: u32) -> Result<Self, ConfigError> {
        Self::builder(name).max_concurrent(max_concurrent).build()
    }

    /// The fallback for settings that failed validation (which the macros rule out at compile
    /// time): `max` has no sensible default, so the fallback never rejects a call.
    pub(crate) fn with_defaults(name: Arc<str>) -> Self {
        Self::from_parts(
            name,
            BulkheadConfig {
                max_concurrent: u32::MAX,
                queue: 0,
                queue_timeout: config::DEFAULT_QUEUE_TIMEOUT,
            },
        )
    }

    pub(super) fn from_parts(name: Arc<str>, config: BulkheadConfig) -> Self {
        Bulkhead {
            slots: Slots::new(config.max_concurrent, config.queue),
            name,
            config,
            rejected: AtomicU64::new(0),
        }
    }

    /// The registry name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The registry name, shared.
    pub fn name_arc(&self) -> &Arc<str> {
        &self.name
    }

    /// The settings this bulkhead was built with.
    pub fn config(&self) -> &BulkheadConfig {
        &self.config
    }

    /// A snapshot of the occupancy and counters.
    pub fn stats(&self) -> BulkheadStats {
        let occupancy = self.slots.occupancy();
        BulkheadStats {
            max_concurrent: self.config.max_concurrent,
            in_flight: occupancy.in_flight(),
            queued: occupancy.queued(),
            available: self
                .config
                .max_concurrent
                .saturating_sub(occupancy.in_flight()),
            rejected: self.rejected.load(Ordering::Relaxed),
        }
    }

    /// Sets the counters back to zero; the occupancy is live state and stays.
    pub fn reset_stats(&self) {
        self.rejected.store(0, Ordering::Relaxed);
    }

    /// Takes a slot if one is free and nobody is queued for it, without waiting even when the
    /// bulkhead has a queue.
    ///
    /// # Errors
    ///
    /// [`Error::BulkheadFull`] when no slot is free.
    #[inline]
    pub fn try_acquire(&self) -> Result<BulkheadPermit<'_>, Error> {
        if self.slots.try_claim() {
            Ok(BulkheadPermit { bulkhead: self })
        } else {
            Err(self.reject())
        }
    }

    /// Takes a slot, waiting in the queue for one if the bulkhead has a queue with room.
    ///
    /// # Errors
    ///
    /// [`Error::BulkheadFull`] when the queue is full, or no slot came within `queue_timeout`.
    pub async fn acquire(&self) -> Result<BulkheadPermit<'_>, Error> {
        let admitted = match self.slots.claim_or_queue() {
            Admission::Admitted => true,
            Admission::Full => false,
            // Boxed so the timer of a wait that rarely happens does not make every call's
            // future larger (296 bytes instead of 112 for `run`); queueing allocates anyway.
            Admission::Queued(ticket) => Box::pin(ticket.wait(self.config.queue_timeout)).await,
        };
        if admitted {
            Ok(BulkheadPermit { bulkhead: self })
        } else {
            Err(self.reject())
        }
    }

    /// Runs `fut` in a slot, waiting for one as [`acquire`](Self::acquire) does; the rejection
    /// becomes the caller's `E` through `From<resilience::Error>`. A rejected `fut` is dropped
    /// without being polled.
    ///
    /// Under another policy's `call`, that `E` is all the outer policy sees: with the
    /// application's error type an outer breaker counts the rejection as a failure. With
    /// `E = Failure<_>` it arrives as `Failure::Policy`, as inside a stack of attributes; see
    /// [the crate's guide](crate#without-macros).
    pub async fn call<T, E, Fut>(&self, fut: Fut) -> Result<T, E>
    where
        Fut: Future<Output = Result<T, E>>,
        E: From<Error>,
    {
        let _permit = self.acquire().await?;
        fut.await
    }

    /// The layer the attribute macros call: like [`call`](Self::call), but the inner future
    /// already reports [`Failure`]s and the bulkhead's own rejection stays typed.
    #[doc(hidden)]
    pub async fn run<T, E, Fut>(&self, fut: Fut) -> Result<T, Failure<E>>
    where
        Fut: Future<Output = Result<T, Failure<E>>>,
    {
        let _permit = self.acquire().await?;
        fut.await
    }

    fn reject(&self) -> Error {
        self.rejected.fetch_add(1, Ordering::Relaxed);
        let error = Error::BulkheadFull {
            name: Arc::clone(&self.name),
            max_concurrent: self.config.max_concurrent,
        };
        events::emit(|| Event::CallRejected {
            kind: PolicyKind::Bulkhead,
            error: error.clone(),
        });
        error
    }
}

impl fmt::Debug for Bulkhead {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Bulkhead")
            .field("name", &self.name)
            .field("config", &self.config)
            .field("stats", &self.stats())
            .finish()
    }
}

impl Drop for BulkheadPermit<'_> {
    #[inline]
    fn drop(&mut self) {
        self.bulkhead.slots.release();
    }
}

impl fmt::Debug for BulkheadPermit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BulkheadPermit")
            .field("bulkhead", &self.bulkhead.name)
            .finish()
    }
}
