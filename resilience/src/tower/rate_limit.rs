//! [`RateLimitLayer`]: a [`RateLimiter`] in front of a tower service.

use std::sync::Arc;
use std::task::{Context, Poll};

use ::tower::{BoxError, Service};

use super::{take_ready, PolicyLayer, PolicyService, ResponseFuture};
use crate::{registry, ConfigError, RateLimiter, RateLimiterBuilder};

/// Limits the rate of requests to the inner service with a [`RateLimiter`]; see
/// [the module](crate::tower) for readiness, errors and stacking.
///
/// A request takes a cell when its future is first polled. With the bucket empty it waits for
/// the next cell if the limiter's `wait` allows, inside that future; otherwise it fails at once
/// with [`Error::RateLimited`](crate::Error::RateLimited) (boxed), whose `retry_after` is the
/// time until the next cell (an HTTP `Retry-After`), and the inner service is not called.
/// `poll_ready` never waits for a cell: it is the inner service's readiness.
///
/// ```
/// use resilience::tower::RateLimitLayer;
/// use resilience::{Error, RateLimiter};
/// use std::time::Duration;
/// use tower::{service_fn, Layer, ServiceExt};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let layer = RateLimitLayer::register(RateLimiter::builder("doc-tower-limit").rate(1)).unwrap();
/// let service = layer.layer(service_fn(|n: u32| async move { Ok::<_, std::io::Error>(n) }));
/// assert_eq!(service.clone().oneshot(1).await.unwrap(), 1);
///
/// let err = service.oneshot(2).await.unwrap_err();
/// let rejection = err.downcast_ref::<Error>().unwrap();
/// assert_eq!(rejection.http_status(), 429);
/// assert_eq!(rejection.retry_after(), Some(Duration::from_secs(1)));
/// # }
/// ```
pub type RateLimitLayer = PolicyLayer<RateLimiter>;

impl PolicyLayer<RateLimiter> {
    /// A layer admitting requests through the limiter `builder` names: registered from
    /// `builder` if there is none yet, else the one registered, which `#[rate_limit(name = ..)]`
    /// sites of that name share (see
    /// [`Registry::rate_limiter_or_register`](crate::Registry::rate_limiter_or_register)).
    ///
    /// # Errors
    ///
    /// [`ConfigError`] when the builder's settings are invalid (`rate` 0 or unset).
    pub fn register(builder: RateLimiterBuilder) -> Result<Self, ConfigError> {
        registry().rate_limiter_or_register(builder).map(Self::new)
    }
}

/// The service of a [`RateLimitLayer`].
pub type RateLimitService<S> = PolicyService<S, RateLimiter>;

impl<S, Req> Service<Req> for RateLimitService<S>
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
        let limiter = Arc::clone(&self.policy);
        Box::pin(async move {
            limiter.acquire().await?;
            let _running = limiter.enter();
            inner.call(request).await.map_err(Into::into)
        })
    }
}
