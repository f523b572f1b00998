//! `tower` layers for every policy kind (feature `tower`): the same named policies for axum,
//! tonic and hyper services as for annotated functions.
//!
//! | layer | service | policy |
//! |---|---|---|
//! | [`CircuitBreakerLayer`] | [`CircuitBreakerService`] | [`CircuitBreaker`](crate::CircuitBreaker) |
//! | [`BulkheadLayer`] | [`BulkheadService`] | [`Bulkhead`](crate::Bulkhead) |
//! | [`RateLimitLayer`] | [`RateLimitService`] | [`RateLimiter`](crate::RateLimiter) |
//! | [`TimeoutLayer`] | [`TimeoutService`] | [`Timeout`](crate::Timeout) |
//! | [`RetryLayer`] | [`RetryService`] | [`Retry`](crate::Retry) |
//!
//! **One registry.** A layer resolves its policy from the [registry](crate::registry): `named`
//! (breaker and retry) joins the policy of that name, registering the defaults if there is none,
//! as `#[circuit_breaker(name = "...")]` with no other setting does; `register` takes a builder,
//! registering it or joining the policy already registered under its name; `new` takes a policy
//! already built. A layer and an annotated function naming the same breaker share its state, its
//! counters and its row in the snapshot.
//!
//! **Errors.** Every service answers `tower::BoxError`, as tower's own middleware does: the inner
//! service's error boxed as it is, or a rejection boxed as a [`resilience::Error`](crate::Error).
//! Tell them apart with `err.downcast_ref::<resilience::Error>()`, and answer a rejection with
//! its [`http_status`](crate::Error::http_status) and [`retry_after`](crate::Error::retry_after).
//! Under axum, whose routes take only infallible services, put
//! `axum::error_handling::HandleErrorLayer` outermost to turn the error into a response.
//!
//! **Stacked layers count as stacked attributes.** A layer sees a `resilience::Error` from the
//! layers below it as their rejection, as an attribute sees `Failure::Policy`: a breaker counts a
//! timeout below it as a failure and any other rejection (a full bulkhead, a rate limit) as
//! neutral; a retry retries a timeout, a full bulkhead or a rate limit (sleeping at least its
//! `retry_after`), and not an open circuit. (So an inner service whose own error is a
//! `resilience::Error`, an annotated function's, counts as a rejection too.) Layers nest in the
//! order of `ServiceBuilder`: the first one added is outermost, like the top attribute.
//!
//! **Readiness and admission.** `poll_ready` passes the inner service's readiness through and
//! takes nothing. The policy admits the request inside the future `call` returns, on its first
//! poll: a breaker that is open, a bulkhead or a limiter that is full answers as the policy
//! says, at once with its rejection, or, when it has a queue or a `wait`, by waiting inside that
//! future (never in `poll_ready`, which would stall every other request of a shared service and
//! hold a slot for a request that may never come). The breaker, bulkhead, rate-limit and retry
//! services need `S: Clone`: `call` moves the inner service, already ready, into the future and
//! keeps a clone, the usual tower idiom, so that the inner service's `call` runs only once the
//! request is admitted. A rejected request never reaches it. Slots and probe permits are the
//! policies' own RAII guards, held by the future: a request that completes, fails, panics or is
//! dropped gives them back.
//!
//! **Cost.** Each service's future is boxed (one allocation per request), which keeps this
//! crate free of `unsafe` pin projection; on an HTTP request it is noise.
//!
//! ```
//! use resilience::tower::{BulkheadLayer, CircuitBreakerLayer, TimeoutLayer};
//! use resilience::{Bulkhead, Error, Timeout};
//! use std::time::Duration;
//! use tower::{service_fn, BoxError, ServiceBuilder, ServiceExt};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), BoxError> {
//! let service = ServiceBuilder::new()
//!     .layer(CircuitBreakerLayer::named("doc-tower-inventory")?)
//!     .layer(TimeoutLayer::register(
//!         Timeout::builder("doc-tower-inventory").duration(Duration::from_secs(2)),
//!     )?)
//!     .layer(BulkheadLayer::register(
//!         Bulkhead::builder("doc-tower-inventory").max_concurrent(10),
//!     )?)
//!     .service(service_fn(|sku: String| async move {
//!         tokio::time::sleep(Duration::from_secs(5)).await; // slower than the timeout
//!         Ok::<_, std::io::Error>(sku.len())
//!     }));
//!
//! let err = service.oneshot("apple".to_owned()).await.unwrap_err();
//! let rejection = err.downcast_ref::<Error>().expect("a rejection");
//! assert_eq!(rejection.http_status(), 504);
//! let breaker = resilience::registry().circuit_breaker("doc-tower-inventory").unwrap();
//! assert_eq!(breaker.stats().failures, 1); // a timeout below the breaker is a failure
//! # Ok(())
//! # }
//! ```

mod bulkhead;
mod circuit_breaker;
mod policy;
mod rate_limit;
mod retry;
mod timeout;

use std::future::Future;
use std::pin::Pin;

use ::tower::BoxError;

pub use bulkhead::{BulkheadLayer, BulkheadService};
pub use circuit_breaker::{CircuitBreakerLayer, CircuitBreakerService};
pub use policy::{NamedPolicy, PolicyLayer, PolicyService};
pub use rate_limit::{RateLimitLayer, RateLimitService};
pub use retry::{RetryLayer, RetryService};
pub use timeout::{TimeoutLayer, TimeoutService};

use crate::{Error, FailureRef};

/// The future of every service in this module: the inner service's response, or its error or a
/// policy's rejection as a `tower::BoxError`.
pub type ResponseFuture<R> = Pin<Box<dyn Future<Output = Result<R, BoxError>> + Send>>;

/// A boxed error as the layers see it: a rejection by a layer below, or the inner service's own.
fn view(error: &BoxError) -> FailureRef<'_, BoxError> {
    match error.downcast_ref::<Error>() {
        Some(rejection) => FailureRef::Policy(rejection),
        None => FailureRef::Operation(error),
    }
}

/// Takes the inner service, which `poll_ready` made ready, and leaves a clone in its place.
fn take_ready<S: Clone>(inner: &mut S) -> S {
    let clone = inner.clone();
    std::mem::replace(inner, clone)
}
