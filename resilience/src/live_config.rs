//! A policy's current configuration, which a reload can replace while calls run.
//!
//! Annotated call sites keep their policy in a `static` for good, so a reload cannot swap the
//! policy: it swaps the configuration inside it. The values a call reads on its way in live in
//! the policy's own relaxed atomics; this cell keeps the whole configuration for everything
//! else (`config()`, the snapshot, a failed attempt's next delay), behind a lock that the success
//! path never takes. Holding the write guard across a reconfigure also serializes two reloads
//! of one policy.

use std::sync::{PoisonError, RwLock, RwLockWriteGuard};

/// The configuration a policy runs with now.
#[derive(Debug)]
pub(crate) struct LiveConfig<T>(RwLock<T>);

impl<T: Clone> LiveConfig<T> {
    pub(crate) fn new(config: T) -> Self {
        LiveConfig(RwLock::new(config))
    }

    /// A copy of the current configuration.
    pub(crate) fn get(&self) -> T {
        // Nothing panics while the lock is held, so a poisoned lock still guards a whole value.
        self.0
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The configuration, to be replaced; other reconfigures wait until the guard is dropped.
    pub(crate) fn write(&self) -> RwLockWriteGuard<'_, T> {
        self.0.write().unwrap_or_else(PoisonError::into_inner)
    }
}
