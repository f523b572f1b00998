//! A keyed rate limiter: one GCRA word per key, with the limiter's shape (`interval`, `span`)
//! and clock shared by all of them.

use std::any::Any;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};

use super::RateLimiter;
use crate::keyed::{key_text, Bounds, KeyTable, KeyedStats, PolicyKey};
use crate::lifecycle::gate;
use crate::{Error, Failure};

/// The key table of a limiter, whatever its key type: what the limiter needs without knowing it.
pub(super) trait LimiterKeys: Send + Sync {
    fn as_any(&self) -> &dyn Any;
    /// Keys held, evicted, and the hottest and rejecting ones, judged by `available`.
    fn stats(&self, max_keys: u32, available: &dyn Fn(&AtomicU64) -> u64) -> KeyedStats;
    fn clear(&self);
    /// Applies `retime` to every key's word.
    fn retime(&self, retime: &dyn Fn(&AtomicU64));
}

type Words<K> = KeyTable<K, AtomicU64>;

impl<K: PolicyKey> LimiterKeys for Words<K> {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn stats(&self, max_keys: u32, available: &dyn Fn(&AtomicU64) -> u64) -> KeyedStats {
        self.fewest_free(max_keys, available)
    }

    fn clear(&self) {
        KeyTable::clear(self);
    }

    fn retime(&self, retime: &dyn Fn(&AtomicU64)) {
        self.for_each(|_, word| retime(word));
    }
}

/// Keyed calls.
///
/// Each key has a bucket of its own with the limiter's `rate`, `per` and `burst`, created full
/// on the key's first call; the limiter's counters, `wait`, in-flight count and shutdown gate
/// are shared by all keys. A limiter used with keys is still usable without one: its unkeyed
/// calls share a bucket apart from every key's.
impl RateLimiter {
    /// The key table for `K`, made by the first keyed call; `None` when an earlier call made it
    /// for another key type.
    #[inline]
    fn key_table<K: PolicyKey>(&self) -> Option<&Words<K>> {
        self.keys
            .get_or_init(|| Box::<Words<K>>::default())
            .as_any()
            .downcast_ref()
    }

    /// Takes one cell from `key`'s bucket at `now` (the key created if new), counted as
    /// permitted; `Err(next_cell)` when its bucket is empty. The step both `try_acquire_key`
    /// and `acquire_key` start with.
    #[inline]
    fn take_key<K: PolicyKey>(&self, table: &Words<K>, key: &K, now: u64) -> Result<(), u64> {
        table.with(
            key,
            || now,
            || self.key_bounds(),
            |word| self.bucket.try_take_from(word, now),
        )?;
        self.permitted.increment();
        Ok(())
    }

    fn key_bounds(&self) -> Bounds {
        Bounds {
            idle_nanos: self.key_idle_nanos.load(Ordering::Relaxed),
            max_keys: usize::try_from(self.max_keys.load(Ordering::Relaxed)).unwrap_or(usize::MAX),
        }
    }

    /// [`try_acquire`](Self::try_acquire) for `key`: takes a cell from `key`'s own bucket,
    /// created full on the key's first call. One hash lookup in a sharded map more than an
    /// unkeyed call; no global lock.
    ///
    /// The sites of one limiter must use one key type: with another type than the first keyed
    /// call's, the call is judged by the limiter's unkeyed bucket.
    ///
    /// # Errors
    ///
    /// [`Error::RateLimited`] when `key`'s bucket is empty; its event names the key.
    ///
    /// ```
    /// use resilience::RateLimiter;
    ///
    /// let limiter = RateLimiter::builder("doc-per-client").rate(1).build().unwrap();
    /// assert!(limiter.try_acquire_key(&"alice".to_owned()).is_ok());
    /// assert!(limiter.try_acquire_key(&"alice".to_owned()).is_err());
    /// // Another key has a bucket of its own.
    /// assert!(limiter.try_acquire_key(&"bob".to_owned()).is_ok());
    /// assert_eq!(limiter.key_available(&"alice".to_owned()), Some(0));
    /// assert_eq!(limiter.keyed_stats().unwrap().keys, 2);
    /// ```
    #[inline]
    pub fn try_acquire_key<K: PolicyKey>(&self, key: &K) -> Result<(), Error> {
        if gate::is_closed() {
            return Err(self.turn_away());
        }
        let Some(table) = self.key_table::<K>() else {
            return self.try_acquire();
        };
        let now = self.bucket.now();
        match self.take_key(table, key, now) {
            Ok(()) => Ok(()),
            Err(next_cell) => Err(self.reject_key(key, next_cell - now)),
        }
    }

    /// [`acquire`](Self::acquire) for `key`: takes a cell from `key`'s bucket, waiting up to
    /// the limiter's `wait` for one. Cancel-safe, as `acquire` is.
    ///
    /// # Errors
    ///
    /// [`Error::RateLimited`] when no cell of `key`'s is due within `wait`.
    pub async fn acquire_key<K: PolicyKey>(&self, key: &K) -> Result<(), Error> {
        if gate::is_closed() {
            return Err(self.turn_away());
        }
        let Some(table) = self.key_table::<K>() else {
            return self.acquire().await;
        };
        let now = self.bucket.now();
        match self.take_key(table, key, now) {
            Ok(()) => Ok(()),
            Err(next_cell) => {
                let deadline = now.saturating_add(self.wait_nanos.load(Ordering::Relaxed));
                if next_cell > deadline {
                    Err(self.reject_key(key, next_cell - now))
                } else {
                    Box::pin(gate::unless_closed(
                        self.wait_for_key_cell(table, key, next_cell, deadline),
                        None,
                    ))
                    .await
                    .unwrap_or_else(|| Err(self.turn_away()))
                }
            }
        }
    }

    /// [`wait_for_cell`](Self::wait_for_cell) in `key`'s bucket. The key's state is looked up
    /// again after each sleep: no lock is held across it, and a key evicted meanwhile starts
    /// full again.
    async fn wait_for_key_cell<K: PolicyKey>(
        &self,
        table: &Words<K>,
        key: &K,
        mut next_cell: u64,
        deadline: u64,
    ) -> Result<(), Error> {
        loop {
            tokio::time::sleep_until(self.bucket.instant_at(next_cell)).await;
            let now = self.bucket.now();
            let taken = table.with(
                key,
                || now,
                || self.key_bounds(),
                |word| self.bucket.try_take_from(word, now),
            );
            match taken {
                Ok(()) => {
                    self.permitted.increment();
                    self.waited.fetch_add(1, Ordering::Relaxed);
                    return Ok(());
                }
                Err(next) if next > deadline => return Err(self.reject_key(key, next - now)),
                Err(next) => next_cell = next,
            }
        }
    }

    /// [`call`](Self::call) for `key`: runs `fut` once a cell of `key`'s bucket is taken.
    ///
    /// ```
    /// use resilience::{Error, RateLimiter};
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
    /// let limiter = RateLimiter::builder("doc-call-key").rate(1).build().unwrap();
    /// let host = "db-1".to_owned();
    /// assert_eq!(limiter.call_key(&host, async { Ok::<_, Error>(1) }).await, Ok(1));
    /// assert!(limiter.call_key(&host, async { Ok::<_, Error>(2) }).await.is_err());
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// The rejection, converted into `E`, or `fut`'s own error.
    pub async fn call_key<K, T, E, Fut>(&self, key: &K, fut: Fut) -> Result<T, E>
    where
        K: PolicyKey,
        Fut: Future<Output = Result<T, E>>,
        E: From<Error>,
    {
        self.acquire_key(key).await?;
        let _running = self.enter();
        fut.await
    }

    /// The layer the attribute macros call for a keyed site; see [`run`](Self::run).
    #[doc(hidden)]
    pub async fn run_key<K, T, E, Fut>(&self, key: &K, fut: Fut) -> Result<T, Failure<E>>
    where
        K: PolicyKey,
        Fut: Future<Output = Result<T, Failure<E>>>,
    {
        self.acquire_key(key).await?;
        let _running = self.enter();
        fut.await
    }

    /// The cells free in `key`'s bucket now; `None` when the limiter holds no state for `key`
    /// (never used, or evicted: its next call finds a full bucket).
    pub fn key_available<K: PolicyKey>(&self, key: &K) -> Option<u32> {
        let table = self.keys.get()?.as_any().downcast_ref::<Words<K>>()?;
        let now = self.bucket.now();
        table.get(key, |word| {
            u32::try_from(self.bucket.available_in(word, now)).unwrap_or(u32::MAX)
        })
    }

    /// The keys of a keyed limiter: how many, the hottest, those rejecting now; `None` when no
    /// keyed call has used it.
    pub fn keyed_stats(&self) -> Option<KeyedStats> {
        let keys = self.keys.get()?;
        let now = self.bucket.now();
        Some(keys.stats(self.max_keys.load(Ordering::Relaxed), &|word| {
            self.bucket.available_in(word, now)
        }))
    }

    #[cold]
    fn reject_key<K: PolicyKey>(&self, key: &K, retry_after_nanos: u64) -> Error {
        self.reject_with_key(retry_after_nanos, || Some(key_text(key)))
    }
}
