//! Bad input through a real TCP socket: never a panic, never a change of state.

mod common;

use std::time::{Duration, Instant};

use common::{code, Harness, TOKEN};
use resilience::{CircuitBreaker, CircuitState};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The state a test checks is untouched after each batch of bad requests.
async fn guarded() -> (Harness, std::sync::Arc<CircuitBreaker>) {
    let h = Harness::start().await;
    let breaker = h
        .registry
        .circuit_breaker_or_register(CircuitBreaker::builder("guarded").failure_threshold(3))
        .unwrap();
    breaker.record_failure();
    (h, breaker)
}

fn untouched(h: &Harness, breaker: &CircuitBreaker) {
    assert_eq!(h.registry.policy_names(), ["guarded"]);
    assert_eq!(breaker.state(), CircuitState::Closed);
    assert_eq!(breaker.stats().failures, 1);
}

#[tokio::test]
async fn unknown_paths_are_404_and_wrong_methods_405() {
    let (h, breaker) = guarded().await;
    for path in [
        "/nope",
        "/policies/",
        "/policies/circuit_breaker",
        "/health/deep/er",
        "/events/x",
    ] {
        let (status, body) = h.get(path).await;
        assert_eq!((status, code(&body)), (404, "NOT_FOUND"), "{path}");
    }
    let wrong = [
        h.client.delete(h.url("/policies")),
        h.client.post(h.url("/health")),
        h.client.put(h.url("/policies/circuit_breaker/guarded")),
        h.client
            .get(h.url("/policies/circuit_breaker/guarded/force_open")),
        h.client.get(h.url("/config/reload")),
        h.client
            .delete(h.url("/chaos/guarded/enable"))
            .bearer_auth(TOKEN),
    ];
    for request in wrong {
        let (status, body) = common::answer(request.send().await).await;
        assert_eq!((status, code(&body)), (405, "METHOD_NOT_ALLOWED"));
    }
    untouched(&h, &breaker);
}

#[tokio::test]
async fn an_oversized_body_is_413() {
    let (h, breaker) = guarded().await;
    let big = vec![b'x'; 1 << 20];
    for path in [
        "/policies/circuit_breaker/guarded/force_open",
        "/policies/circuit_breaker/guarded/reset",
        "/config/reload",
    ] {
        let (status, _) = common::answer(
            h.client
                .post(h.url(path))
                .bearer_auth(TOKEN)
                .body(big.clone())
                .send()
                .await,
        )
        .await;
        assert_eq!(status, 413, "{path}");
    }
    untouched(&h, &breaker);
    // A small body is fine (and ignored).
    let (status, _) = common::answer(
        h.client
            .post(h.url("/policies/circuit_breaker/guarded/force_open"))
            .bearer_auth(TOKEN)
            .body("{}")
            .send()
            .await,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(breaker.state(), CircuitState::Open);
}

#[tokio::test]
async fn malformed_names_are_400_and_garbage_names_404() {
    let (h, breaker) = guarded().await;
    let long = "n".repeat(resilience_http::MAX_NAME_BYTES + 1);
    let malformed = [
        "%FF%FE".to_owned(),
        "%C3%28".to_owned(),
        "gua%00rded".to_owned(),
        "gua%0Arded".to_owned(),
        "%1B%5B31m".to_owned(),
        long,
    ];
    for name in &malformed {
        for (read, path) in [
            (true, format!("/policies/circuit_breaker/{name}")),
            (
                false,
                format!("/policies/circuit_breaker/{name}/force_open"),
            ),
            (false, format!("/policies/circuit_breaker/{name}/reset")),
            (false, format!("/chaos/{name}/enable")),
        ] {
            let (status, body) = if read {
                h.get(&path).await
            } else {
                h.control(&path).await
            };
            assert_eq!((status, code(&body)), (400, "BAD_REQUEST"), "{path}");
        }
    }
    let garbage = [
        "%",
        "%zz",
        "%2e%2e%2fguarded",
        "guarded%20",
        "..%2F..%2Fetc%2Fpasswd",
        "%E2%80%AE",
    ];
    for name in garbage {
        let (status, body) = h.get(&format!("/policies/circuit_breaker/{name}")).await;
        assert_eq!((status, code(&body)), (404, "NOT_FOUND"), "{name}");
        let (status, _) = h
            .control(&format!("/policies/circuit_breaker/{name}/force_open"))
            .await;
        assert_eq!(status, 404, "{name}");
    }
    untouched(&h, &breaker);
}

/// Sends `request` raw and returns what the server answered before it closed or went quiet.
async fn raw(h: &Harness, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(h.server.local_addr()).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer)).await;
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn garbage_on_the_wire_is_refused() {
    let (h, breaker) = guarded().await;
    for request in [
        &b"GARBAGE\r\n\r\n"[..],
        b"POST /policies/circuit_breaker/guarded/force_open HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n",
        b"GET /policies/circuit_breaker/gu\xffarded HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        b"\x00\x01\x02\x03\r\n\r\n",
    ] {
        let answer = raw(&h, request).await;
        assert!(
            answer.is_empty() || answer.starts_with("HTTP/1.1 4"),
            "{request:?} -> {answer}"
        );
    }
    // Still serving.
    assert_eq!(h.get("/health/live").await.0, 200);
    untouched(&h, &breaker);
}

#[tokio::test]
async fn a_slow_client_holds_up_nobody() {
    let h = Harness::with(|server| {
        server
            .control_token(TOKEN)
            .header_read_timeout(Duration::from_millis(300))
    })
    .await;
    let breaker = h
        .registry
        .circuit_breaker_or_register(CircuitBreaker::builder("guarded").failure_threshold(3))
        .unwrap();
    breaker.record_failure();
    // Half a request, and then nothing.
    let mut slow = TcpStream::connect(h.server.local_addr()).await.unwrap();
    slow.write_all(b"POST /policies/circuit_breaker/guarded/force_open HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ")
        .await
        .unwrap();
    let mut trickle = TcpStream::connect(h.server.local_addr()).await.unwrap();
    trickle.write_all(b"GET /poli").await.unwrap();

    for _ in 0..20 {
        assert_eq!(h.get("/policies").await.0, 200);
    }
    untouched(&h, &breaker);

    // Past the header read timeout, the server hangs up on them (answering 408 at most).
    for mut stream in [slow, trickle] {
        let mut answer = Vec::new();
        let read =
            tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer)).await;
        assert!(read.is_ok(), "still connected after 5 s");
        let answer = String::from_utf8_lossy(&answer);
        assert!(
            answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
            "{answer}"
        );
    }
    // The half-sent request was never served.
    untouched(&h, &breaker);
    assert_eq!(h.get("/health/live").await.0, 200);
}

#[tokio::test]
async fn the_shutdown_waits_for_no_one_past_its_timeout() {
    let h = Harness::with(|server| {
        server
            .control_token(TOKEN)
            .shutdown_timeout(Duration::from_millis(300))
    })
    .await;
    // A request under way that never ends: its headers are in and authorized, the handler waits
    // for a body that does not come.
    let mut stuck = TcpStream::connect(h.server.local_addr()).await.unwrap();
    let request = format!(
        "POST /config/reload HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\nContent-Length: 100\r\n\r\n{{"
    );
    stuck.write_all(request.as_bytes()).await.unwrap();
    assert_eq!(h.get("/health/live").await.0, 200);
    let started = Instant::now();
    h.server.shutdown().await;
    // Graceful: it waited for the request under way, up to its timeout, and no longer.
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(250) && took < Duration::from_secs(3),
        "{took:?}"
    );
    // Its connection went with the server.
    let mut rest = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), stuck.read_to_end(&mut rest)).await;
    assert!(read.is_ok(), "still connected after the shutdown");
}
