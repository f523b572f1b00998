//! A server over a registry of the test's own, on a free port of 127.0.0.1, and a client.

#![allow(dead_code)]

use std::future::Future;
use std::time::Duration;

use resilience::testing::Isolation;
use resilience::Registry;
use resilience_http::{RunningServer, Server};
use serde_json::Value;

pub const TOKEN: &str = "test-token-0123456789";

/// A started server and what a test needs around it.
pub struct Harness {
    pub server: RunningServer,
    pub registry: &'static Registry,
    pub client: reqwest::Client,
    pub base: String,
}

impl Harness {
    /// A server with the control token [`TOKEN`].
    pub async fn start() -> Harness {
        Harness::with(|server| server.control_token(TOKEN)).await
    }

    /// A server as `configure` makes it, over a fresh registry.
    pub async fn with(configure: impl FnOnce(Server) -> Server) -> Harness {
        let registry = Isolation::new().registry();
        let server = configure(Server::bind(([127, 0, 0, 1], 0)).registry(registry))
            .start()
            .await
            .expect("the server starts on a free port");
        let base = format!("http://{}", server.local_addr());
        Harness {
            server,
            registry,
            client: client(),
            base,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        answer(self.client.get(self.url(path)).send().await).await
    }

    /// A POST with the right token.
    pub async fn control(&self, path: &str) -> (u16, Value) {
        answer(
            self.client
                .post(self.url(path))
                .bearer_auth(TOKEN)
                .send()
                .await,
        )
        .await
    }
}

/// A client that never goes through a proxy (the tests talk to 127.0.0.1 only).
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("a client")
}

/// The status and the JSON body (`Value::Null` when the body is not JSON).
pub async fn answer(response: reqwest::Result<reqwest::Response>) -> (u16, Value) {
    let response = response.expect("the server answers");
    let status = response.status().as_u16();
    let text = response.text().await.expect("a body");
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// The `error.code` of an error answer.
pub fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("<no error code>")
}

/// Polls `condition` every 10 ms until it holds, for at most `within`.
pub async fn eventually<F, Fut>(within: Duration, mut condition: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if condition().await {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
