//! The synchronization primitives of the policies' concurrent state machines (the breaker's
//! state word, failure streak, lock-free settings and lock; the bulkhead's occupancy word, limits
//! and queue lock).
//!
//! Normally `std`'s. In the crate's unit tests under `--cfg resilience_loom` they are `loom`'s
//! (loom is a dev-dependency, so only the test build can have it), so that the loom models
//! (`circuit_breaker/loom_tests.rs`, `bulkhead/loom_tests.rs`) explore every interleaving of
//! the real code rather than of a copy. Statistics counters, statics and anything loom cannot
//! construct stay on `std`: they decide nothing.

#[cfg(not(all(test, resilience_loom)))]
pub(crate) use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64};
#[cfg(not(all(test, resilience_loom)))]
pub(crate) use std::sync::{Mutex, MutexGuard};

#[cfg(all(test, resilience_loom))]
pub(crate) use loom::sync::atomic::{AtomicBool, AtomicU32, AtomicU64};
#[cfg(all(test, resilience_loom))]
pub(crate) use loom::sync::{Mutex, MutexGuard};
