//! The bulkhead policy: a cap on calls in flight at once, with an optional bounded queue.

mod config;
mod keyed;
#[cfg(test)]
mod keyed_tests;
#[cfg(all(test, resilience_loom))]
mod loom_tests;
#[cfg(test)]
mod reconfigure_tests;
mod shutdown;
mod slots;
#[cfg(test)]
mod tests;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

pub use config::{BulkheadBuilder, BulkheadConfig};
pub use keyed::KeyedBulkheadPermit;

use self::slots::{Admission, Slots};
use crate::events::{self, Event};
use crate::lifecycle::gate::{self, Gate};
use crate::live_config::LiveConfig;
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
/// **Reconfiguration.** A configuration reload changes a registered bulkhead in place (call
/// sites keep it for good). A new `max` applies at once: a larger one admits queued callers
/// straight away, oldest first, up to it; a smaller one lets the calls in flight over it finish,
/// while new callers queue or are rejected until enough have finished. A new `queue` limit
/// applies to callers arriving after it; callers already queued keep their place, even beyond a
/// smaller limit, and keep the `queue_timeout` they started waiting with. No slot is leaked or
/// counted twice across a change: once every call has ended, `available` is the new `max`. A
/// call that races the change may still be admitted against the old `max`.
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
    /// The whole configuration, for `config()` and a queued caller's timeout; `max` and `queue`
    /// are read by calls from `slots`.
    config: LiveConfig<BulkheadConfig>,
    slots: Slots,
    rejected: AtomicU64,
    /// Closed by [`Bulkhead::shutdown`]: `bulkhead/shutdown.rs`.
    gate: Gate,
    /// A keyed bulkhead's slots, one set per key: `keyed.rs`.
    keyed: keyed::KeyedParts,
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
    /// A keyed bulkhead's keys (`None` for a bulkhead no keyed call has used): how many, the
    /// busiest, the full ones. `in_flight` above counts every key's calls too; `queued` and
    /// `available` are the unkeyed slots'. Left out of the JSON when `None`, so an unkeyed
    /// bulkhead's row keeps its shape.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub keys: Option<crate::KeyedStats>,
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
                key_idle: resilience_settings::bulkhead::DEFAULT_KEY_IDLE,
                max_keys: resilience_settings::bulkhead::DEFAULT_MAX_KEYS,
            },
        )
    }

    pub(super) fn from_parts(name: Arc<str>, config: BulkheadConfig) -> Self {
        Bulkhead {
            slots: Slots::new(config.max_concurrent, config.queue),
            name,
            config: LiveConfig::new(config),
            rejected: AtomicU64::new(0),
            gate: Gate::new(),
            keyed: keyed::KeyedParts::default(),
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

    /// The settings this bulkhead runs with now: those it was built with, or the latest a
    /// configuration reload gave it.
    pub fn config(&self) -> BulkheadConfig {
        self.config.get()
    }

    /// Takes `config` in place of the current settings, while calls run, and returns the keys
    /// whose values changed (`"max"`, `"queue"`, `"queue_timeout"`), empty when none did.
    /// `config` was validated by whoever built it. See the type's docs for what a change does
    /// to calls in flight and queued.
    pub(crate) fn reconfigure(&self, config: BulkheadConfig) -> Vec<&'static str> {
        let mut current = self.config.write();
        let changed = current.changed_keys(&config);
        if !changed.is_empty() {
            *current = config;
            // Under the write guard, so two reconfigures resize in the order they took effect.
            self.slots.resize(config.max_concurrent, config.queue);
            if let Some(keys) = self.keyed.keys.get() {
                keys.resize(config.max_concurrent, config.queue);
            }
        }
        changed
    }

    /// A snapshot of the occupancy and counters.
    pub fn stats(&self) -> BulkheadStats {
        let occupancy = self.slots.occupancy();
        let max_concurrent = self.slots.max_concurrent();
        BulkheadStats {
            max_concurrent,
            // Every key's calls too: what a shutdown waits for.
            in_flight: occupancy
                .in_flight()
                .saturating_add(self.keyed.in_flight.count()),
            queued: occupancy.queued(),
            available: max_concurrent.saturating_sub(occupancy.in_flight()),
            rejected: self.rejected.load(Ordering::Relaxed),
            keys: self.keyed_stats(),
        }
    }

    /// Whether callers may queue for a slot (`queue` is not 0): the macros' expansion takes the
    /// lock-free [`try_acquire`](Self::try_acquire) when they may not.
    #[doc(hidden)]
    #[inline]
    pub fn has_queue(&self) -> bool {
        self.slots.queue_limit() != 0
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
    /// [`Error::BulkheadFull`] when no slot is free; [`Error::ShuttingDown`] once the program
    /// or this bulkhead is shutting down.
    #[inline]
    pub fn try_acquire(&self) -> Result<BulkheadPermit<'_>, Error> {
        if self.is_closing() {
            return Err(self.turn_away());
        }
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
    /// [`Error::BulkheadFull`] when the queue is full, or no slot came within `queue_timeout`;
    /// [`Error::ShuttingDown`] once the program or this bulkhead is shutting down, also for a
    /// caller waiting in the queue, which leaves it at once.
    pub async fn acquire(&self) -> Result<BulkheadPermit<'_>, Error> {
        if self.is_closing() {
            return Err(self.turn_away());
        }
        let admitted = match self.slots.claim_or_queue() {
            Admission::Admitted => true,
            Admission::Full => false,
            Admission::Queued(ticket) => match self.queue_wait(ticket).await {
                Some(admitted) => admitted,
                None => return Err(self.turn_away()),
            },
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

    /// Whether the program or this bulkhead is shutting down.
    #[inline(always)]
    fn is_closing(&self) -> bool {
        gate::is_closed() || self.gate.is_closed()
    }

    #[cold]
    /// The wait of a caller queued for a slot (the bulkhead's own, or a key's), up to
    /// `queue_timeout` and cut by a shutdown (`None`). Boxed so the timer of a wait that rarely
    /// happens does not make every call's future larger (296 bytes instead of 112 for `run`);
    /// queueing allocates anyway. The ticket, dropped with a cut wait, leaves the queue (or
    /// gives back a slot handed over meanwhile).
    fn queue_wait<'a>(
        &'a self,
        ticket: slots::WaitTicket<'a>,
    ) -> Pin<Box<impl Future<Output = Option<bool>> + 'a>> {
        let patience = self.config.get().queue_timeout;
        Box::pin(gate::unless_closed(ticket.wait(patience), Some(&self.gate)))
    }

    fn turn_away(&self) -> Error {
        self.rejected.fetch_add(1, Ordering::Relaxed);
        crate::lifecycle::rejection(PolicyKind::Bulkhead, &self.name)
    }

    fn reject(&self) -> Error {
        self.rejected.fetch_add(1, Ordering::Relaxed);
        let error = Error::BulkheadFull {
            name: Arc::clone(&self.name),
            max_concurrent: self.slots.max_concurrent(),
        };
        events::emit(|| Event::CallRejected {
            kind: PolicyKind::Bulkhead,
            error: error.clone(),
            key: None,
        });
        error
    }
}

impl fmt::Debug for Bulkhead {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Bulkhead")
            .field("name", &self.name)
            .field("config", &self.config())
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
