//! [`RetryLayer`]: a [`Retry`] around a tower service.

use std::fmt;
use std::future::poll_fn;
use std::ops::ControlFlow;
use std::sync::Arc;
use std::task::{Context, Poll};

use ::tower::{BoxError, Layer, Service};

use super::{take_ready, view, ResponseFuture};
use crate::{registry, ConfigError, Retry, RetryBuilder};

/// Which of the inner service's own errors a [`RetryLayer`] retries.
type RetryIf = Arc<dyn Fn(&BoxError) -> bool + Send + Sync>;

/// Retries failed requests of the inner service with a [`Retry`]; see
/// [the module](crate::tower) for readiness, errors and stacking.
///
/// **The request must be `Clone`**: each attempt sends a clone of it. axum's `Request<Body>`
/// is not (its body is a stream); `http::Request<T>` is for a `T: Clone`, so retry a client's
/// requests, or map the request below the point where its body is read (`Request<Bytes>` once
/// read, `request.map(|_| ())` for a bodiless `GET`). The inner service must be `Clone` too:
/// the future keeps it for the next attempts, waiting for its readiness before each one. An
/// error out of that `poll_ready` ends the call (tower's contract: the service is done for).
///
/// The inner service's own errors are retried as [`retry_if`](Self::retry_if) says (by default
/// all of them); a rejection by a layer below is retried as `#[retry]` retries it (see
/// [`RetryOn`](crate::RetryOn)): a timeout, a full bulkhead, a rate limit after at least its
/// `retry_after`, not an open circuit. When the attempts run out, the last error is returned.
/// An `Ok` is never retried: an HTTP `500` is an `Ok` response, so map the responses worth
/// another attempt to errors below the retry.
///
/// ```
/// use resilience::tower::RetryLayer;
/// use resilience::Retry;
/// use std::sync::atomic::{AtomicU32, Ordering};
/// use std::sync::Arc;
/// use std::time::Duration;
/// use tower::{service_fn, Layer, ServiceExt};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let layer = RetryLayer::register(
///     Retry::builder("doc-tower-retry").max_attempts(3).fixed(Duration::from_millis(10)),
/// )
/// .unwrap();
/// let calls = Arc::new(AtomicU32::new(0));
/// let counted = Arc::clone(&calls);
/// let service = layer.layer(service_fn(move |n: u32| {
///     let attempt = counted.fetch_add(1, Ordering::SeqCst);
///     async move { if attempt < 2 { Err(std::io::Error::other("flaky")) } else { Ok(n) } }
/// }));
/// assert_eq!(service.oneshot(7).await.unwrap(), 7);
/// assert_eq!(calls.load(Ordering::SeqCst), 3);
/// # }
/// ```
#[derive(Clone)]
pub struct RetryLayer {
    retry: Arc<Retry>,
    retry_if: Option<RetryIf>,
}

impl RetryLayer {
    /// A layer retrying requests with `retry`.
    pub fn new(retry: Arc<Retry>) -> Self {
        RetryLayer {
            retry,
            retry_if: None,
        }
    }

    /// A layer retrying with the policy registered as `name`, registered with the defaults if
    /// there is none yet (3 attempts, exponential backoff from 100ms), as
    /// `#[retry(name = "...")]` with no other setting joins it.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] when `name` is blank.
    pub fn named(name: impl Into<Arc<str>>) -> Result<Self, ConfigError> {
        registry()
            .register_name_only::<Retry>(Retry::builder(name))
            .map(Self::new)
    }

    /// A layer retrying with the policy `builder` names: registered from `builder` if there is
    /// none yet, else the one registered (see
    /// [`Registry::retry_or_register`](crate::Registry::retry_or_register)).
    ///
    /// # Errors
    ///
    /// [`ConfigError`] when the builder's settings are invalid.
    pub fn register(builder: RetryBuilder) -> Result<Self, ConfigError> {
        registry().retry_or_register(builder).map(Self::new)
    }

    /// Retries only the inner service's errors for which `retry_if` returns `true` (the
    /// attribute's `retry_if`); rejections of the layers below are judged by their kind, as
    /// always.
    ///
    /// ```
    /// use resilience::tower::RetryLayer;
    ///
    /// let layer = RetryLayer::named("doc-tower-retry-if")
    ///     .unwrap()
    ///     .retry_if(|error| !error.is::<std::num::ParseIntError>());
    /// # let _ = layer;
    /// ```
    pub fn retry_if<P>(mut self, retry_if: P) -> Self
    where
        P: Fn(&BoxError) -> bool + Send + Sync + 'static,
    {
        self.retry_if = Some(Arc::new(retry_if));
        self
    }

    /// The retry policy the layer's services share.
    pub fn policy(&self) -> &Arc<Retry> {
        &self.retry
    }
}

impl<S> Layer<S> for RetryLayer {
    type Service = RetryService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RetryService {
            inner,
            retry: Arc::clone(&self.retry),
            retry_if: self.retry_if.clone(),
        }
    }
}

impl fmt::Debug for RetryLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryLayer")
            .field("retry", &self.retry.name())
            .field("retry_if", &self.retry_if.is_some())
            .finish()
    }
}

/// The service of a [`RetryLayer`].
#[derive(Clone)]
pub struct RetryService<S> {
    inner: S,
    retry: Arc<Retry>,
    retry_if: Option<RetryIf>,
}

impl<S> RetryService<S> {
    /// `inner` with its failed requests retried by `retry`, every error of its own retried.
    pub fn new(inner: S, retry: Arc<Retry>) -> Self {
        RetryService {
            inner,
            retry,
            retry_if: None,
        }
    }

    /// The retry policy.
    pub fn policy(&self) -> &Arc<Retry> {
        &self.retry
    }

    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

impl<S, Req> Service<Req> for RetryService<S>
where
    S: Service<Req> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Response: Send + 'static,
    S::Error: Into<BoxError>,
    Req: Clone + Send + 'static,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = ResponseFuture<S::Response>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: Req) -> Self::Future {
        let mut inner = take_ready(&mut self.inner);
        let retry = Arc::clone(&self.retry);
        let retry_if = self.retry_if.clone();
        Box::pin(async move {
            let retry_if = |error: &BoxError| retry_if.as_ref().map_or(true, |p| p(error));
            let mut run = retry.begin();
            let mut first = true;
            loop {
                if !first {
                    // The first attempt uses the readiness `poll_ready` reserved.
                    poll_fn(|cx| inner.poll_ready(cx))
                        .await
                        .map_err(Into::into)?;
                }
                first = false;
                let result = inner.call(request.clone()).await.map_err(Into::into);
                let describe = |error: &BoxError| error.to_string();
                match run
                    .after_attempt_described(result, view, retry_if, |_| {}, describe)
                    .await
                {
                    ControlFlow::Break(result) => return result,
                    ControlFlow::Continue(()) => {}
                }
            }
        })
    }
}

impl<S: fmt::Debug> fmt::Debug for RetryService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryService")
            .field("inner", &self.inner)
            .field("retry", &self.retry.name())
            .finish()
    }
}
