//! The `serde` feature: the JSON of a registry snapshot has the shape its rustdoc documents.
//!
//! Run with `cargo test -p resilience --all-features`.

#![cfg(feature = "serde")]

use std::time::Duration;

use resilience::{registry, Bulkhead, CircuitBreaker, HealthMonitor, Pipeline, Retry, Timeout};
use serde_json::{json, Value};

/// The row of `name` and `kind` in the JSON of the whole registry.
fn row(snapshot: &Value, kind: &str, name: &str) -> Value {
    snapshot["policies"]
        .as_array()
        .expect("`policies` is an array")
        .iter()
        .find(|row| row["name"] == name && row["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} row named {name} in {snapshot}"))
        .clone()
}

fn keys(value: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = value
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    keys
}

/// Serde's representation of a `SystemTime`.
/// An RFC 3339 time in UTC with milliseconds: `2026-11-30T12:05:43.123Z`.
fn is_system_time(value: &Value) -> bool {
    value.as_str().is_some_and(|text| {
        let bytes = text.as_bytes();
        text.len() == 24
            && text.ends_with('Z')
            && bytes[4] == b'-'
            && bytes[10] == b'T'
            && bytes[19] == b'.'
            && humantime::parse_rfc3339(text).is_ok()
    })
}

#[test]
fn a_snapshot_serializes_to_the_documented_shape() {
    let breaker = registry()
        .circuit_breaker_or_register(
            CircuitBreaker::builder("json-breaker")
                .failure_threshold(2)
                .reset_timeout(Duration::from_secs(10)),
        )
        .unwrap();
    breaker.record_success();
    breaker.record_failure();
    breaker.record_failure();
    // A second site disagreeing on the threshold: the row shows the conflict.
    registry()
        .circuit_breaker_or_register(CircuitBreaker::builder("json-breaker").failure_threshold(9))
        .unwrap();
    registry()
        .retry_or_register(Retry::builder("json-retry").max_attempts(2))
        .unwrap();
    registry()
        .timeout_or_register(Timeout::builder("json-timeout").duration(Duration::from_millis(250)))
        .unwrap();
    registry()
        .bulkhead_or_register(Bulkhead::builder("json-bulkhead").max_concurrent(3))
        .unwrap();

    let snapshot = serde_json::to_value(registry().snapshot()).unwrap();
    assert_eq!(keys(&snapshot), ["health", "policies"]);
    // The policies' health: the open breaker degrades it.
    assert_eq!(keys(&snapshot["health"]), ["checks", "status"]);
    // (At least degraded: the other tests of this file share the registry.)
    assert_ne!(snapshot["health"]["status"], "healthy");
    let open = snapshot["health"]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "json-breaker")
        .unwrap();
    assert_eq!(
        open,
        &json!({ "contributor": "circuit_breaker", "name": "json-breaker", "status": "degraded", "detail": "open" })
    );

    let breaker = row(&snapshot, "circuit_breaker", "json-breaker");
    assert_eq!(
        keys(&breaker),
        [
            "config",
            "conflicts",
            "kind",
            "missing",
            "name",
            "sources",
            "stats"
        ]
    );
    assert_eq!(
        breaker["config"],
        "threshold=2 reset=10s half_open_timeout=10s"
    );
    assert_eq!(breaker["conflicts"], json!(["failure_threshold"]));
    // Where each setting that is not a default came from.
    assert_eq!(
        breaker["sources"],
        json!([
            { "setting": "failure_threshold", "value": "2", "source": "code" },
            { "setting": "reset_timeout", "value": "10s", "source": "code" },
        ])
    );
    let stats = &breaker["stats"];
    assert_eq!(
        keys(stats),
        [
            "calls",
            "consecutive_failures",
            "consecutive_successes",
            "failure_rate",
            "failures",
            "ignored",
            "kind",
            "last_failure",
            "last_success",
            "opened_at",
            "rejected",
            "state",
            "successes",
        ]
    );
    assert_eq!(stats["kind"], "circuit_breaker");
    assert_eq!(stats["state"], "open");
    assert_eq!(
        (&stats["calls"], &stats["successes"], &stats["failures"]),
        (&json!(3), &json!(1), &json!(2))
    );
    assert_eq!(stats["failure_rate"], Value::Null);
    assert!(is_system_time(&stats["opened_at"]), "{stats}");
    assert!(is_system_time(&stats["last_failure"]), "{stats}");

    let retry = row(&snapshot, "retry", "json-retry");
    assert_eq!(
        retry["stats"],
        json!({
            "kind": "retry", "calls": 0, "retries": 0, "successes_without_retry": 0,
            "successes_after_retry": 0, "exhausted": 0, "not_retryable": 0,
        })
    );
    assert_eq!(retry["conflicts"], json!([]));

    let timeout = row(&snapshot, "timeout", "json-timeout");
    assert_eq!(
        timeout["stats"],
        json!({ "kind": "timeout", "calls": 0, "in_time": 0, "timeouts": 0 })
    );

    let bulkhead = row(&snapshot, "bulkhead", "json-bulkhead");
    assert_eq!(
        bulkhead["stats"],
        json!({
            "kind": "bulkhead", "max_concurrent": 3, "in_flight": 0, "queued": 0,
            "available": 3, "rejected": 0,
        })
    );
}

#[test]
fn a_half_open_state_and_a_rate_serialize_in_snake_case_and_as_a_number() {
    let breaker = registry()
        .circuit_breaker_or_register(
            CircuitBreaker::builder("json-rate")
                .failure_rate(0.5)
                .window_calls(4)
                .min_calls(4),
        )
        .unwrap();
    breaker.record_success();
    breaker.record_failure();
    let snapshot = serde_json::to_value(registry().snapshot()).unwrap();
    let rate = row(&snapshot, "circuit_breaker", "json-rate");
    assert_eq!(
        rate["config"], "rate=0.5 window=4 min_calls=4 reset=30s half_open_timeout=30s",
        "the values in effect, defaults included"
    );
    let stats = &rate["stats"];
    assert_eq!(stats["failure_rate"], json!(0.5));
    assert!(is_system_time(&stats["last_success"]), "{stats}");
    assert_eq!(
        serde_json::to_value(resilience::CircuitState::HalfOpen).unwrap(),
        "half_open"
    );
}

#[tokio::test]
async fn a_composite_serializes_as_a_policy_row_beside_its_members() {
    registry()
        .register_pipeline(
            Pipeline::builder("json-composite")
                .retry(|retry| retry.max_attempts(2))
                .timeout(Duration::from_secs(1)),
        )
        .unwrap();
    // Called by name before anything defined it: a missing row.
    let ran = registry()
        .execute("json-undefined", || async { Ok::<_, std::io::Error>(()) })
        .await;
    assert!(ran.is_ok());

    let snapshot = serde_json::to_value(registry().snapshot()).unwrap();
    let composite = row(&snapshot, "policy", "json-composite");
    assert_eq!(composite["config"], "retry -> timeout");
    assert_eq!(
        composite["stats"],
        json!({ "kind": "policy", "members": ["retry", "timeout"], "unprotected_calls": 0 })
    );
    assert_eq!(composite["missing"], false);
    row(&snapshot, "retry", "json-composite");
    row(&snapshot, "timeout", "json-composite");

    let undefined = row(&snapshot, "policy", "json-undefined");
    assert_eq!(undefined["missing"], true);
    assert_eq!(
        undefined["stats"],
        json!({ "kind": "policy", "members": [], "unprotected_calls": 1 })
    );
}

#[test]
fn a_health_monitor_serializes_as_a_health_monitor_row() {
    let monitor = registry()
        .health_monitor_or_register(HealthMonitor::builder("json-monitor").max_crashes(1))
        .unwrap();
    monitor.record_crash("worker-1", "exit code 1");
    monitor.record_crash("worker-2", "exit code 2");

    let snapshot = serde_json::to_value(registry().snapshot()).unwrap();
    let row = row(&snapshot, "health_monitor", "json-monitor");
    assert_eq!(
        row["config"],
        "max_crashes=1 window=60s max_worker_crashes=3"
    );
    assert_eq!(
        row["sources"],
        json!([{ "setting": "max_crashes", "value": "1", "source": "code" }])
    );
    let stats = &row["stats"];
    assert!(is_system_time(&stats["last_crash"]), "{stats}");
    let mut stats = stats.clone();
    stats["last_crash"] = Value::Null;
    assert_eq!(
        stats,
        json!({
            "kind": "health_monitor", "total_crashes": 2, "crashes_in_window": 2,
            "healthy": false, "tracked_workers": 2, "last_crash": null,
            "last_reason": "exit code 2",
        })
    );

    let worker = serde_json::to_value(monitor.worker_health("worker-1").unwrap()).unwrap();
    assert_eq!(
        keys(&worker),
        ["crash_count", "healthy", "last_crash", "last_reason"]
    );
    assert!(is_system_time(&worker["last_crash"]), "{worker}");
}

#[tokio::test(start_paused = true)]
async fn budgets_hedges_and_chaos_serialize_as_rows_of_their_kinds() {
    let budget = registry()
        .retry_budget_or_register(resilience::RetryBudget::builder("json-budget").ratio(0.5))
        .unwrap();
    budget.deposit();
    budget.deposit();
    assert!(budget.try_withdraw());
    let chaos = registry()
        .chaos_or_register(resilience::Chaos::builder("json-chaos").fault_rate(1.0))
        .unwrap();
    chaos.enable();
    let _ = chaos.call(async { Ok::<_, resilience::Error>(()) }).await;
    registry()
        .hedge_or_register(resilience::Hedge::builder("json-hedge").budget("json-budget"))
        .unwrap();

    let snapshot = serde_json::to_value(registry().snapshot()).unwrap();
    let budget_row = row(&snapshot, "retry_budget", "json-budget");
    assert_eq!(budget_row["config"], "ratio=0.5 min_per_sec=10 window=10s");
    assert_eq!(
        budget_row["sources"],
        json!([{ "setting": "ratio", "value": "0.5", "source": "code" }])
    );
    assert_eq!(
        budget_row["stats"],
        json!({
            "kind": "retry_budget", "deposits": 2, "withdrawals": 1, "refusals": 0,
            "available": 100,
        })
    );
    assert_eq!(
        row(&snapshot, "chaos", "json-chaos")["stats"],
        json!({
            "kind": "chaos", "enabled": true, "calls": 1, "injected_faults": 1,
            "injected_delays": 0,
        })
    );
    let hedge_row = row(&snapshot, "hedge", "json-hedge");
    assert_eq!(
        hedge_row["config"],
        "delay=50ms max_hedged=1 budget=json-budget"
    );
    assert_eq!(
        hedge_row["stats"],
        json!({ "kind": "hedge", "calls": 0, "hedged": 0, "hedge_wins": 0, "refused": 0 })
    );
}
