//! The registry's [`SharedStore`]: set, cleared, and the shared breakers its sync task serves.

use std::sync::{Arc, PoisonError};

use super::Registry;
use crate::store::{spawn_sync, SharedStore, StoreHandle};
use crate::CircuitBreaker;

impl Registry {
    /// Makes `store` the store of every policy marked `shared`, from now on (replacing any store
    /// set before): a shared rate limiter takes its cells from the store's bucket, and a
    /// background task syncs each shared breaker with its fleet every
    /// [`sync_interval`](SharedStore::sync_interval). See the [`store`](crate::store) module
    /// for what is shared and what happens when the store fails.
    ///
    /// The sync task runs on the current Tokio runtime (call this from within one); outside a
    /// runtime, on a thread of its own.
    ///
    /// ```no_run
    /// # async fn example(store: impl resilience::SharedStore) {
    /// // let store = resilience_redis::RedisStore::connect("redis://127.0.0.1:6379").await?;
    /// resilience::registry().set_store(store);
    /// # }
    /// ```
    pub fn set_store(&'static self, store: impl SharedStore) {
        let handle = Arc::new(StoreHandle::new(Box::new(store)));
        let previous = self
            .store
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .replace(Arc::clone(&handle));
        if let Some(previous) = previous {
            previous.retire();
        }
        spawn_sync(self, handle);
    }

    /// Removes the store: shared policies run on their local state again, as before any
    /// [`set_store`](Self::set_store). Returns whether there was one.
    pub fn clear_store(&self) -> bool {
        let previous = self
            .store
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(previous) = &previous {
            previous.retire();
        }
        previous.is_some()
    }

    /// Whether a store is set.
    pub fn has_store(&self) -> bool {
        self.store_handle().is_some()
    }

    pub(crate) fn store_handle(&self) -> Option<Arc<StoreHandle>> {
        self.store
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The registered breakers marked `shared`, for the sync task.
    pub(crate) fn shared_breakers(&self) -> Vec<Arc<CircuitBreaker>> {
        self.circuit_breakers
            .read()
            .iter()
            .filter(|(_, entry)| entry.policy.is_shared())
            .map(|(_, entry)| Arc::clone(&entry.policy))
            .collect()
    }
}
