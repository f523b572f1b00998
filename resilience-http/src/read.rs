//! The read endpoints: health, the policies. None of them creates or changes anything.

use std::sync::Arc;
use std::time::SystemTime;

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use resilience::{CircuitState, HealthStatus, PolicySnapshot, PolicyStats, Registry};
use serde_json::{json, Value};

use crate::api::Shared;
use crate::error::ApiError;
use crate::names;

/// `GET /health`: the registry's [`HealthReport`](resilience::HealthReport), the user's checks
/// run; 200 healthy or degraded, 503 unhealthy.
pub(crate) async fn health(State(shared): State<Arc<Shared>>) -> Response {
    let report = shared.registry.health().await;
    let status = if report.status == HealthStatus::Unhealthy {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    (status, Json(report)).into_response()
}

/// `GET /health/live`: `{"live": true}` 200, or `{"live": false}` 503.
pub(crate) async fn live(State(shared): State<Arc<Shared>>) -> Response {
    up("live", shared.registry.live())
}

/// `GET /health/ready`: `{"ready": true}` 200, or `{"ready": false}` 503.
pub(crate) async fn ready(State(shared): State<Arc<Shared>>) -> Response {
    up("ready", shared.registry.ready().await)
}

fn up(what: &str, yes: bool) -> Response {
    let status = if yes {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(json!({ what: yes }))).into_response()
}

/// `GET /policies`: the registry snapshot.
pub(crate) async fn policies(State(shared): State<Arc<Shared>>) -> Json<Value> {
    let snapshot = shared.registry.snapshot();
    let rows: Vec<Value> = snapshot
        .policies()
        .iter()
        .map(|row| row_json(shared.registry, row))
        .collect();
    Json(json!({
        "policies": rows,
        "health": serde_json::to_value(snapshot.health()).unwrap_or(Value::Null),
    }))
}

/// `GET /policies/{kind}/{name}`: one row of the snapshot; 404 when there is none.
pub(crate) async fn policy(
    State(shared): State<Arc<Shared>>,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let (kind, name) = names::segments(path)?;
    let kind = names::kind(&kind)?;
    let name = names::name(&name)?;
    row(shared.registry, kind, name).map(Json)
}

/// The snapshot row of the policy of `kind` named `name`, as JSON; 404 when there is none.
pub(crate) fn row(
    registry: &Registry,
    kind: resilience::PolicyKind,
    name: &str,
) -> Result<Value, ApiError> {
    registry
        .policies()
        .iter()
        .find(|row| row.kind() == kind && row.name() == name)
        .map(|row| row_json(registry, row))
        .ok_or_else(|| ApiError::not_found(format!("no {kind} named `{}`", names::shown(name))))
}

/// A snapshot row as JSON, plus, for an open breaker, `half_open_in_ms`: how long until the
/// next call may probe (0 once due; a breaker forced open stays open regardless).
fn row_json(registry: &Registry, row: &PolicySnapshot) -> Value {
    let mut value = serde_json::to_value(row).unwrap_or(Value::Null);
    if let PolicyStats::CircuitBreaker(stats) = row.stats() {
        let due = match (stats.state, stats.opened_at) {
            (CircuitState::Open, Some(opened)) => registry.circuit_breaker(row.name()).map(|b| {
                let open_for = SystemTime::now()
                    .duration_since(opened.system_time())
                    .unwrap_or_default();
                b.config().reset_timeout.saturating_sub(open_for)
            }),
            _ => None,
        };
        if let Value::Object(fields) = &mut value {
            fields.insert(
                "half_open_in_ms".into(),
                due.map_or(Value::Null, |due| json!(due.as_millis() as u64)),
            );
        }
    }
    value
}
