//! `POST /config/reload` through a real TCP socket.

mod common;

use common::{code, Harness};
use resilience::CircuitBreaker;

#[tokio::test]
async fn reload_without_a_file_is_404() {
    let h = Harness::start().await;
    let (status, body) = h.control("/config/reload").await;
    assert_eq!((status, code(&body)), (404, "NOT_FOUND"));
}

#[tokio::test]
async fn reload_reapplies_the_file_all_or_nothing() {
    let h = Harness::start().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("resilience.toml");
    std::fs::write(
        &file,
        "[circuit_breaker.inventory]\nfailure_threshold = 3\n",
    )
    .unwrap();
    h.registry
        .circuit_breaker_or_register(CircuitBreaker::builder("inventory"))
        .unwrap();
    h.registry.apply_file(&file).unwrap();
    assert_eq!(threshold(&h), "3");

    // Edited: the reload puts it in force and says what changed.
    std::fs::write(
        &file,
        "[circuit_breaker.inventory]\nfailure_threshold = 2\n",
    )
    .unwrap();
    let (status, body) = h.control("/config/reload").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["file"], file.display().to_string());
    assert_eq!(
        body["changed"],
        serde_json::json!([{ "kind": "circuit_breaker", "name": "inventory", "keys": ["failure_threshold"] }])
    );
    assert_eq!(threshold(&h), "2");

    // Broken: 422 with every problem, and the configuration in force stays.
    std::fs::write(
        &file,
        "[circuit_breaker.inventory]\nfailure_treshold = 1\nreset_timeout = \"soon\"\n",
    )
    .unwrap();
    let (status, body) = h.control("/config/reload").await;
    assert_eq!((status, code(&body)), (422, "CONFIG_INVALID"), "{body}");
    let problems = body["error"]["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 2, "{body}");
    assert_eq!(problems[0]["line"], 2);
    assert_eq!(problems[0]["suggestion"], "failure_threshold");
    assert_eq!(threshold(&h), "2");

    // Gone: 422 too, nothing changes.
    std::fs::remove_file(&file).unwrap();
    let (status, body) = h.control("/config/reload").await;
    assert_eq!((status, code(&body)), (422, "CONFIG_UNREADABLE"), "{body}");
    assert_eq!(threshold(&h), "2");

    // Without the token, nothing is read.
    std::fs::write(
        &file,
        "[circuit_breaker.inventory]\nfailure_threshold = 7\n",
    )
    .unwrap();
    let (status, _) = common::answer(h.client.post(h.url("/config/reload")).send().await).await;
    assert_eq!(status, 401);
    assert_eq!(threshold(&h), "2");
}

/// The breaker's `failure_threshold` in force, from its snapshot row.
fn threshold(h: &Harness) -> String {
    let rows = h.registry.policies();
    let config = rows[0].config();
    let value = config
        .split(' ')
        .find_map(|pair| pair.strip_prefix("threshold="));
    value.unwrap_or("?").to_owned()
}
