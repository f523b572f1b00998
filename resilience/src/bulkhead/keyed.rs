//! A keyed bulkhead: one slot count (and queue) per key, with the bulkhead's `max`, `queue`
//! and `queue_timeout`, its rejection counter and its shutdown gate shared by all of them.

use std::any::Any;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

use tokio::time::Instant;

use super::slots::{Admission, Slots};
use super::Bulkhead;
use crate::events::{self, Event};
use crate::keyed::{key_text, Bounds, KeyTable, KeyValue, KeyedStats, PolicyKey};
use crate::registry::PolicyKind;
use crate::{Error, Failure};

/// A key and its slots, behind an `Arc` in the key's table slot; every call holding a slot or
/// queued for one holds a clone, so the `Arc`'s count says whether the key is busy.
pub(super) struct KeySlots<K> {
    key: K,
    slots: Slots,
    /// At or before the last admission, in nanoseconds since the bulkhead's key clock began:
    /// the key table's epoch when a call was admitted (`KeyTable::epoch`).
    last_active: AtomicU64,
}

impl<K: Send + Sync + Clone + 'static> KeyValue<K> for Arc<KeySlots<K>> {
    const DATED_BY_SWEEPS: bool = true;

    fn fresh(key: &K) -> Self {
        // Sized by the first call (`Bulkhead::key_slots`), under the key's shard held
        // exclusively: no other call sees it before.
        Arc::new(KeySlots {
            key: key.clone(),
            slots: Slots::new(0, 0),
            last_active: AtomicU64::new(0),
        })
    }

    fn last_active(&self) -> u64 {
        self.last_active.load(Relaxed)
    }

    /// Only a key with no slot held and nobody queued: no `Arc` but the table's.
    fn evictable(&self) -> bool {
        Arc::strong_count(self) == 1
    }
}

type Slotted<K> = KeyTable<K, Arc<KeySlots<K>>>;

/// The key table of a bulkhead, whatever its key type.
pub(super) trait BulkheadKeys: Send + Sync {
    fn as_any(&self) -> &dyn Any;
    /// Keys held now.
    fn len(&self) -> usize;
    /// Applies a new `max` and `queue` to every key.
    fn resize(&self, max_concurrent: u32, queue_limit: u32);
    /// Keys held, evicted, the busiest and the full ones.
    fn stats(&self, max_keys: u32) -> KeyedStats;
}

impl<K: PolicyKey> BulkheadKeys for Slotted<K> {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn len(&self) -> usize {
        KeyTable::len(self)
    }

    fn resize(&self, max_concurrent: u32, queue_limit: u32) {
        self.for_each(|_, entry| entry.slots.resize(max_concurrent, queue_limit));
    }

    fn stats(&self, max_keys: u32) -> KeyedStats {
        self.fewest_free(max_keys, |entry| {
            let slots = &entry.slots;
            u64::from(
                slots
                    .max_concurrent()
                    .saturating_sub(slots.occupancy().in_flight()),
            )
        })
    }
}

/// What a keyed bulkhead keeps besides its unkeyed slots.
pub(super) struct KeyedParts {
    pub(super) keys: std::sync::OnceLock<Box<dyn BulkheadKeys>>,
    /// Keyed calls holding a slot: counted in the bulkhead's `in_flight`, which a shutdown
    /// waits for.
    pub(super) in_flight: crate::lifecycle::InFlight,
    clock_origin: std::sync::OnceLock<Instant>,
}

impl Default for KeyedParts {
    fn default() -> Self {
        KeyedParts {
            keys: std::sync::OnceLock::new(),
            in_flight: crate::lifecycle::InFlight::default(),
            clock_origin: std::sync::OnceLock::new(),
        }
    }
}

/// A slot of one key of a keyed [`Bulkhead`], held for as long as the permit lives; from
/// [`Bulkhead::acquire_key`]. Dropping it gives the slot back, to the key's oldest waiting
/// caller if there is one. The key is never evicted while a permit holds one of its slots.
#[must_use = "the slot is given back as soon as the permit is dropped"]
pub struct KeyedBulkheadPermit<'a, K: PolicyKey> {
    // Two words and no enum: the permit is returned through the caller's future, and a
    // narrow tag beside wider fields made that copy stall on store forwarding.
    bulkhead: &'a Bulkhead,
    /// The key's slots, one of which the permit holds. `None` when the bulkhead's unkeyed
    /// slots took the call (`K` is not the key type of its first keyed call): the permit then
    /// holds one of those, as a [`BulkheadPermit`](super::BulkheadPermit) does.
    entry: Option<Arc<KeySlots<K>>>,
}

impl<K: PolicyKey> Drop for KeyedBulkheadPermit<'_, K> {
    fn drop(&mut self) {
        match self.entry.take() {
            Some(entry) => {
                entry.slots.release();
                drop(entry);
                // Counted in by `acquire_key` before the key's slots were asked.
                self.bulkhead.keyed.in_flight.exit();
            }
            None => drop(super::BulkheadPermit {
                bulkhead: self.bulkhead,
            }),
        }
    }
}

impl<K: PolicyKey> std::fmt::Debug for KeyedBulkheadPermit<'_, K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut permit = f.debug_struct("KeyedBulkheadPermit");
        permit.field("bulkhead", &self.bulkhead.name);
        if let Some(entry) = &self.entry {
            permit.field("key", &entry.key);
        }
        permit.finish()
    }
}

/// Keyed calls.
///
/// Each key has slots of its own, `max` at once and `queue` waiting, created free on the key's
/// first call: one tenant's burst fills its own slots only. The bulkhead's rejection counter,
/// its `in_flight` (what a shutdown waits for) and its shutdown gate cover every key's calls.
/// A key with a slot held or a caller queued is never evicted; a free key is evicted once idle
/// for `key_idle` (default 1 minute), or the least recently used past `max_keys` (default
/// 100 000; keys busy over the cap are kept, and new keys admitted): evicting a free key loses
/// nothing, it would start with every slot free again. One key type per bulkhead: a call with
/// another type takes the bulkhead's unkeyed slots.
impl Bulkhead {
    fn key_slots<K: PolicyKey>(&self) -> Option<&Slotted<K>> {
        self.keyed
            .keys
            .get_or_init(|| Box::<Slotted<K>>::default())
            .as_any()
            .downcast_ref()
    }

    fn key_clock(&self) -> u64 {
        let origin = *self.keyed.clock_origin.get_or_init(Instant::now);
        u64::try_from(Instant::now().saturating_duration_since(origin).as_nanos())
            .unwrap_or(u64::MAX)
    }

    /// [`acquire`](Self::acquire) for `key`: takes one of `key`'s slots, waiting in `key`'s
    /// queue for one if the bulkhead has a queue with room.
    ///
    /// ```
    /// use resilience::Bulkhead;
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let bulkhead = Bulkhead::builder("doc-per-tenant").max_concurrent(1).build().unwrap();
    /// let held = bulkhead.acquire_key(&"acme").await.unwrap();
    /// assert!(bulkhead.acquire_key(&"acme").await.is_err());
    /// // Another tenant has slots of its own.
    /// assert!(bulkhead.acquire_key(&"globex").await.is_ok());
    /// assert_eq!(bulkhead.key_in_flight(&"acme"), 1);
    /// drop(held);
    /// assert_eq!(bulkhead.key_in_flight(&"acme"), 0);
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// As [`acquire`](Self::acquire), judged by `key`'s slots; a rejection's event names the key.
    pub async fn acquire_key<K: PolicyKey>(
        &self,
        key: &K,
    ) -> Result<KeyedBulkheadPermit<'_, K>, Error> {
        let Some(table) = self.key_slots::<K>() else {
            return self.acquire().await.map(|permit| {
                let bulkhead = permit.bulkhead;
                // Its slot is given back by the keyed permit's drop.
                std::mem::forget(permit);
                KeyedBulkheadPermit {
                    bulkhead,
                    entry: None,
                }
            });
        };
        if self.is_closing() {
            return Err(self.turn_away());
        }
        let bounds = || {
            let config = self.config.get();
            Bounds {
                idle_nanos: u64::try_from(config.key_idle.as_nanos()).unwrap_or(u64::MAX),
                max_keys: usize::try_from(config.max_keys).unwrap_or(usize::MAX),
            }
        };
        let entry = table.with(
            key,
            || self.key_clock(),
            bounds,
            |entry| {
                if entry.slots.max_concurrent() == 0 {
                    // A fresh key, seen by nobody else yet.
                    let config = self.config.get();
                    entry.slots.resize(config.max_concurrent, config.queue);
                }
                // Dated by the table's sweeps, not the clock: see `KeyTable::epoch`.
                let epoch = table.epoch();
                if entry.last_active.load(Relaxed) < epoch {
                    entry.last_active.store(epoch, Relaxed);
                }
                Arc::clone(entry)
            },
        );
        let running = self.keyed.in_flight.enter();
        let admitted = match entry.slots.claim_or_queue() {
            Admission::Admitted => true,
            Admission::Full => false,
            Admission::Queued(ticket) => match self.queue_wait(ticket).await {
                Some(admitted) => admitted,
                None => return Err(self.turn_away()),
            },
        };
        if admitted {
            // Counted out by the permit's drop from here on.
            std::mem::forget(running);
            Ok(KeyedBulkheadPermit {
                bulkhead: self,
                entry: Some(entry),
            })
        } else {
            Err(self.reject_key(&entry))
        }
    }

    #[cold]
    fn reject_key<K: PolicyKey>(&self, entry: &KeySlots<K>) -> Error {
        self.rejected.fetch_add(1, Relaxed);
        let error = Error::BulkheadFull {
            name: Arc::clone(&self.name),
            max_concurrent: entry.slots.max_concurrent(),
        };
        events::emit(|| Event::CallRejected {
            kind: PolicyKind::Bulkhead,
            error: error.clone(),
            key: Some(key_text(&entry.key)),
        });
        error
    }

    /// [`call`](Self::call) for `key`: runs `fut` in one of `key`'s slots.
    ///
    /// # Errors
    ///
    /// As [`acquire_key`](Self::acquire_key), converted into `E`, or `fut`'s own error.
    pub async fn call_key<K, T, E, Fut>(&self, key: &K, fut: Fut) -> Result<T, E>
    where
        K: PolicyKey,
        Fut: Future<Output = Result<T, E>>,
        E: From<Error>,
    {
        let _permit = self.acquire_key(key).await?;
        fut.await
    }

    /// The layer the attribute macros call for a keyed site; see [`run`](Self::run).
    #[doc(hidden)]
    pub async fn run_key<K, T, E, Fut>(&self, key: &K, fut: Fut) -> Result<T, Failure<E>>
    where
        K: PolicyKey,
        Fut: Future<Output = Result<T, Failure<E>>>,
    {
        let _permit = self.acquire_key(key).await?;
        fut.await
    }

    /// The calls holding one of `key`'s slots now (0 for a key not held).
    pub fn key_in_flight<K: PolicyKey>(&self, key: &K) -> u32 {
        self.keyed
            .keys
            .get()
            .and_then(|keys| keys.as_any().downcast_ref::<Slotted<K>>())
            .and_then(|table| table.get(key, |entry| entry.slots.occupancy().in_flight()))
            .unwrap_or(0)
    }

    /// The keys a keyed bulkhead holds now; `None` when no keyed call has used it.
    pub fn key_count(&self) -> Option<usize> {
        self.keyed.keys.get().map(|keys| keys.len())
    }

    /// The keys of a keyed bulkhead: how many, the busiest (fewest free slots first, as
    /// `available`) and the full ones; `None` when no keyed call has used it.
    pub fn keyed_stats(&self) -> Option<KeyedStats> {
        let keys = self.keyed.keys.get()?;
        Some(keys.stats(self.config.get().max_keys))
    }
}
