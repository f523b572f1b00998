//! Fleet-wide state: the [`SharedStore`] extension point, through which the breakers and rate
//! limiters marked `shared` share their state across every instance of a service
//! (OPERATIONS.md §6).
//!
//! The core holds no store of its own and no network code: an adapter implements
//! [`SharedStore`] (the crate `resilience-redis` does, on Redis), and the program hands it to
//! the registry with [`Registry::set_store`](crate::Registry::set_store). From then on:
//!
//! - A **shared rate limiter** takes each call's cell from one bucket in the store, with one
//!   [`acquire_permit`](SharedStore::acquire_permit) round trip per call: the limit holds
//!   across the fleet.
//! - A **shared circuit breaker** still decides every call locally, with no store round trip
//!   on a call's path (a closed circuit's success costs exactly what an unshared one's does). A
//!   background task of the registry calls [`sync_breaker`](SharedStore::sync_breaker) for each
//!   shared breaker every [`sync_interval`](SharedStore::sync_interval) (default 100 ms): it adds
//!   the instance's outcome counts to the fleet's, proposes the transitions the instance made,
//!   and brings back the fleet's state, which the instance follows. The trip rule is judged on
//!   the fleet's counts too; each transition is one atomic step guarded by the fleet's
//!   generation, so two instances tripping at once open the circuit once; half-open probes are
//!   bounded fleet-wide by `half_open_max_calls` (only the instance whose half-open transition
//!   won probes; the others reject until the fleet closes or re-opens).
//! - **The store failing never fails a call.** An operation that errs, times out or answers
//!   garbage ([`StoreError`]) leaves the policy on its local state;
//!   [`Event::StoreUnavailable`](crate::Event::StoreUnavailable) is emitted once, health is
//!   degraded naming the store ([`Contributor::Store`](crate::Contributor::Store)), and the first
//!   operation that succeeds again emits [`Event::StoreRejoined`](crate::Event::StoreRejoined).
//!   While the store is down, a shared limiter's calls go straight to the local bucket, but for
//!   one call per `sync_interval` that asks the store again (and the breakers' syncs, which keep
//!   asking), so an outage does not cost every call the store's timeout.
//!
//! A policy that is not `shared` never looks at the store.

mod handle;
mod sync;
mod types;

pub(crate) use handle::StoreHandle;
pub(crate) use sync::spawn_sync;
pub use types::{
    BreakerReport, FleetBreaker, FleetPhase, FleetRule, RateDecision, RateRequest, StoreError,
};

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

/// The future a [`SharedStore`] operation returns: boxed, so that the trait stays object-safe
/// without an `async-trait` dependency.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// The sync interval when a store does not choose one: 100 ms.
pub const DEFAULT_SYNC_INTERVAL: Duration = Duration::from_millis(100);

/// A store of fleet-wide policy state: the extension point for adapters such as
/// `resilience-redis`. Set one with [`Registry::set_store`](crate::Registry::set_store).
///
/// Each operation is one atomic step on the store's side, judged on the store's clock, and
/// keyed by the policy's name (an adapter namespaces its keys, and gives them a time to live so
/// that a dead fleet leaves nothing behind). An operation never panics: whatever goes wrong
/// (unreachable, slow past the adapter's own per-operation timeout, an answer it cannot read)
/// is a [`StoreError`], on which the policy falls back to its local state.
///
/// ```
/// use resilience::store::{
///     BreakerReport, FleetBreaker, RateDecision, RateRequest, SharedStore, StoreError,
///     StoreFuture,
/// };
///
/// /// A store that is never there: every shared policy runs on its local state.
/// struct Nowhere;
///
/// impl SharedStore for Nowhere {
///     fn describe(&self) -> String {
///         "nowhere".to_owned()
///     }
///     fn acquire_permit<'a>(&'a self, _: &'a str, _: RateRequest) -> StoreFuture<'a, RateDecision> {
///         Box::pin(async { Err(StoreError::Unreachable("nowhere".to_owned())) })
///     }
///     fn sync_breaker<'a>(&'a self, _: &'a str, _: BreakerReport) -> StoreFuture<'a, FleetBreaker> {
///         Box::pin(async { Err(StoreError::Unreachable("nowhere".to_owned())) })
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let limiter = resilience::RateLimiter::builder("doc-nowhere").rate(1).shared(true).build().unwrap();
/// resilience::registry().set_store(Nowhere);
/// // The store fails: the limiter's local bucket decides, and the call passes.
/// assert!(limiter.acquire().await.is_ok());
/// assert!(limiter.acquire().await.is_err());
/// # resilience::registry().clear_store();
/// # }
/// ```
pub trait SharedStore: Send + Sync + 'static {
    /// How the store names itself in events and health: an address without credentials,
    /// such as `redis://10.0.0.5:6379 (prefix checkout)`.
    fn describe(&self) -> String;

    /// How often each shared breaker syncs with the fleet; default
    /// [`DEFAULT_SYNC_INTERVAL`] (100 ms). Another instance's transition is followed within
    /// one interval.
    fn sync_interval(&self) -> Duration {
        DEFAULT_SYNC_INTERVAL
    }

    /// Takes one cell from the fleet's bucket of the rate limiter `name`, by the GCRA on the
    /// store's clock, in one atomic step: [`RateDecision::Permitted`] when the bucket had one,
    /// else [`RateDecision::Limited`] with the time until the next cell (longer than zero).
    /// A bucket the store does not hold (first use, flushed, expired, unreadable) is full.
    fn acquire_permit<'a>(
        &'a self,
        name: &'a str,
        request: RateRequest,
    ) -> StoreFuture<'a, RateDecision>;

    /// One sync of the shared breaker `name`, in one atomic step on the store. In order:
    ///
    /// 1. A state the store does not hold (first use, flushed, expired) or cannot read is
    ///    seeded from the report: generation [`generation`](BreakerReport::generation), phase
    ///    [`phase`](BreakerReport::phase), open since [`open_for`](BreakerReport::open_for)
    ///    ago, no counts.
    /// 2. A [`proposal`](BreakerReport::proposal) is applied only when the stored generation
    ///    is the report's: the phase becomes the proposal, the generation grows by one, the
    ///    counts start afresh, and an open phase starts its clock now. Otherwise (another
    ///    instance moved first) it is dropped.
    /// 3. When nothing was proposed, the stored phase is closed and the generation is the
    ///    report's, the report's outcome counts are added (to the time bucket of width
    ///    [`bucket`](BreakerReport::bucket) they fall in, on the store's clock) and the
    ///    [`rule`](BreakerReport::rule) is judged on the fleet's counts: when it trips, the
    ///    phase becomes open, as in 2.
    /// 4. A half-open phase older than [`half_open_timeout`](BreakerReport::half_open_timeout)
    ///    becomes open, as in 2: its probe never reported.
    /// 5. The state's time to live is set to [`ttl`](BreakerReport::ttl).
    ///
    /// Returns the state after these steps.
    fn sync_breaker<'a>(
        &'a self,
        name: &'a str,
        report: BreakerReport,
    ) -> StoreFuture<'a, FleetBreaker>;
}
