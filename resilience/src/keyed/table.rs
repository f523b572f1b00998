//! The map from keys to states behind every keyed policy, and its eviction.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use dashmap::mapref::entry::Entry;
use dashmap::DashMap;

use super::{KeySnapshot, KeyedStats, PolicyKey, TOP_KEYS};

/// What a keyed policy keeps per key.
pub(crate) trait KeyValue<K>: Send + Sync + 'static {
    /// A fresh state: the one `key` starts with.
    fn fresh(key: &K) -> Self;
    /// Whether [`last_active`](Self::last_active) is a sweep's date rather than a time read
    /// on each call: see [`KeyTable::epoch`]. A key so dated is idle once no call has seen the
    /// epoch of the last sweep, begun `key_idle` or more ago.
    const DATED_BY_SWEEPS: bool = false;

    /// When the key was last active, in nanoseconds on its policy's clock (for a key
    /// [dated by sweeps](Self::DATED_BY_SWEEPS), a time at or before its last activity): a
    /// key inactive since `now - key_idle` is idle, and the least active go first when over
    /// `max_keys`.
    fn last_active(&self) -> u64;
    /// Whether the key may be evicted now, when idle or over the cap: a limiter's always may
    /// (it starts full again); a breaker's only while closed with no call in flight. Asked with
    /// the key's shard held exclusively, so no call is half-way through a step on it.
    fn evictable(&self) -> bool {
        true
    }
}

/// A rate limiter's key: its GCRA word, the time its bucket is full again. A full bucket
/// equals a fresh one, so the word also says how long the key has been idle.
impl<K> KeyValue<K> for AtomicU64 {
    fn fresh(_: &K) -> Self {
        AtomicU64::new(0)
    }

    fn last_active(&self) -> u64 {
        self.load(Ordering::Relaxed)
    }
}

/// Keys and their states, sharded; eviction on the path that creates a key.
pub(crate) struct KeyTable<K, V> {
    map: DashMap<K, V>,
    /// Keys held: kept beside the map, whose own `len` locks every shard.
    len: AtomicUsize,
    evicted: AtomicU64,
    /// When the last sweep began, on the policy's clock: also the epoch that calls to keys
    /// [dated by sweeps](KeyValue::DATED_BY_SWEEPS) stamp them with.
    last_sweep: AtomicU64,
    /// One sweep at a time; a key created meanwhile does not wait for it.
    sweeping: AtomicBool,
    /// After a sweep that could not get down to the cap (every key left pinned: a breaker's
    /// open keys, or keys with calls in flight), the count past which the next over-cap sweep
    /// runs: an eighth of the cap further, so that pinned keys do not make every new key
    /// scan the table. 0 while the table is within the cap.
    over_at: AtomicUsize,
}

/// The most sweeps one key's creation runs in a row.
const MAX_PASSES: usize = 64;

/// What eviction goes by, in the policy's clock's nanoseconds.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Bounds {
    pub(crate) idle_nanos: u64,
    pub(crate) max_keys: usize,
}

impl<K: PolicyKey, V: KeyValue<K>> Default for KeyTable<K, V> {
    fn default() -> Self {
        KeyTable {
            map: DashMap::new(),
            len: AtomicUsize::new(0),
            evicted: AtomicU64::new(0),
            last_sweep: AtomicU64::new(0),
            sweeping: AtomicBool::new(false),
            over_at: AtomicUsize::new(0),
        }
    }
}

impl<K: PolicyKey, V: KeyValue<K>> KeyTable<K, V> {
    /// Runs `f` on `key`'s state, created fresh if the key has none. The key's shard stays
    /// locked (shared) while `f` runs, so no eviction can take the state from under it.
    /// `now` is read only when the key is created (a sweep may be due).
    #[inline]
    pub(crate) fn with<R>(
        &self,
        key: &K,
        now: impl FnOnce() -> u64,
        bounds: impl FnOnce() -> Bounds,
        f: impl FnOnce(&V) -> R,
    ) -> R {
        if let Some(state) = self.map.get(key) {
            return f(state.value());
        }
        self.create_with(key, now, bounds, f)
    }

    #[cold]
    #[inline(never)]
    fn create_with<R>(
        &self,
        key: &K,
        now: impl FnOnce() -> u64,
        bounds: impl FnOnce() -> Bounds,
        f: impl FnOnce(&V) -> R,
    ) -> R {
        let (result, created) = match self.map.entry(key.clone()) {
            // Another thread created it since the lookup.
            Entry::Occupied(entry) => (f(entry.get()), false),
            Entry::Vacant(entry) => {
                let state = entry.insert(V::fresh(key));
                (f(state.value()), true)
            }
        };
        // The shard's lock is released: a sweep takes every shard's in turn.
        if created {
            // Sequentially consistent with the sweep flag: a sweeper that lets go sees this key.
            let len = self.len.fetch_add(1, Ordering::SeqCst) + 1;
            self.maybe_sweep(len, now(), bounds());
        }
        result
    }

    /// Reads `key`'s state, if the key is held; creates nothing.
    pub(crate) fn get<R>(&self, key: &K, f: impl FnOnce(&V) -> R) -> Option<R> {
        self.map.get(key).map(|state| f(state.value()))
    }

    /// The epoch a call stamps a key [dated by sweeps](KeyValue::DATED_BY_SWEEPS) with: the
    /// time the last sweep began. Read with the key's shard held (inside [`with`](Self::with)),
    /// so a sweep, which moves the epoch on before it takes any shard, either sees the call's
    /// stamp or has moved the epoch on before the call read it: a key stamped with an epoch
    /// older than a sweep's was last active before that sweep began.
    ///
    /// This is what spares such a key's calls a clock read (a third of a keyed breaker's
    /// success path): the price is that a key goes at the first sweep to find it idle for a
    /// whole sweep interval, so between `key_idle` and two sweep intervals after its last call.
    #[inline]
    pub(crate) fn epoch(&self) -> u64 {
        self.last_sweep.load(Ordering::Relaxed)
    }

    /// Keys held now.
    pub(crate) fn len(&self) -> usize {
        self.len.load(Ordering::SeqCst)
    }

    /// Keys evicted so far.
    pub(crate) fn evicted(&self) -> u64 {
        self.evicted.load(Ordering::Relaxed)
    }

    /// Visits every key and state; each shard is locked (shared) while it is visited.
    pub(crate) fn for_each(&self, mut f: impl FnMut(&K, &V)) {
        for entry in self.map.iter() {
            f(entry.key(), entry.value());
        }
    }

    /// The table's [`KeyedStats`] for a policy whose keys hold free units (a limiter's cells, a
    /// bulkhead's slots), `free` telling how many a key has now: the hottest keys are those
    /// with the fewest free, and the rejecting ones those with none. Only the top few are kept
    /// while every key is visited.
    pub(crate) fn fewest_free(&self, max_keys: u32, free: impl Fn(&V) -> u64) -> KeyedStats {
        let mut fewest: Vec<(u64, K)> = Vec::with_capacity(TOP_KEYS + 1);
        self.for_each(|key, state| {
            let free = free(state);
            if fewest.len() < TOP_KEYS || fewest.last().is_some_and(|(most, _)| free < *most) {
                let at = fewest.partition_point(|(other, _)| *other <= free);
                fewest.insert(at, (free, key.clone()));
                fewest.truncate(TOP_KEYS);
            }
        });
        let snapshot = |(free, key): &(u64, K)| {
            KeySnapshot::bucket(key, u32::try_from(*free).unwrap_or(u32::MAX))
        };
        KeyedStats {
            keys: self.len() as u64,
            max_keys,
            evicted: self.evicted(),
            hottest: fewest.iter().map(snapshot).collect(),
            rejecting: fewest
                .iter()
                .filter(|(free, _)| *free == 0)
                .map(snapshot)
                .collect(),
        }
    }

    /// Forgets every key.
    pub(crate) fn clear(&self) {
        self.remove_where(usize::MAX, false, |_| true);
    }

    /// Evicts the idle keys when a sweep is due (once per `key_idle`), and the least active
    /// over `max_keys` down to seven eighths of it.
    fn maybe_sweep(&self, len: usize, now: u64, bounds: Bounds) {
        let over = len > bounds.max_keys.max(self.over_at.load(Ordering::Relaxed));
        let due = now.saturating_sub(self.last_sweep.load(Ordering::Relaxed)) >= bounds.idle_nanos;
        if !(over || due) {
            return;
        }
        // Keys other threads create while a sweep runs skip sweeping (one at a time), and once
        // every key exists nothing would sweep them: so the sweeper looks again after letting
        // go, and sweeps again while over the cap. Each pass evicts down to seven eighths of the
        // cap, so only threads creating keys as fast as it evicts keep it going; the bound on
        // passes keeps one caller from sweeping for ever against them.
        for _ in 0..MAX_PASSES {
            if self.sweeping.swap(true, Ordering::SeqCst) {
                return;
            }
            let pinned = self.sweep(now, bounds);
            let over_at = if pinned {
                self.len().saturating_add((bounds.max_keys / 8).max(1))
            } else {
                0
            };
            self.over_at.store(over_at, Ordering::Relaxed);
            self.sweeping.store(false, Ordering::SeqCst);
            // Read after letting go: a key another thread created while this sweep ran, whose
            // own sweep this one turned away (it counted itself before asking), is seen here.
            // Read before letting go, it could be missed, and the table left over the cap with
            // nobody to sweep it once every key exists.
            let len = self.len();
            if len <= bounds.max_keys || pinned {
                return;
            }
        }
    }

    /// One sweep: idle keys first, then the least active over the cap. Returns whether it was
    /// over the cap with no key it could evict (every key pinned).
    fn sweep(&self, now: u64, bounds: Bounds) -> bool {
        // The epoch moves on before any shard is taken: see `epoch`.
        let epoch = self.last_sweep.swap(now, Ordering::Relaxed);
        if let Some(idle_since) = now.checked_sub(bounds.idle_nanos) {
            if V::DATED_BY_SWEEPS {
                // Not seen since the last sweep, which began `key_idle` or more ago.
                if epoch <= idle_since {
                    self.remove_where(usize::MAX, true, |state| {
                        state.last_active() < epoch && state.evictable()
                    });
                }
            } else {
                self.remove_where(usize::MAX, true, |state| {
                    state.last_active() <= idle_since && state.evictable()
                });
            }
        }
        let len = self.len();
        if len <= bounds.max_keys {
            return false;
        }
        // Down to seven eighths of the cap, so that the next sweep is an eighth of the cap's
        // new keys away: a sweep's cost spread over the keys that made it necessary.
        let target = bounds.max_keys - bounds.max_keys / 8;
        let quota = len - target;
        // Only the keys that may go are ranked: when none may (every breaker key open, say),
        // the table stays over the cap until some may.
        let mut actives: Vec<u64> = Vec::with_capacity(len);
        self.for_each(|_, state| {
            if state.evictable() {
                actives.push(state.last_active());
            }
        });
        if actives.is_empty() {
            return true;
        }
        let cutoff = if quota >= actives.len() {
            u64::MAX
        } else {
            *actives.select_nth_unstable(quota - 1).1
        };
        drop(actives);
        // The keys at or before the cutoff, up to the quota: ties at the cutoff are common
        // under a paused clock, where every key was active at the same instant.
        self.remove_where(quota, true, |state| {
            state.last_active() <= cutoff && state.evictable()
        });
        false
    }

    /// Removes up to `quota` keys whose state `evict` picks; returns how many went.
    fn remove_where(
        &self,
        quota: usize,
        eviction: bool,
        mut evict: impl FnMut(&V) -> bool,
    ) -> usize {
        let mut removed = 0;
        self.map.retain(|_, state| {
            if removed < quota && evict(state) {
                removed += 1;
                false
            } else {
                true
            }
        });
        self.len.fetch_sub(removed, Ordering::SeqCst);
        if eviction {
            self.evicted.fetch_add(removed as u64, Ordering::Relaxed);
        }
        removed
    }
}
