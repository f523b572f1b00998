//! [`CircuitBreakerLayer`]: a [`CircuitBreaker`] around a tower service.

use std::sync::Arc;
use std::task::{Context, Poll};

use ::tower::{BoxError, Service};

use super::{take_ready, view, PolicyLayer, PolicyService, ResponseFuture};
use crate::FailureRef;
use crate::{registry, CallOutcome, CircuitBreaker, CircuitBreakerBuilder, ConfigError, Error};

/// Runs each request of the inner service through a [`CircuitBreaker`]; see
/// [the module](crate::tower) for readiness, errors and stacking.
///
/// The inner service's `Err` is a failure; `Ok` is a success (a slow one a failure, with the
/// breaker's `slow_call`). A rejection by a layer below counts as under `#[circuit_breaker]`: a
/// timeout is a failure, a full bulkhead or a rate limit is neutral. While the circuit is open a
/// request fails with [`Error::CircuitOpen`] (boxed) and the inner service is not called. A
/// request dropped before it finishes is neutral; one whose inner future panics is a failure.
///
/// An HTTP server's handlers usually answer errors as responses (`Ok(500)`), which a breaker
/// counts as successes: put the breaker where failures are `Err`s (a client, or a service that
/// maps the responses that mean "down" to errors).
///
/// ```
/// use resilience::tower::CircuitBreakerLayer;
/// use resilience::{CircuitBreaker, CircuitState, Error};
/// use tower::{service_fn, Layer, ServiceExt};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let layer = CircuitBreakerLayer::register(
///     CircuitBreaker::builder("doc-tower-breaker").failure_threshold(1),
/// )
/// .unwrap();
/// let down = |_: ()| async { Err::<(), _>(std::io::Error::other("down")) };
/// let service = layer.layer(service_fn(down));
///
/// assert!(service.clone().oneshot(()).await.is_err());
/// let breaker = resilience::registry().circuit_breaker("doc-tower-breaker").unwrap();
/// assert_eq!(breaker.state(), CircuitState::Open);
///
/// let err = service.oneshot(()).await.unwrap_err();
/// assert!(matches!(err.downcast_ref::<Error>(), Some(Error::CircuitOpen { .. })));
/// # }
/// ```
pub type CircuitBreakerLayer = PolicyLayer<CircuitBreaker>;

impl PolicyLayer<CircuitBreaker> {
    /// A layer running requests through the breaker registered as `name`, registered with the
    /// defaults if there is none yet: what `#[circuit_breaker(name = "...")]` with no other
    /// setting joins (so [strict names](crate::Registry::strict_names) apply to it).
    ///
    /// # Errors
    ///
    /// [`ConfigError`] when `name` is blank.
    pub fn named(name: impl Into<Arc<str>>) -> Result<Self, ConfigError> {
        registry()
            .register_name_only::<CircuitBreaker>(CircuitBreaker::builder(name))
            .map(Self::new)
    }

    /// A layer running requests through the breaker `builder` names: registered from `builder` if
    /// there is none yet, else the one registered (see
    /// [`Registry::circuit_breaker_or_register`](crate::Registry::circuit_breaker_or_register)).
    ///
    /// # Errors
    ///
    /// [`ConfigError`] when the builder's settings are invalid.
    pub fn register(builder: CircuitBreakerBuilder) -> Result<Self, ConfigError> {
        registry()
            .circuit_breaker_or_register(builder)
            .map(Self::new)
    }
}

/// The service of a [`CircuitBreakerLayer`].
pub type CircuitBreakerService<S> = PolicyService<S, CircuitBreaker>;

impl<S, Req> Service<Req> for CircuitBreakerService<S>
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
        let breaker = Arc::clone(&self.policy);
        Box::pin(async move {
            // Lazy: the inner service is called only once the breaker admitted the request.
            let call = async move { inner.call(request).await.map_err(Into::into) };
            breaker.call_with(call, as_the_attribute_counts).await
        })
    }
}

/// How `#[circuit_breaker]` counts the layers below it (`layer_outcome`): a timeout is a
/// failure, any other rejection neutral; the inner service's own error is a failure.
fn as_the_attribute_counts(error: &BoxError) -> CallOutcome {
    match view(error) {
        FailureRef::Policy(Error::Timeout { .. }) | FailureRef::Operation(_) => {
            CallOutcome::Failure
        }
        FailureRef::Policy(_) => CallOutcome::Ignored,
    }
}
