//! [`Api`]: what the routes serve (which registry, which token, which metrics) and the router.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;
#[cfg(feature = "metrics")]
use metrics_exporter_prometheus::PrometheusHandle;
use resilience::Registry;
use tokio::sync::watch;

use crate::auth::ControlToken;
use crate::{control, dashboard, error::ApiError, events, read};

/// The largest request body accepted, in bytes: no endpoint reads one, so a small limit turns
/// anything bigger away with 413 before it is read.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// What the routes share.
pub(crate) struct Shared {
    pub(crate) registry: &'static Registry,
    pub(crate) token: Option<ControlToken>,
    #[cfg(feature = "metrics")]
    pub(crate) prometheus: Option<PrometheusHandle>,
    /// `/events` streams open now.
    pub(crate) event_streams: Arc<AtomicUsize>,
    /// Turns `true` when the server shuts down: open event streams end. `None`: never.
    pub(crate) closing: Option<watch::Receiver<bool>>,
}

/// The HTTP API over one registry, to build a [`Router`] from: for a router with a control
/// token, over a registry of its own, or with metrics of your own. [`router()`](crate::router)
/// is `Api::new().router()`.
///
/// ```
/// use resilience_http::Api;
///
/// let app: axum::Router = axum::Router::new()
///     .route("/", axum::routing::get(|| async { "my service" }))
///     .nest("/resilience", Api::new().control_token("s3cret").router());
/// # drop(app);
/// ```
#[derive(Clone)]
pub struct Api {
    registry: &'static Registry,
    token: Option<ControlToken>,
    #[cfg(feature = "metrics")]
    prometheus: Option<PrometheusHandle>,
    streams: Arc<AtomicUsize>,
    closing: Option<watch::Receiver<bool>>,
}

impl Api {
    /// The API over the global [`resilience::registry()`], control disabled, `/metrics` from
    /// the Prometheus recorder this crate installs (see `Api::prometheus`, feature `metrics`).
    pub fn new() -> Self {
        Api::for_registry(resilience::registry())
    }

    /// The API over `registry`: the global one, or a test's own
    /// (`resilience::testing::Isolation::registry`).
    pub fn for_registry(registry: &'static Registry) -> Self {
        Api {
            registry,
            token: None,
            #[cfg(feature = "metrics")]
            prometheus: None,
            streams: Arc::default(),
            closing: None,
        }
    }

    /// Enables the control endpoints for requests with `Authorization: Bearer <token>`. An empty
    /// token leaves them disabled (every control request is then 403 `CONTROL_DISABLED`).
    pub fn control_token(mut self, token: impl AsRef<str>) -> Self {
        self.token = ControlToken::new(token.as_ref());
        self
    }

    /// Serves `/metrics` from `handle`: for a program that installed its own
    /// `metrics_exporter_prometheus` recorder. (Feature `metrics`, on by default.)
    ///
    /// Without it, [`router`](Self::router) installs a Prometheus recorder as the `metrics`
    /// facade's global recorder, once per process, and serves from that; when another recorder
    /// was installed first, `/metrics` answers 503 `METRICS_UNAVAILABLE`.
    #[cfg(feature = "metrics")]
    pub fn prometheus(mut self, handle: PrometheusHandle) -> Self {
        self.prometheus = Some(handle);
        self
    }

    /// The same API over another registry.
    pub(crate) fn with_registry(mut self, registry: &'static Registry) -> Self {
        self.registry = registry;
        self
    }

    /// Ends the `/events` streams when `closing` turns `true` (a server's shutdown).
    pub(crate) fn closing(mut self, closing: watch::Receiver<bool>) -> Self {
        self.closing = Some(closing);
        self
    }

    /// How many `/events` streams are open now, across every router built from this `Api`.
    pub fn event_streams(&self) -> usize {
        self.streams.load(Ordering::Relaxed)
    }

    /// The router: every endpoint of the [crate docs](crate#endpoints), at the root (nest it to
    /// mount it under a prefix).
    pub fn router(&self) -> Router {
        let shared = Arc::new(Shared {
            registry: self.registry,
            token: self.token.clone(),
            #[cfg(feature = "metrics")]
            prometheus: self.prometheus.clone().or_else(crate::metrics::global),
            event_streams: Arc::clone(&self.streams),
            closing: self.closing.clone(),
        });
        let router = Router::new()
            .route("/", get(dashboard::page))
            .route("/health", get(read::health))
            .route("/health/live", get(read::live))
            .route("/health/ready", get(read::ready))
            .route("/policies", get(read::policies))
            .route("/policies/{kind}/{name}", get(read::policy))
            .route(
                "/policies/{kind}/{name}/{action}",
                post(control::policy_action),
            )
            .route("/config/reload", post(control::reload))
            .route("/chaos/{name}/{action}", post(control::chaos))
            .route("/events", get(events::stream))
            .fallback(not_found)
            .method_not_allowed_fallback(method_not_allowed)
            .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
            .with_state(Arc::clone(&shared));
        #[cfg(feature = "metrics")]
        let router = router.merge(
            Router::new()
                .route("/metrics", get(crate::metrics::render))
                .with_state(shared),
        );
        router
    }
}

impl Default for Api {
    fn default() -> Self {
        Api::new()
    }
}

impl std::fmt::Debug for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Api")
            .field("control", &self.token.is_some())
            .finish_non_exhaustive()
    }
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such endpoint")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        "METHOD_NOT_ALLOWED",
        "this endpoint does not take that method",
    )
}
