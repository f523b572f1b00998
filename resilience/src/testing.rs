//! Tests that never share a policy (feature `test-util`).
//!
//! Every policy lives in one registry, by name, for the whole process. Tests that run in
//! parallel therefore share them: one test forces a breaker open and another's calls are
//! rejected, and whichever test registers a name first decides its settings. Inside
//! [`isolated`], and in a test written with [`#[resilience::test]`](crate::test), every policy is
//! resolved from a fresh registry of the test's own instead: the annotated functions' sites,
//! [`registry()`](crate::registry()) and its lookups, resets and `*_or_register` calls all see
//! that registry, as if the test ran alone in its own process.
//!
//! ```toml
//! [dev-dependencies]
//! resilience = { version = "0.1", features = ["test-util"] }
//! ```
//!
//! ```
//! use resilience::{circuit_breaker, registry, CircuitState};
//!
//! #[circuit_breaker(name = "payments", failure_threshold = 1)]
//! async fn charge(ok: bool) -> Result<(), std::io::Error> {
//!     if ok { Ok(()) } else { Err(std::io::Error::other("declined")) }
//! }
//!
//! /// Runs in parallel with other tests, none of which sees this breaker open.
//! #[resilience::test]
//! async fn an_open_breaker_rejects() {
//!     let _ = charge(false).await;
//!     assert_eq!(registry().circuit_breaker("payments").unwrap().state(), CircuitState::Open);
//!     assert!(charge(true).await.is_err());
//! }
//! # fn main() {}
//! ```
//!
//! # What is isolated
//!
//! The isolation belongs to the future given to [`isolated`]: it is current on the thread that
//! polls that future, during each poll, whatever the runtime's flavor. So:
//!
//! - A task started with `tokio::spawn` inside does not inherit it: its calls use the global
//!   registry. Start it with [`testing::spawn`](spawn) instead, or wrap its future with
//!   [`Isolation::scope`] (from [`current()`]).
//! - The same holds for a thread started inside, and for a future handed to something that polls
//!   it elsewhere.
//! - [`Event`](crate::Event)s are not isolated: [`Registry::subscribe`](crate::Registry::subscribe)
//!   delivers every policy's events, whatever registry it was called on. Filter them by the
//!   policy's name (the `Event::name` method), which can be unique to the test.
//! - A policy built by hand (`CircuitBreaker::builder(..).build()`) is in no registry at all;
//!   a policy `Arc` taken out of an isolated registry keeps working anywhere.
//!
//! # Cost
//!
//! Without the feature, none: a call site's path is exactly its `static`. With it, each call of
//! an annotated function first reads a thread-local (about a nanosecond, within the benchmarks'
//! noise) and, inside an isolation, looks its policy up in that isolation's table (a read lock
//! and a hash). Each isolation leaks its
//! registry, and one `Arc` per call site it ran: memory bounded by the tests a program runs, and
//! the reason to enable the feature in `[dev-dependencies]` only.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::registry::isolation::IsolatedRegistry;
use crate::Registry;

/// The Tokio that `#[resilience::test]` expands to, so a test needs no `tokio` of its own.
#[doc(hidden)]
pub use tokio as __tokio;

/// Runs `future` with a fresh registry of its own: see the [module docs](self).
///
/// ```
/// use resilience::{circuit_breaker, registry, testing, CircuitState};
///
/// #[circuit_breaker(name = "doc-isolated", failure_threshold = 1)]
/// async fn call(ok: bool) -> Result<(), std::io::Error> {
///     if ok { Ok(()) } else { Err(std::io::Error::other("down")) }
/// }
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let opened = testing::isolated(async {
///     let _ = call(false).await;
///     registry().circuit_breaker("doc-isolated").unwrap().state()
/// });
/// let untouched = testing::isolated(async {
///     call(true).await.unwrap();
///     registry().circuit_breaker("doc-isolated").unwrap().state()
/// });
/// // Concurrently, on one thread: each saw its own breaker only.
/// assert_eq!(
///     tokio::join!(opened, untouched),
///     (CircuitState::Open, CircuitState::Closed)
/// );
/// // And the global registry saw neither.
/// assert!(registry().circuit_breaker("doc-isolated").is_none());
/// # }
/// ```
pub fn isolated<F: Future>(future: F) -> Isolated<F> {
    Isolation::new().scope(future)
}

/// The isolation of the future being polled on this thread, if it runs inside one: to run
/// another future (a spawned task's) in the same registry.
///
/// ```
/// use resilience::testing;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// assert_eq!(testing::current(), None);
/// let isolation = testing::Isolation::new();
/// let seen = isolation.scope(async { testing::current() }).await;
/// assert_eq!(seen, Some(isolation));
/// # }
/// ```
pub fn current() -> Option<Isolation> {
    crate::registry::isolation::current().map(Isolation)
}

/// [`tokio::spawn`], in the current [`Isolation`] if there is one: the task's calls then use the
/// same registry as the code that spawned it.
///
/// ```
/// use resilience::{registry, testing, Bulkhead};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// testing::isolated(async {
///     registry()
///         .bulkhead_or_register(Bulkhead::builder("doc-spawn").max_concurrent(1))
///         .unwrap();
///     let task = testing::spawn(async { registry().bulkhead("doc-spawn").is_some() });
///     assert!(task.await.unwrap());
///     // A plain `tokio::spawn` runs in the global registry.
///     let task = tokio::spawn(async { registry().bulkhead("doc-spawn").is_some() });
///     assert!(!task.await.unwrap());
/// })
/// .await;
/// # }
/// ```
///
/// # Panics
///
/// As `tokio::spawn`: when called outside a Tokio runtime.
pub fn spawn<F>(future: F) -> tokio::task::JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    match current() {
        Some(isolation) => tokio::spawn(isolation.scope(future)),
        None => tokio::spawn(future),
    }
}

/// A registry of its own for tests, current while the futures of its [`scope`](Self::scope)s are
/// polled. Cheap to copy; two copies are equal when they are the same isolation.
#[derive(Clone, Copy)]
pub struct Isolation(&'static IsolatedRegistry);

impl Isolation {
    /// A fresh, empty registry of its own.
    ///
    /// It is leaked (see the [module docs](self)): there is no `Default`, so that each one is
    /// asked for by name.
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        Isolation(IsolatedRegistry::leak())
    }

    /// The isolation's registry, to look at from outside its futures (after they ran).
    ///
    /// ```
    /// use resilience::{retry, testing};
    ///
    /// #[retry(name = "doc-isolation-registry")]
    /// async fn fetch() -> Result<u32, std::io::Error> {
    ///     Ok(7)
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let isolation = testing::Isolation::new();
    /// isolation.scope(fetch()).await.unwrap();
    /// let retry = isolation.registry().retry("doc-isolation-registry").unwrap();
    /// assert_eq!(retry.stats().calls, 1);
    /// assert!(resilience::registry().retry("doc-isolation-registry").is_none());
    /// # }
    /// ```
    pub fn registry(self) -> &'static Registry {
        self.0.registry()
    }

    /// Runs `future` in this isolation: during each of its polls, every policy is resolved from
    /// this isolation's registry. Several futures may share one isolation, concurrently too.
    pub fn scope<F: Future>(self, future: F) -> Isolated<F> {
        Isolated {
            isolation: self,
            future: Box::pin(future),
        }
    }
}

impl PartialEq for Isolation {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self.0, other.0)
    }
}

impl Eq for Isolation {}

impl fmt::Debug for Isolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Isolation")
            .field(&std::ptr::from_ref(self.0))
            .finish()
    }
}

/// A future run in an [`Isolation`]: made by [`isolated`] and [`Isolation::scope`].
///
/// The future is boxed, once per test: pinning it in place would need `unsafe` projection,
/// which this crate has none of.
#[must_use = "futures do nothing unless awaited"]
pub struct Isolated<F> {
    isolation: Isolation,
    future: Pin<Box<F>>,
}

impl<F> Isolated<F> {
    /// The isolation the future runs in.
    pub fn isolation(&self) -> Isolation {
        self.isolation
    }
}

impl<F: Future> Future for Isolated<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        // Restores the isolation that was current before, also if the poll panics.
        let _entered = self.isolation.0.enter();
        self.future.as_mut().poll(cx)
    }
}

impl<F> fmt::Debug for Isolated<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Isolated")
            .field("isolation", &self.isolation)
            .finish_non_exhaustive()
    }
}
