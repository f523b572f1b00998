//! `GET /metrics`: Prometheus text exposition of the core's `metrics` counters and gauges.

use std::sync::{Arc, OnceLock};

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::api::Shared;
use crate::error::ApiError;

/// The Prometheus recorder this crate installs as the `metrics` facade's global recorder, once
/// per process; `None` when another recorder was installed first.
pub(crate) fn global() -> Option<PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            metrics::set_global_recorder(recorder).ok().map(|()| handle)
        })
        .clone()
}

/// The exposition: the registry's counters brought up to date
/// ([`Registry::record_metrics`](resilience::Registry::record_metrics)), then rendered.
pub(crate) async fn render(State(shared): State<Arc<Shared>>) -> Response {
    let Some(handle) = &shared.prometheus else {
        return ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "METRICS_UNAVAILABLE",
            "another metrics recorder is installed: give its PrometheusHandle to Api::prometheus",
        )
        .into_response();
    };
    shared.registry.record_metrics();
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        handle.render(),
    )
        .into_response()
}
