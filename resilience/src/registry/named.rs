//! What every kind of entry in the registry shares: a map by name behind a lock that a panic
//! cannot leave half-written, and the objects [`Registry::unregister_policy`] takes out, kept
//! for the next registration of the name to revive.
//!
//! [`Registry::unregister_policy`]: super::Registry::unregister_policy

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// Entries by name.
pub(crate) struct Named<E>(RwLock<HashMap<Arc<str>, E>>);

impl<E> Default for Named<E> {
    fn default() -> Self {
        Named(RwLock::new(HashMap::new()))
    }
}

impl<E> Named<E> {
    pub(crate) fn read(&self) -> RwLockReadGuard<'_, HashMap<Arc<str>, E>> {
        // Every write is one insert, removal or field update: a poisoned map is whole.
        self.0.read().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn write(&self) -> RwLockWriteGuard<'_, HashMap<Arc<str>, E>> {
        self.0.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds every name to `names`.
    pub(crate) fn names(&self, names: &mut Vec<String>) {
        names.extend(self.read().keys().map(|name| name.to_string()));
    }

    /// Takes the entry named `name` out, keeping its object in `retired`; whether there was one.
    pub(crate) fn retire<P>(
        &self,
        name: &str,
        retired: &Retired<P>,
        object: impl FnOnce(E) -> Arc<P>,
    ) -> bool {
        let Some(entry) = self.write().remove(name) else {
            return false;
        };
        retired.keep(name, object(entry));
        true
    }
}

/// Objects taken out of the registry by name. Call sites hold them in `static`s, so the next
/// registration under the name revives the same object, fresh, rather than making a new one
/// the sites would never see.
pub(crate) struct Retired<P>(Mutex<HashMap<Arc<str>, Arc<P>>>);

impl<P> Default for Retired<P> {
    fn default() -> Self {
        Retired(Mutex::new(HashMap::new()))
    }
}

impl<P> Retired<P> {
    fn keep(&self, name: &str, object: Arc<P>) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(Arc::from(name), object);
    }

    /// The object retired under `name`, if any, for the caller to refresh.
    pub(crate) fn revive(&self, name: &str) -> Option<Arc<P>> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(name)
    }
}
