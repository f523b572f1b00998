//! Shutdown gates: a flag a policy's admission reads, and a signal that wakes the calls
//! waiting in a retry sleep, a bulkhead queue or a rate limiter. One gate is process-wide
//! ([`Registry::shutdown`](crate::Registry::shutdown)); each bulkhead has one of its own
//! ([`Bulkhead::shutdown`](crate::Bulkhead::shutdown)).

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::Poll;

use tokio::sync::Notify;

/// A flag closed once and never reopened, with the waiters it wakes when it closes.
#[derive(Debug)]
pub(crate) struct Gate {
    closed: AtomicBool,
    closing: Notify,
}

/// The process-wide gate.
pub(crate) static GLOBAL: Gate = Gate::new();

impl Gate {
    pub(crate) const fn new() -> Self {
        Gate {
            closed: AtomicBool::new(false),
            closing: Notify::const_new(),
        }
    }

    /// Whether the gate is closed: one relaxed load, the whole cost of a gate on a call's path.
    ///
    /// Relaxed is enough: a call that reads the flag a moment late is admitted as it would have
    /// been a moment earlier, and runs to its end like any call admitted before.
    #[inline(always)]
    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Relaxed)
    }

    /// Closes the gate and wakes every call waiting on it; `false` when it was closed already.
    pub(crate) fn close(&self) -> bool {
        let first = !self.closed.swap(true, Ordering::SeqCst);
        self.closing.notify_waiters();
        first
    }

    /// Completes once the gate is closed (at once if it is).
    async fn closed(&self) {
        let mut notified = pin!(self.closing.notified());
        // Registered before the flag is read, so a `close` between the two is not missed.
        notified.as_mut().enable();
        if self.closed.load(Ordering::SeqCst) {
            return;
        }
        notified.await;
    }
}

/// Whether the process is shutting down.
#[inline(always)]
pub(crate) fn is_closed() -> bool {
    GLOBAL.is_closed()
}

/// Completes once the process-wide gate closes (at once if it is closed).
pub(crate) async fn global_closed() {
    GLOBAL.closed().await;
}

/// Runs `wait` unless the process-wide gate (or `local`, when given) closes first: `None` when
/// one did. `wait` is dropped at once then, so whatever it held is given back.
pub(crate) async fn unless_closed<F: Future>(wait: F, local: Option<&Gate>) -> Option<F::Output> {
    let mut wait = pin!(wait);
    let mut global = pin!(GLOBAL.closed());
    let mut local = pin!(async {
        match local {
            Some(gate) => gate.closed().await,
            None => std::future::pending().await,
        }
    });
    std::future::poll_fn(|cx| {
        if global.as_mut().poll(cx).is_ready() || local.as_mut().poll(cx).is_ready() {
            return Poll::Ready(None);
        }
        wait.as_mut().poll(cx).map(Some)
    })
    .await
}
