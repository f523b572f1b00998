//! Registries of their own for tests (feature `test-util`): which one is current on this thread,
//! and the policies each call site resolved in it. The public face is `crate::testing`.

use std::any::Any;
use std::cell::Cell;
use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use super::Registry;

/// A call site (the address of its `static`) and, for a site whose policy depends on the
/// concrete `Self`, that type's name (empty otherwise).
type SiteKey = (usize, &'static str);

/// A registry of its own, with the policies its call sites resolved in it.
///
/// Each is leaked when it is made: [`registry()`](super::registry) and the sites hand out
/// `&'static` references into it.
pub(crate) struct IsolatedRegistry {
    registry: Registry,
    /// Each value is a leaked `Arc<P>` of the site's policy type `P`.
    sites: RwLock<HashMap<SiteKey, &'static (dyn Any + Send + Sync)>>,
}

thread_local! {
    /// The isolated registry of the future being polled on this thread, if any.
    static CURRENT: Cell<Option<&'static IsolatedRegistry>> = const { Cell::new(None) };
}

/// The isolated registry current on this thread, if any.
#[inline]
pub(crate) fn current() -> Option<&'static IsolatedRegistry> {
    // A `const` thread-local without a destructor is always accessible; `try_with` only avoids
    // a panic path.
    CURRENT.try_with(Cell::get).ok().flatten()
}

/// Makes an isolated registry current on this thread until dropped, then restores the one
/// before it (also when the poll it guards panics).
pub(crate) struct Entered {
    previous: Option<&'static IsolatedRegistry>,
}

impl Drop for Entered {
    fn drop(&mut self) {
        let _ = CURRENT.try_with(|current| current.set(self.previous));
    }
}

impl IsolatedRegistry {
    /// A fresh registry of its own, leaked.
    pub(crate) fn leak() -> &'static IsolatedRegistry {
        Box::leak(Box::new(IsolatedRegistry {
            registry: Registry::default(),
            sites: RwLock::new(HashMap::new()),
        }))
    }

    pub(crate) fn registry(&'static self) -> &'static Registry {
        &self.registry
    }

    /// Makes this registry the current one on this thread until the guard drops.
    pub(crate) fn enter(&'static self) -> Entered {
        let previous = CURRENT
            .try_with(|current| current.replace(Some(self)))
            .ok()
            .flatten();
        Entered { previous }
    }

    /// The policy of the call site `site` (for `self_type`) in this registry; `register` runs
    /// once per site and type, with this registry current, so it registers here.
    ///
    /// The policy's `Arc` is leaked once per (isolated registry, site, type): bounded by the
    /// tests a program runs.
    #[cold]
    #[inline(never)]
    pub(crate) fn site<P: Send + Sync + 'static>(
        &'static self,
        site: usize,
        self_type: &'static str,
        register: impl FnOnce() -> Arc<P>,
    ) -> &'static P {
        let key = (site, self_type);
        let found = |sites: &HashMap<SiteKey, &'static (dyn Any + Send + Sync)>| {
            sites
                .get(&key)
                .and_then(|policy| policy.downcast_ref::<Arc<P>>())
                .map(|policy| &**policy)
        };
        if let Some(policy) = found(&self.sites.read().unwrap_or_else(PoisonError::into_inner)) {
            return policy;
        }
        // Outside the lock: registering takes the registry's own locks and may emit events.
        let registered = register();
        let mut sites = self.sites.write().unwrap_or_else(PoisonError::into_inner);
        if let Some(policy) = found(&sites) {
            return policy;
        }
        let policy: &'static Arc<P> = Box::leak(Box::new(registered));
        sites.insert(key, policy);
        policy
    }
}
