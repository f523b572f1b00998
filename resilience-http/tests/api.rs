//! The JSON endpoints through a real TCP socket: shapes, status codes, control.

mod common;

use common::{code, Harness, TOKEN};
use resilience::{Bulkhead, Chaos, CircuitBreaker, CircuitState, Retry};
use serde_json::json;

#[tokio::test]
async fn health_answers_with_the_report_and_its_status() {
    let h = Harness::start().await;
    let (status, body) = h.get("/health").await;
    assert_eq!(status, 200);
    assert_eq!(body["status"], "healthy");
    assert!(body["checks"].is_array());
    assert_eq!(h.get("/health/live").await, (200, json!({ "live": true })));
    assert_eq!(
        h.get("/health/ready").await,
        (200, json!({ "ready": true }))
    );

    // An open breaker: degraded, still 200 and ready.
    let plain = h
        .registry
        .circuit_breaker_or_register(CircuitBreaker::builder("health-plain"))
        .unwrap();
    plain.force_open();
    let (status, body) = h.get("/health").await;
    assert_eq!((status, body["status"].as_str()), (200, Some("degraded")));
    assert_eq!(h.get("/health/ready").await.0, 200);

    // A critical one: unhealthy, 503 and not ready, still live.
    let critical = h
        .registry
        .circuit_breaker_or_register(CircuitBreaker::builder("health-critical").critical(true))
        .unwrap();
    critical.force_open();
    let (status, body) = h.get("/health").await;
    assert_eq!((status, body["status"].as_str()), (503, Some("unhealthy")));
    assert!(body["checks"]
        .as_array()
        .unwrap()
        .iter()
        .any(|check| check["name"] == "health-critical"));
    assert_eq!(
        h.get("/health/ready").await,
        (503, json!({ "ready": false }))
    );
    assert_eq!(h.get("/health/live").await, (200, json!({ "live": true })));
}

#[tokio::test]
async fn policies_list_every_policy_in_the_snapshot_shape() {
    let h = Harness::start().await;
    let breaker = h
        .registry
        .circuit_breaker_or_register(CircuitBreaker::builder("inventory").failure_threshold(2))
        .unwrap();
    h.registry
        .bulkhead_or_register(Bulkhead::builder("render").max_concurrent(4))
        .unwrap();
    breaker.record_failure();

    let (status, body) = h.get("/policies").await;
    assert_eq!(status, 200);
    let rows = body["policies"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    let row = rows.iter().find(|row| row["name"] == "inventory").unwrap();
    assert_eq!(row["kind"], "circuit_breaker");
    assert_eq!(row["stats"]["state"], "closed");
    assert_eq!(row["stats"]["failures"], 1);
    assert_eq!(row["half_open_in_ms"], serde_json::Value::Null);
    assert!(row["config"].as_str().unwrap().contains("threshold=2"));
    assert_eq!(body["health"]["status"], "healthy");

    let (status, one) = h.get("/policies/bulkhead/render").await;
    assert_eq!(status, 200);
    assert_eq!(one["stats"]["max_concurrent"], 4);

    // Open: the time until a probe.
    breaker.record_failure();
    let (_, one) = h.get("/policies/circuit_breaker/inventory").await;
    assert_eq!(one["stats"]["state"], "open");
    let due = one["half_open_in_ms"].as_u64().unwrap();
    assert!(due > 25_000 && due <= 30_000, "{due}");
}

#[tokio::test]
async fn an_unknown_policy_is_404_and_is_not_created() {
    let h = Harness::start().await;
    h.registry
        .circuit_breaker_or_register(CircuitBreaker::builder("known"))
        .unwrap();
    for path in [
        "/policies/circuit_breaker/unknown",
        "/policies/bulkhead/known",
        "/policies/no_such_kind/known",
    ] {
        let (status, body) = h.get(path).await;
        assert_eq!((status, code(&body)), (404, "NOT_FOUND"), "{path}");
        assert!(body["error"]["message"].is_string());
    }
    for path in [
        "/policies/circuit_breaker/unknown/force_open",
        "/policies/circuit_breaker/unknown/reset",
        "/policies/retry/known/reset",
    ] {
        let (status, body) = h.control(path).await;
        assert_eq!((status, code(&body)), (404, "NOT_FOUND"), "{path}");
    }
    assert_eq!(h.registry.policy_names(), ["known"]);
    assert_eq!(h.registry.policies().len(), 1);
}

#[tokio::test]
async fn names_are_percent_decoded() {
    let h = Harness::start().await;
    h.registry
        .retry_or_register(Retry::builder("billing::charge").max_attempts(2))
        .unwrap();
    let (status, body) = h.get("/policies/retry/billing%3A%3Acharge").await;
    assert_eq!(status, 200);
    assert_eq!(body["name"], "billing::charge");
}

#[tokio::test]
async fn control_needs_the_token() {
    // No token configured: control is disabled, whatever the request says.
    let h = Harness::with(|server| server).await;
    let breaker = h
        .registry
        .circuit_breaker_or_register(CircuitBreaker::builder("guarded"))
        .unwrap();
    let url = h.url("/policies/circuit_breaker/guarded/force_open");
    for request in [
        h.client.post(&url),
        h.client.post(&url).bearer_auth(TOKEN),
        h.client.post(&url).bearer_auth(""),
    ] {
        let (status, body) = common::answer(request.send().await).await;
        assert_eq!((status, code(&body)), (403, "CONTROL_DISABLED"));
    }
    assert_eq!(breaker.state(), CircuitState::Closed);

    // A token configured: a missing or wrong one is 401.
    let h = Harness::start().await;
    let breaker = h
        .registry
        .circuit_breaker_or_register(CircuitBreaker::builder("guarded"))
        .unwrap();
    let url = h.url("/policies/circuit_breaker/guarded/force_open");
    let wrong_length = "x".repeat(5000);
    for request in [
        h.client.post(&url),
        h.client.post(&url).bearer_auth("test-token-012345678"),
        h.client.post(&url).bearer_auth(format!("{TOKEN}0")),
        h.client.post(&url).bearer_auth(&wrong_length),
        h.client.post(&url).header("Authorization", TOKEN),
        h.client.post(&url).basic_auth("admin", Some(TOKEN)),
    ] {
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 401);
        assert!(response.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer"));
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(code(&body), "UNAUTHORIZED");
    }
    assert_eq!(breaker.state(), CircuitState::Closed);

    // The right one.
    let (status, body) = h
        .control("/policies/circuit_breaker/guarded/force_open")
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["stats"]["state"], "open");
    assert_eq!(breaker.state(), CircuitState::Open);
    let (status, body) = h.control("/policies/circuit_breaker/guarded/reset").await;
    assert_eq!(status, 200);
    assert_eq!(body["stats"]["state"], "closed");
    assert_eq!(breaker.state(), CircuitState::Closed);
}

#[tokio::test]
async fn read_endpoints_never_show_the_token() {
    let h = Harness::start().await;
    h.registry
        .circuit_breaker_or_register(CircuitBreaker::builder("visible"))
        .unwrap();
    for path in [
        "/",
        "/health",
        "/policies",
        "/policies/circuit_breaker/visible",
        "/metrics",
    ] {
        let text = h
            .client
            .get(h.url(path))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(!text.contains(TOKEN), "{path} shows the token");
    }
}

#[tokio::test]
async fn reset_resets_one_kind_of_policy() {
    let h = Harness::start().await;
    let breaker = h
        .registry
        .circuit_breaker_or_register(CircuitBreaker::builder("shared").failure_threshold(1))
        .unwrap();
    let bulkhead = h
        .registry
        .bulkhead_or_register(Bulkhead::builder("shared").max_concurrent(1))
        .unwrap();
    breaker.record_failure();
    let held = bulkhead.try_acquire().unwrap();
    assert!(bulkhead.try_acquire().is_err());
    assert_eq!(bulkhead.stats().rejected, 1);

    let (status, body) = h.control("/policies/bulkhead/shared/reset").await;
    assert_eq!(status, 200);
    assert_eq!(body["stats"]["rejected"], 0);
    assert_eq!(bulkhead.stats().rejected, 0);
    // The breaker of the same name is left alone.
    assert_eq!(breaker.state(), CircuitState::Open);
    drop(held);

    // `force_open` is a breaker's action only; a supervisor has no reset; unknown actions 404.
    let (status, body) = h.control("/policies/bulkhead/shared/force_open").await;
    assert_eq!((status, code(&body)), (404, "NOT_FOUND"));
    let (status, body) = h.control("/policies/circuit_breaker/shared/explode").await;
    assert_eq!((status, code(&body)), (404, "NOT_FOUND"));
    let (status, body) = h.control("/policies/supervisor/shared/reset").await;
    assert_eq!((status, code(&body)), (400, "BAD_REQUEST"));
    assert_eq!(breaker.state(), CircuitState::Open);
}

#[tokio::test]
async fn chaos_is_turned_on_and_off_with_the_token() {
    let h = Harness::start().await;
    let chaos = h
        .registry
        .chaos_or_register(Chaos::builder("payments").fault_rate(1.0))
        .unwrap();
    assert!(!chaos.is_enabled(), "off until enabled");

    // Without the token nothing changes.
    for path in ["/chaos/payments/enable", "/chaos/payments/disable"] {
        let (status, _) = common::answer(h.client.post(h.url(path)).send().await).await;
        assert_eq!(status, 401, "{path} without the token");
    }
    assert!(!chaos.is_enabled());

    let (status, body) = h.control("/chaos/payments/enable").await;
    assert_eq!(status, 200, "{body}");
    assert!(chaos.is_enabled());
    assert_eq!(body["kind"], "chaos");
    assert_eq!(body["stats"]["enabled"], true, "{body}");
    let (status, body) = h.control("/chaos/payments/disable").await;
    assert_eq!(status, 200, "{body}");
    assert!(!chaos.is_enabled());
    assert_eq!(body["stats"]["enabled"], false, "{body}");

    // Unknown names and actions are 404 and create nothing.
    let names_before = h.registry.policy_names();
    let (status, body) = h.control("/chaos/billing/enable").await;
    assert_eq!((status, code(&body)), (404, "NOT_FOUND"));
    assert!(h.registry.chaos("billing").is_none());
    let (status, _) = h.control("/chaos/payments/explode").await;
    assert_eq!(status, 404);
    assert!(!chaos.is_enabled());
    assert_eq!(h.registry.policy_names(), names_before);

    // A reset sets its counters back to zero and leaves it enabled or not.
    chaos.enable();
    let _ = chaos.draw();
    assert_eq!(chaos.stats().calls, 1);
    let (status, _) = h.control("/policies/chaos/payments/reset").await;
    assert_eq!(status, 200);
    assert_eq!(chaos.stats().calls, 0);
    assert!(chaos.is_enabled());
}

#[cfg(not(feature = "metrics"))]
#[tokio::test]
async fn without_the_metrics_feature_there_is_no_metrics_endpoint() {
    let h = Harness::start().await;
    let (status, body) = h.get("/metrics").await;
    assert_eq!((status, code(&body)), (404, "NOT_FOUND"));
}

#[cfg(feature = "metrics")]
#[tokio::test]
async fn metrics_are_prometheus_text_with_the_readme_names() {
    let h = Harness::start().await;
    let breaker = h
        .registry
        .circuit_breaker_or_register(CircuitBreaker::builder("metrics-breaker"))
        .unwrap();
    breaker.record_success();
    breaker.record_failure();
    h.registry
        .bulkhead_or_register(Bulkhead::builder("metrics-bulkhead").max_concurrent(3))
        .unwrap();

    let response = h.client.get(h.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let text = response.text().await.unwrap();
    let sample = |prefix: &str| {
        text.lines()
            .find(|line| line.starts_with(prefix))
            .unwrap_or_else(|| panic!("no `{prefix}` in\n{text}"))
            .rsplit(' ')
            .next()
            .unwrap()
            .parse::<f64>()
            .unwrap()
    };
    assert!(text.contains("# TYPE resilience_calls_total counter"));
    assert_eq!(
        sample(
            r#"resilience_calls_total{kind="circuit_breaker",name="metrics-breaker",outcome="failure"}"#
        ),
        1.0
    );
    assert_eq!(
        sample(
            r#"resilience_calls_total{kind="circuit_breaker",name="metrics-breaker",outcome="success"}"#
        ),
        1.0
    );
    assert_eq!(
        sample(r#"resilience_circuit_state{name="metrics-breaker"}"#),
        0.0
    );
    assert_eq!(
        sample(r#"resilience_bulkhead_available{name="metrics-bulkhead"}"#),
        3.0
    );
}

#[tokio::test]
async fn the_dashboard_is_one_self_contained_page() {
    let h = Harness::start().await;
    let response = h.client.get(h.url("/")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let page = response.text().await.unwrap();
    assert!(page.contains("<body data-health="));
    assert!(page.contains("new EventSource("));
    // No CDN, no other file: the only URL in it is the SVG namespace.
    let urls: Vec<&str> = page
        .match_indices("http")
        .map(|(at, _)| &page[at..(at + 30).min(page.len())])
        .collect();
    assert!(
        urls.iter()
            .all(|url| url.starts_with("http://www.w3.org/2000/svg")),
        "{urls:?}"
    );
    for outside in ["<script src", "<link ", "@import", "url("] {
        assert!(!page.contains(outside), "{outside}");
    }
    // Mounted under a prefix, the page and its API are there too.
    let app = axum::Router::new().nest(
        "/resilience",
        resilience_http::Api::for_registry(h.registry).router(),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let served = tokio::spawn(async move { axum::serve(listener, app).await });
    let nested = h
        .client
        .get(format!("http://{addr}/resilience/policies"))
        .send()
        .await
        .unwrap();
    assert_eq!(nested.status(), 200);
    served.abort();
}
