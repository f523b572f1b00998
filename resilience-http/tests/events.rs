//! `GET /events`: Server-Sent Events, through a real TCP socket and in process.

mod common;

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::Request;
use common::{eventually, Harness};
use futures::StreamExt;
use resilience::testing::Isolation;
use resilience::CircuitBreaker;
use serde_json::Value;
use tower::ServiceExt;

/// The `data:` lines of an event stream, parsed, as they arrive.
struct Events {
    response: reqwest::Response,
    buffer: String,
}

impl Events {
    async fn open(h: &Harness) -> Events {
        let response = h.client.get(h.url("/events")).send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "text/event-stream");
        Events {
            response,
            buffer: String::new(),
        }
    }

    /// The next event about `name`, waiting at most 5 s.
    async fn next_about(&mut self, name: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            while let Some(end) = self.buffer.find('\n') {
                let line: String = self.buffer.drain(..=end).collect();
                if let Some(data) = line.trim_end().strip_prefix("data:") {
                    let event: Value = serde_json::from_str(data.trim())
                        .unwrap_or_else(|e| panic!("not JSON ({e}): {data}"));
                    if event["name"] == name {
                        return event;
                    }
                }
            }
            let left = deadline.saturating_duration_since(Instant::now());
            let chunk = tokio::time::timeout(left, self.response.chunk())
                .await
                .unwrap_or_else(|_| panic!("no event about {name} within 5 s"))
                .unwrap()
                .expect("the stream is open");
            self.buffer.push_str(&String::from_utf8_lossy(&chunk));
        }
    }
}

#[tokio::test]
async fn each_event_is_one_json_data_line_as_it_happens() {
    let h = Harness::start().await;
    let breaker = h
        .registry
        .circuit_breaker_or_register(CircuitBreaker::builder("sse-breaker").failure_threshold(1))
        .unwrap();
    let mut events = Events::open(&h).await;
    assert!(
        eventually(Duration::from_secs(5), || async {
            h.server.event_streams() == 1
        })
        .await
    );

    breaker.record_failure();
    let event = events.next_about("sse-breaker").await;
    assert_eq!(event["type"], "circuit_transition");
    assert_eq!(event["kind"], "circuit_breaker");
    assert_eq!(event["from"], "closed");
    assert_eq!(event["to"], "open");
    assert_eq!(event["cause"], "failure threshold reached");
    assert!(event["message"].as_str().unwrap().contains("sse-breaker"));
    assert!(event["at"].as_str().unwrap().ends_with('Z'));

    // Through the API too.
    h.control("/policies/circuit_breaker/sse-breaker/reset")
        .await;
    let event = events.next_about("sse-breaker").await;
    assert_eq!(
        (event["from"].as_str(), event["to"].as_str()),
        (Some("open"), Some("closed"))
    );
}

#[tokio::test]
async fn a_client_that_leaves_frees_its_stream() {
    let h = Harness::start().await;
    let breaker = h
        .registry
        .circuit_breaker_or_register(CircuitBreaker::builder("sse-leaving"))
        .unwrap();
    let before = h.server.event_streams();
    let first = Events::open(&h).await;
    let second = Events::open(&h).await;
    assert!(
        eventually(Duration::from_secs(5), || async {
            h.server.event_streams() == before + 2
        })
        .await
    );
    drop(first);
    drop(second);
    // The server learns of it on its next write: give it events to write.
    let freed = eventually(Duration::from_secs(5), || async {
        breaker.force_open();
        breaker.reset();
        h.server.event_streams() == before
    })
    .await;
    assert!(freed, "{} streams still open", h.server.event_streams());
}

#[tokio::test]
async fn shutdown_ends_the_streams_at_once() {
    let h = Harness::with(|server| server.shutdown_timeout(Duration::from_secs(30))).await;
    let mut events = Events::open(&h).await;
    assert!(
        eventually(Duration::from_secs(5), || async {
            h.server.event_streams() == 1
        })
        .await
    );
    let started = Instant::now();
    h.server.shutdown().await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    // The client sees the end of the stream.
    let end = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match events.response.chunk().await {
                Ok(Some(_)) => continue,
                other => break other.map(|_| ()),
            }
        }
    })
    .await;
    assert!(end.is_ok(), "the stream did not end");
}

#[tokio::test]
async fn a_slow_reader_loses_the_oldest_events_and_never_blocks_the_policies() {
    let registry = Isolation::new().registry();
    let breaker = registry
        .circuit_breaker_or_register(CircuitBreaker::builder("sse-flood"))
        .unwrap();
    let api = resilience_http::Api::for_registry(registry);
    let response = api
        .router()
        .oneshot(Request::get("/events").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(api.event_streams(), 1);

    // Nobody reads: 3000 transitions all the same, each one at once.
    let started = Instant::now();
    for _ in 0..1500 {
        breaker.force_open();
        breaker.reset();
    }
    assert!(started.elapsed() < Duration::from_secs(2));

    // The reader comes back: first told what it missed, then the newest events.
    let mut body = response.into_body().into_data_stream();
    let mut text = String::new();
    while !text.contains("\"sse-flood\"") {
        let chunk = body.next().await.unwrap().unwrap();
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    let first: Value = text
        .lines()
        .find_map(|line| line.strip_prefix("data:"))
        .map(|data| serde_json::from_str(data.trim()).unwrap())
        .unwrap();
    assert_eq!(first["type"], "lagged", "{text}");
    assert!(first["missed"].as_u64().unwrap() >= 3000 - 1024, "{first}");
    drop(body);
    assert_eq!(api.event_streams(), 0);
}
