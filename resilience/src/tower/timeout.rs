//! [`TimeoutLayer`]: a [`Timeout`] on each request of a tower service.

use std::sync::Arc;
use std::task::{Context, Poll};

use ::tower::{BoxError, Service};

use super::{PolicyLayer, PolicyService, ResponseFuture};
use crate::{registry, ConfigError, Timeout, TimeoutBuilder};

/// Bounds each request's duration with a [`Timeout`]; see [the module](crate::tower) for
/// readiness, errors and stacking.
///
/// The inner service is called in `call` (the timeout admits every request, so the inner
/// service need not be `Clone`), and its future is dropped once it has been pending for the
/// timeout's duration: the request then fails with [`Error::Timeout`](crate::Error::Timeout)
/// (boxed; HTTP 504). As with [`Timeout::call`], the clock starts when the inner future first
/// waits. Time spent waiting for readiness is not counted: `poll_ready` is the inner service's.
///
/// ```
/// use resilience::tower::TimeoutLayer;
/// use resilience::{Error, Timeout};
/// use std::time::Duration;
/// use tower::{service_fn, Layer, ServiceExt};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let layer = TimeoutLayer::register(
///     Timeout::builder("doc-tower-timeout").duration(Duration::from_millis(100)),
/// )
/// .unwrap();
/// let service = layer.layer(service_fn(|wait: u64| async move {
///     tokio::time::sleep(Duration::from_millis(wait)).await;
///     Ok::<_, std::io::Error>(wait)
/// }));
/// assert_eq!(service.clone().oneshot(10).await.unwrap(), 10);
/// let err = service.oneshot(1_000).await.unwrap_err();
/// assert!(matches!(err.downcast_ref::<Error>(), Some(Error::Timeout { .. })));
/// # }
/// ```
pub type TimeoutLayer = PolicyLayer<Timeout>;

impl PolicyLayer<Timeout> {
    /// A layer bounding requests with the timeout `builder` names: registered from `builder` if
    /// there is none yet, else the one registered (see
    /// [`Registry::timeout_or_register`](crate::Registry::timeout_or_register)).
    ///
    /// # Errors
    ///
    /// [`ConfigError`] when the builder's settings are invalid (a zero or unset duration).
    pub fn register(builder: TimeoutBuilder) -> Result<Self, ConfigError> {
        registry().timeout_or_register(builder).map(Self::new)
    }
}

/// The service of a [`TimeoutLayer`].
pub type TimeoutService<S> = PolicyService<S, Timeout>;

impl<S, Req> Service<Req> for TimeoutService<S>
where
    S: Service<Req>,
    S::Future: Send + 'static,
    S::Response: Send + 'static,
    S::Error: Into<BoxError>,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = ResponseFuture<S::Response>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: Req) -> Self::Future {
        let response = self.inner.call(request);
        let timeout = Arc::clone(&self.policy);
        Box::pin(async move {
            let response = async move { response.await.map_err(Into::into) };
            timeout.call(response).await
        })
    }
}
