//! The registry's store and whether it answers: every operation goes through
//! [`StoreHandle::run`], which keeps the availability that events and health report.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering::Relaxed};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use super::{SharedStore, StoreError, StoreFuture};
use crate::events::{self, Event};
use crate::health::{Contributor, HealthCheck, HealthStatus};

/// Not yet asked anything.
const UNKNOWN: u8 = 0;
/// The last operation succeeded.
const UP: u8 = 1;
/// The last operation failed.
const DOWN: u8 = 2;

pub(crate) struct StoreHandle {
    store: Box<dyn SharedStore>,
    label: Arc<str>,
    availability: AtomicU8,
    last_error: Mutex<Option<StoreError>>,
    /// Set when another store replaced this one, or it was cleared: its sync task ends.
    retired: AtomicBool,
    /// While the store is down, calls go straight to their local state until this time (in
    /// nanoseconds since `origin`), then one call asks the store again: an outage costs the
    /// calls no timeout each.
    probe_at: AtomicU64,
    origin: Instant,
    /// How long calls skip a store that is down: its sync interval.
    cool_down: Duration,
}

impl StoreHandle {
    pub(crate) fn new(store: Box<dyn SharedStore>) -> Self {
        StoreHandle {
            label: store.describe().into(),
            cool_down: store.sync_interval(),
            probe_at: AtomicU64::new(0),
            origin: Instant::now(),
            store,
            availability: AtomicU8::new(UNKNOWN),
            last_error: Mutex::new(None),
            retired: AtomicBool::new(false),
        }
    }

    pub(crate) fn store(&self) -> &dyn SharedStore {
        &*self.store
    }

    pub(crate) fn retire(&self) {
        self.retired.store(true, Relaxed);
    }

    pub(crate) fn is_retired(&self) -> bool {
        self.retired.load(Relaxed)
    }

    /// Awaits one operation and notes whether the store answered: the first failure after an
    /// answer emits [`Event::StoreUnavailable`], the first answer after a failure
    /// [`Event::StoreRejoined`].
    pub(crate) async fn run<T>(&self, operation: StoreFuture<'_, T>) -> Result<T, StoreError> {
        let result = operation.await;
        match &result {
            Ok(_) => {
                if self.availability.swap(UP, Relaxed) == DOWN {
                    events::emit(|| Event::StoreRejoined {
                        store: Arc::clone(&self.label),
                    });
                }
            }
            Err(error) => {
                *self
                    .last_error
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner) = Some(error.clone());
                if self.availability.swap(DOWN, Relaxed) != DOWN {
                    events::emit(|| Event::StoreUnavailable {
                        store: Arc::clone(&self.label),
                        error: error.clone(),
                    });
                }
            }
        }
        result
    }

    /// Whether a call should leave the store alone and use its local state: the store is down,
    /// and another call asked it less than a sync interval ago. Once per interval one call (the
    /// one that gets `false`) asks it again; a shared breaker's sync asks it at every interval
    /// anyway.
    pub(crate) fn skip_calls(&self) -> bool {
        if !self.is_down() {
            return false;
        }
        let now = u64::try_from(self.origin.elapsed().as_nanos()).unwrap_or(u64::MAX);
        let probe_at = self.probe_at.load(Relaxed);
        if now < probe_at {
            return true;
        }
        let next = now.saturating_add(u64::try_from(self.cool_down.as_nanos()).unwrap_or(u64::MAX));
        // One caller wins the probe; the others skip.
        self.probe_at
            .compare_exchange(probe_at, next, Relaxed, Relaxed)
            .is_err()
    }

    /// Whether the last operation failed.
    pub(crate) fn is_down(&self) -> bool {
        self.availability.load(Relaxed) == DOWN
    }

    /// The store's health: degraded while its last operation failed.
    pub(crate) fn health(&self) -> HealthCheck {
        let (status, detail) = if self.is_down() {
            let error = self
                .last_error
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .as_ref()
                .map_or_else(String::new, ToString::to_string);
            (
                HealthStatus::Degraded,
                format!("unavailable ({error}): shared policies run on their local state"),
            )
        } else if self.availability.load(Relaxed) == UP {
            (HealthStatus::Healthy, "answering".to_owned())
        } else {
            (HealthStatus::Healthy, "not asked yet".to_owned())
        };
        HealthCheck {
            contributor: Contributor::Store,
            name: self.label.to_string(),
            status,
            detail,
        }
    }
}
