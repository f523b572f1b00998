//! [`BulkheadLayer`]: a [`Bulkhead`] around a tower service.

use std::sync::Arc;
use std::task::{Context, Poll};

use ::tower::{BoxError, Service};

use super::{take_ready, PolicyLayer, PolicyService, ResponseFuture};
use crate::{registry, Bulkhead, BulkheadBuilder, ConfigError};

/// Caps the requests of the inner service in flight at once with a [`Bulkhead`]; see
/// [the module](crate::tower) for readiness, errors and stacking.
///
/// A request takes a slot when its future is first polled and holds it until the inner
/// service's future is done or dropped (a panic included). With every slot taken, it waits in
/// the bulkhead's queue, if it has one, for at most `queue_timeout`; otherwise, or when the
/// queue is full, it fails at once with [`Error::BulkheadFull`](crate::Error::BulkheadFull)
/// (boxed), and the inner service is not called. `poll_ready` never waits for a slot: it is the
/// inner service's readiness.
///
/// ```
/// use resilience::tower::BulkheadLayer;
/// use resilience::{Bulkhead, Error};
/// use tower::{service_fn, Layer, ServiceExt};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let layer = BulkheadLayer::register(Bulkhead::builder("doc-tower-bulkhead").max_concurrent(1))
///     .unwrap();
/// let service = layer.layer(service_fn(|n: u32| async move { Ok::<_, std::io::Error>(n * 2) }));
/// assert_eq!(service.clone().oneshot(21).await.unwrap(), 42);
///
/// let held = layer.policy().try_acquire().unwrap(); // the one slot is busy
/// let err = service.oneshot(1).await.unwrap_err();
/// assert!(matches!(err.downcast_ref::<Error>(), Some(Error::BulkheadFull { .. })));
/// drop(held);
/// # }
/// ```
pub type BulkheadLayer = PolicyLayer<Bulkhead>;

impl PolicyLayer<Bulkhead> {
    /// A layer admitting requests through the bulkhead `builder` names: registered from
    /// `builder` if there is none yet, else the one registered, which `#[bulkhead(name = ..)]`
    /// sites of that name share (see
    /// [`Registry::bulkhead_or_register`](crate::Registry::bulkhead_or_register)).
    ///
    /// # Errors
    ///
    /// [`ConfigError`] when the builder's settings are invalid (`max_concurrent` 0 or unset).
    pub fn register(builder: BulkheadBuilder) -> Result<Self, ConfigError> {
        registry().bulkhead_or_register(builder).map(Self::new)
    }
}

/// The service of a [`BulkheadLayer`].
pub type BulkheadService<S> = PolicyService<S, Bulkhead>;

impl<S, Req> Service<Req> for BulkheadService<S>
where
    S: Service<Req> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Response: Send + 'static,
    S::Error: Into<BoxError>,
    Req: Send + 'static,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = ResponseFuture<S::Response>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: Req) -> Self::Future {
        let mut inner = take_ready(&mut self.inner);
        let bulkhead = Arc::clone(&self.policy);
        Box::pin(async move {
            let _slot = bulkhead.acquire().await?;
            inner.call(request).await.map_err(Into::into)
        })
    }
}
