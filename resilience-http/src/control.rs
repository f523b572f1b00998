//! The control endpoints: each takes [`Control`] first, so a request without the token changes
//! nothing, and reads its (empty) body last, so an oversized one is refused with 413.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use resilience::{ConfigError, PolicyKind, Registry};
use serde_json::{json, Value};

use crate::api::Shared;
use crate::auth::Control;
use crate::error::ApiError;
use crate::{names, read};

/// `POST /policies/{kind}/{name}/{action}`: `force_open` (circuit breakers) or `reset` (every
/// kind that keeps state but supervisors). Answers the policy's row after the action.
pub(crate) async fn policy_action(
    _: Control,
    State(shared): State<Arc<Shared>>,
    path: Result<Path<(String, String, String)>, PathRejection>,
    _body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let (kind, name, action) = names::segments(path)?;
    let kind = names::kind(&kind)?;
    let name = names::name(&name)?;
    let registry = shared.registry;
    let done = match action.as_str() {
        "force_open" if kind == PolicyKind::CircuitBreaker => registry
            .circuit_breaker(name)
            .map(|breaker| breaker.force_open()),
        "reset" => reset(registry, kind, name)?,
        _ => {
            return Err(ApiError::not_found(format!(
                "no action `{}` for a {kind}: {}",
                names::shown(&action),
                if kind == PolicyKind::CircuitBreaker {
                    "force_open, reset"
                } else {
                    "reset"
                }
            )))
        }
    };
    match done {
        Some(()) => read::row(registry, kind, name).map(Json),
        None => Err(ApiError::not_found(format!(
            "no {kind} named `{}`",
            names::shown(name)
        ))),
    }
}

/// Resets the one policy of `kind` named `name`, as [`Registry::reset`] resets each kind (a
/// breaker closes with fresh counts, a limiter's bucket fills, counters go to zero), but that kind
/// only. `None` when there is no such policy.
fn reset(registry: &Registry, kind: PolicyKind, name: &str) -> Result<Option<()>, ApiError> {
    // The exported counters keep what the policy counted up to now: `record_metrics` takes it
    // before the stats go to zero (the policies' own resets bypass the registry's bookkeeping).
    #[cfg(feature = "metrics")]
    registry.record_metrics();
    Ok(match kind {
        PolicyKind::CircuitBreaker => registry.circuit_breaker(name).map(|breaker| {
            breaker.reset();
            breaker.reset_stats();
        }),
        PolicyKind::Retry => registry.retry(name).map(|retry| retry.reset_stats()),
        PolicyKind::Timeout => registry.timeout(name).map(|timeout| timeout.reset_stats()),
        PolicyKind::Bulkhead => registry
            .bulkhead(name)
            .map(|bulkhead| bulkhead.reset_stats()),
        PolicyKind::RateLimiter => registry.rate_limiter(name).map(|limiter| {
            limiter.refill();
            limiter.reset_stats();
        }),
        PolicyKind::Fallback => registry
            .fallback(name)
            .map(|fallback| fallback.reset_stats()),
        PolicyKind::Pipeline => registry
            .pipeline(name)
            .map(|pipeline| pipeline.reset_stats()),
        PolicyKind::HealthMonitor => registry.health_monitor(name).map(|monitor| monitor.reset()),
        PolicyKind::RetryBudget => registry.retry_budget(name).map(|budget| budget.reset()),
        PolicyKind::Hedge => registry.hedge(name).map(|hedge| hedge.reset()),
        PolicyKind::Chaos => registry.chaos(name).map(|chaos| chaos.reset()),
        _ => return Err(ApiError::bad_request(format!("a {kind} has no reset"))),
    })
}

/// `POST /config/reload`: reads the file the configuration in force came from again and
/// applies it, all or nothing.
///
/// 200 `{"file": "...", "changed": [{"kind", "name", "keys"}]}`; 404 `NOT_FOUND` when no file
/// was ever applied; 422 `CONFIG_INVALID` with `problems` (each with `file`, `line`, `column`,
/// `section`, `key`, `kind`, `message`, `suggestion`) when the file has errors, or
/// `CONFIG_UNREADABLE` when it cannot be read; either way the configuration in force stays.
pub(crate) async fn reload(
    _: Control,
    State(shared): State<Arc<Shared>>,
    _body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let registry = shared.registry;
    let Some(file) = registry.config().file().map(ToOwned::to_owned) else {
        return Err(ApiError::not_found(
            "no configuration file was applied: nothing to reload",
        ));
    };
    // File I/O off the runtime's workers.
    let path = file.clone();
    let applied = tokio::task::spawn_blocking(move || registry.apply_file(path))
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "INTERNAL",
                "the reload did not finish",
            )
        })?;
    match applied {
        Ok(report) => Ok(Json(json!({
            "file": file.display().to_string(),
            "changed": serde_json::to_value(&report.changed).unwrap_or(Value::Null),
        }))),
        Err(ConfigError::Invalid(problems)) => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "CONFIG_INVALID",
            format!(
                "{} has {} problem(s); the configuration in force stays",
                file.display(),
                problems.len()
            ),
        )
        .with(
            "problems",
            serde_json::to_value(&problems).unwrap_or(Value::Null),
        )),
        Err(error) => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "CONFIG_UNREADABLE",
            format!("{error}; the configuration in force stays"),
        )),
    }
}

/// `POST /chaos/{name}/enable|disable`: turns the chaos policy's injections on or off
/// ([`Chaos::enable`](resilience::Chaos::enable)); answers its row after. 404 for an unknown
/// name (nothing is created) or action.
pub(crate) async fn chaos(
    _: Control,
    State(shared): State<Arc<Shared>>,
    path: Result<Path<(String, String)>, PathRejection>,
    _body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let (name, action) = names::segments(path)?;
    let name = names::name(&name)?;
    if action != "enable" && action != "disable" {
        return Err(ApiError::not_found(format!(
            "no chaos action `{}`: enable, disable",
            names::shown(&action)
        )));
    }
    let registry = shared.registry;
    let Some(chaos) = registry.chaos(name) else {
        return Err(ApiError::not_found(format!(
            "no chaos policy named `{}`",
            names::shown(name)
        )));
    };
    chaos.set_enabled(action == "enable");
    read::row(registry, PolicyKind::Chaos, name).map(Json)
}
