//! The HTTP surface of the [`resilience`] registry, on axum: a JSON API, Server-Sent Events,
//! Prometheus metrics and a live dashboard.
//!
//! Mount [`router()`] in an existing axum app, or run a [`Server`] of its own:
//!
//! ```no_run
//! # #[tokio::main]
//! # async fn main() -> Result<(), resilience_http::ServerError> {
//! // 127.0.0.1:9464 (DEFAULT_ADDR), control endpoints enabled with a token.
//! let server = resilience_http::Server::default().control_token("s3cret").start().await?;
//! println!("dashboard: {}", server.url());
//! # server.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! ```
//! let app: axum::Router = axum::Router::new()
//!     .route("/", axum::routing::get(|| async { "my service" }))
//!     .nest("/resilience", resilience_http::router());
//! # drop(app);
//! ```
//!
//! [`router()`] serves the global [`resilience::registry()`] with control disabled; [`Api`]
//! builds one with a control token, over another registry (a test's own), or with a Prometheus
//! handle of your own.
//!
//! # Endpoints
//!
//! | method, path | answer |
//! |---|---|
//! | `GET /` | the dashboard: one HTML page, no CDN, live from `/events` and `/policies` |
//! | `GET /health` | [`HealthReport`](resilience::HealthReport) JSON (the user's checks run); 200 healthy or degraded, 503 unhealthy |
//! | `GET /health/live` | `{"live": true}` 200, `{"live": false}` 503 |
//! | `GET /health/ready` | `{"ready": true}` 200, `{"ready": false}` 503 |
//! | `GET /policies` | the registry snapshot ([`RegistrySnapshot`](resilience::RegistrySnapshot)'s JSON) |
//! | `GET /policies/{kind}/{name}` | one row of it; 404 `NOT_FOUND` for an unknown kind or name |
//! | `GET /events` | `text/event-stream`: each event as it happens, one JSON object per `data:` line |
//! | `GET /metrics` | Prometheus text exposition (`text/plain; version=0.0.4`) |
//! | `POST /policies/circuit_breaker/{name}/force_open` | control: holds the breaker open; 200 with its row |
//! | `POST /policies/{kind}/{name}/reset` | control: resets that one policy; 200 with its row |
//! | `POST /config/reload` | control: re-applies the configuration file in force; 200, 404, 422 |
//! | `POST /chaos/{name}/enable`, `/disable` | control: turns a `#[chaos]` policy's injections on or off; 200 with its row |
//!
//! `{kind}` is a [`PolicyKind`](resilience::PolicyKind) as `as_str` spells it
//! (`circuit_breaker`, `retry`, `timeout`, `bulkhead`, `rate_limiter`, `fallback`, `policy`,
//! `health_monitor`, `supervisor`, `retry_budget`, `hedge`, `chaos`); `{name}` is the registry name, percent-encoded
//! (`billing%3A%3Acharge` for `billing::charge`).
//!
//! **Policy rows.** `/policies` answers `{"policies": [row, ...], "health": {...}}` and
//! `/policies/{kind}/{name}` one `row`, in the snapshot's documented shape (`kind`, `name`,
//! `config`, `stats`, `conflicts`, `missing`, `sources`), plus, on circuit breaker rows,
//! `half_open_in_ms`: for an open breaker, the milliseconds until its reset timeout has passed
//! (0 once due: the next call probes), else `null`.
//!
//! **Events.** Each `data:` line is `{"type", "kind", "name", "message", "at", ...}`: `type` the
//! [`Event`](resilience::Event) variant in snake case (`circuit_transition`, `call_rejected`,
//! `retry_attempt`, `retries_exhausted`, `timed_out`, `health_changed`, `config_applied`, ...),
//! `kind` and `name` the policy's (`null` for the configuration or health as a whole),
//! `message` its `Display`, `at` an RFC 3339 time; a transition adds `from`, `to`, `cause`, a
//! rejection `code`. A reader that falls more than 1024 events behind loses the oldest and gets
//! `{"type": "lagged", "missed": n}`: the policies never wait for a reader. A stream's resources
//! go with its connection.
//!
//! **Control.** The control endpoints need `Authorization: Bearer <token>`: with no token
//! configured they answer 403 `CONTROL_DISABLED`, with a missing or wrong token 401
//! `UNAUTHORIZED` (the token compared in constant time). An unknown name is 404 `NOT_FOUND`, and
//! nothing is created. `force_open` is for circuit breakers only; `reset` works on every kind but
//! `supervisor` (400). A reset closes a breaker and refills a limiter as
//! [`Registry::reset`](resilience::Registry::reset) does, for that kind only, and the exported
//! metrics keep what the policy counted before it.
//!
//! **Reload.** `POST /config/reload` reads the file the configuration in force came from
//! ([`Config::file`](resilience::Config::file)) and applies it whole or not at all: 200
//! `{"file": "...", "changed": [{"kind", "name", "keys"}]}`; 404 `NOT_FOUND` when no file was
//! ever applied; 422 `CONFIG_INVALID` with `problems` (each `file`, `line`, `column`, `section`,
//! `key`, `kind`, `message`, `suggestion`) or 422 `CONFIG_UNREADABLE`; the configuration in
//! force stays on any error.
//!
//! **Errors** are `{"error": {"code": "...", "message": "..."}}`. Bad input never panics and
//! never changes state: an unknown path is 404 `NOT_FOUND`, a wrong method 405
//! `METHOD_NOT_ALLOWED`, a body over [`MAX_BODY_BYTES`] 413, a name that is empty, longer than
//! [`MAX_NAME_BYTES`], not UTF-8 once percent-decoded or holding a control character 400
//! `BAD_REQUEST`. The read endpoints show the policies' settings and counters, never the token.
//!
//! # Metrics (feature `metrics`, on by default)
//!
//! `/metrics` renders the core's `metrics` feature (the names in the `resilience` README) with
//! `metrics-exporter-prometheus`. [`Api::router`] installs that exporter's recorder as the
//! `metrics` facade's global recorder, once per process, unless given a handle with
//! `Api::prometheus`; if another recorder was installed first, `/metrics` answers 503
//! `METRICS_UNAVAILABLE`. Each scrape first runs
//! `Registry::record_metrics`.
//!
//! The feature turns on the core's own `metrics` feature: every event then also feeds the
//! facade (a success still touches nothing). With `default-features = false`, `/metrics` is 404
//! and the core is built exactly as without this crate.
//!
//! # Dashboard
//!
//! `GET /` is one page: a card per policy, kept live from `/events` and a refresh of
//! `/policies` every second, which also feeds each card's 60-second sparkline of calls and
//! failures. Each card carries `data-kind`, `data-name` and `data-state` (`closed`, `open`,
//! `half_open`, or `-` for kinds without a state); `<body>` carries `data-health` (`healthy`,
//! `degraded`, `unhealthy`). The page asks for `policies` and `events` relative to its own path,
//! so it works wherever the router is nested (open it with a trailing slash, `/resilience/`).
//! Everything it shows is set as text, never as HTML: a policy name cannot inject markup.
//!
//! # Server
//!
//! A [`Server`] listens on [`DEFAULT_ADDR`] (`127.0.0.1:9464`) unless told otherwise. A client
//! gets [`Server::header_read_timeout`] (10 s) to send a request's headers, then is hung up on;
//! [`RunningServer::shutdown`] stops accepting, ends the event streams, lets the requests under
//! way finish for up to [`Server::shutdown_timeout`] (5 s), then drops them.

mod api;
mod auth;
mod control;
mod dashboard;
mod error;
mod events;
#[cfg(feature = "metrics")]
mod metrics;
mod names;
mod read;
mod serve;
mod server;

pub use api::{Api, MAX_BODY_BYTES};
pub use error::ServerError;
pub use names::MAX_NAME_BYTES;
pub use server::{RunningServer, Server, DEFAULT_ADDR};

/// The API over the global registry, control disabled: `Api::new().router()`.
///
/// ```
/// let app: axum::Router = axum::Router::new().nest("/resilience", resilience_http::router());
/// # drop(app);
/// ```
pub fn router() -> axum::Router {
    Api::new().router()
}
