//! The registry's store and whether it answers: every operation goes through
//! [`StoreHandle::run`], which keeps the availability that events and health report.

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering::Relaxed};
use std::sync::{Arc, Mutex, PoisonError};

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
}

impl StoreHandle {
    pub(crate) fn new(store: Box<dyn SharedStore>) -> Self {
        StoreHandle {
            label: store.describe().into(),
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
