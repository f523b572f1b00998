//! `GET /events`: the registry's events as Server-Sent Events, one JSON object per `data:` line.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::SystemTime;

use axum::extract::State;
use axum::response::sse::{self, KeepAlive, Sse};
use futures::{Stream, StreamExt};
use resilience::Event;
use serde_json::{json, Value};
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;
use tokio_stream::wrappers::BroadcastStream;

use crate::api::Shared;

/// An open stream, counted while it lives: dropped with the response body, when the client goes
/// away (the next write fails) or the server shuts down.
struct Open(Arc<AtomicUsize>);

impl Open {
    fn new(count: Arc<AtomicUsize>) -> Self {
        count.fetch_add(1, Ordering::Relaxed);
        Open(count)
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The stream: each event as it happens. A reader that falls behind by more than the registry's
/// channel holds (1024 events) loses the oldest, told by a `{"type": "lagged", "missed": n}`
/// event; the policies never wait for a reader.
pub(crate) async fn stream(
    State(shared): State<Arc<Shared>>,
) -> Sse<impl Stream<Item = Result<sse::Event, Infallible>>> {
    let open = Open::new(Arc::clone(&shared.event_streams));
    let events = BroadcastStream::new(shared.registry.subscribe()).map(move |item| {
        let _counted = &open;
        let data = match item {
            Ok(event) => event_json(&event),
            Err(BroadcastStreamRecvError::Lagged(missed)) => {
                json!({ "type": "lagged", "missed": missed, "at": now() })
            }
        };
        Ok(sse::Event::default().data(data.to_string()))
    });
    let closing = shared.closing.clone();
    let closed: Pin<Box<dyn Future<Output = ()> + Send>> = Box::pin(async move {
        match closing {
            Some(mut closing) => {
                // A dropped sender means the server is gone: end too.
                let _ = closing.wait_for(|closing| *closing).await;
            }
            None => std::future::pending().await,
        }
    });
    Sse::new(events.take_until(closed)).keep_alive(KeepAlive::default())
}

fn now() -> String {
    humantime::format_rfc3339_millis(SystemTime::now()).to_string()
}

/// One event as JSON: `type` (the variant in snake case), `kind` and `name` of the policy (`null`
/// for an event about the configuration or health as a whole), `message` (its `Display`), `at`,
/// and for some types more: a transition's `from`, `to` and `cause`, a health change's `from`
/// and `to`, a retry's `attempt` and `delay_ms`.
pub(crate) fn event_json(event: &Event) -> Value {
    let mut value = json!({
        "type": "other",
        "kind": event.kind().map(|kind| kind.as_str()),
        "name": event.name(),
        "message": event.to_string(),
        "at": now(),
    });
    let more = match event {
        Event::CircuitTransition {
            from, to, cause, ..
        } => json!({
            "type": "circuit_transition",
            "from": from, "to": to, "cause": cause.as_str(),
        }),
        Event::CallRejected { error, key, .. } => {
            json!({ "type": "call_rejected", "code": error.code(), "key": key.as_deref() })
        }
        Event::RetryAttempt { attempt, delay, .. } => json!({
            "type": "retry_attempt", "attempt": attempt, "delay_ms": delay.as_millis() as u64,
        }),
        Event::RetriesExhausted { attempts, .. } => {
            json!({ "type": "retries_exhausted", "attempts": attempts })
        }
        Event::TimedOut { after, .. } => {
            json!({ "type": "timed_out", "after_ms": after.as_millis() as u64 })
        }
        Event::ConfigConflict { .. } => json!({ "type": "config_conflict" }),
        Event::PolicyMissing { .. } => json!({ "type": "policy_missing" }),
        Event::SettingsRejected { .. } => json!({ "type": "settings_rejected" }),
        Event::ConfigApplied { .. } => json!({ "type": "config_applied" }),
        Event::ConfigRejected { .. } => json!({ "type": "config_rejected" }),
        Event::HealthChanged { from, to, .. } => {
            json!({ "type": "health_changed", "from": from, "to": to })
        }
        Event::ChildRestarted { child, .. } => {
            json!({ "type": "child_restarted", "child": &**child })
        }
        Event::SupervisorGaveUp { child, .. } => {
            json!({ "type": "supervisor_gave_up", "child": &**child })
        }
        _ => json!({}),
    };
    if let (Value::Object(fields), Value::Object(more)) = (&mut value, more) {
        fields.extend(more);
    }
    value
}
