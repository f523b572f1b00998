//! Resilience policies for async Rust, by annotation.
//!
//! ```
//! use resilience::{bulkhead, circuit_breaker, retry, timeout};
//!
//! #[derive(Debug)]
//! enum ApiError {
//!     Upstream(String),
//!     Policy(resilience::Error),
//! }
//!
//! impl From<resilience::Error> for ApiError {
//!     fn from(err: resilience::Error) -> Self {
//!         ApiError::Policy(err)
//!     }
//! }
//!
//! #[retry(max_attempts = 3, jitter)]
//! #[circuit_breaker(name = "users-api")]
//! #[timeout(ms = 5000)]
//! #[bulkhead(max = 10)]
//! async fn fetch_user(id: u64) -> Result<String, ApiError> {
//!     Ok(format!("user {id}"))
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! assert_eq!(fetch_user(7).await.unwrap(), "user 7");
//! let breaker = resilience::registry().circuit_breaker("users-api").unwrap();
//! assert_eq!(breaker.state(), resilience::CircuitState::Closed);
//! # }
//! ```
//!
//! Each attribute rewrites an `async fn` returning `Result<T, E>` so that every call runs through
//! a policy: [`retry`](macro@retry), [`circuit_breaker`](macro@circuit_breaker),
//! [`timeout`](macro@timeout), [`bulkhead`](macro@bulkhead), [`rate_limit`](macro@rate_limit),
//! [`fallback`](macro@fallback); or through a named composite of several,
//! [`resilient`](macro@resilient). The function keeps its signature.
//!
//! # Stacking order
//!
//! Attributes nest in the order they are written, the top one outermost: above,
//! `retry(circuit_breaker(timeout(bulkhead(body))))`. Each attempt of the retry gets its own
//! timeout and counts against the breaker. Inside the stack a rejection stays typed
//! ([`Failure::Policy`]), so the retry retries a timeout or a full bulkhead but not an open circuit.
//!
//! # Errors
//!
//! A rejected call returns the function's own error, converted with `From<`[`Error`]`>`.
//! `anyhow::Error`, `Box<dyn std::error::Error + Send + Sync>` and `std::io::Error` convert with
//! no code; any other `E` needs the `From` impl, and a compile error on the return type says so.
//!
//! # The registry
//!
//! Every policy is registered by kind and name in [`registry()`], where a running program can
//! look at it: [`Registry::snapshot`] prints every policy's state as a table,
//! [`Registry::subscribe`] delivers [`Event`]s. Functions naming the same policy share it. The
//! first registration that gives settings wins (a site that gives only the name gives way to it):
//! when a later site gives different explicit settings, the conflict shows in the snapshot and as
//! [`Event::ConfigConflict`]. To fix a shared policy's settings before any site runs, register it
//! at startup with [`Registry::circuit_breaker_or_register`] (and its siblings), or configure it.
//!
//! Each annotated call site resolves its policies once, on its first call, into a `static`.
//!
//! # Configuration
//!
//! A TOML file sets any policy's settings by name, with the attributes' own keys, over the
//! attributes' arguments: [`Config::from_file`] reports every problem at once,
//! [`Registry::apply`] puts a configuration in force whole or not at all, reconfiguring each
//! policy in place (an open breaker stays open), [`Registry::watch_config`] reloads a file when
//! it changes, and `RESILIENCE_CONFIG=path` is applied on the registry's first use. See
//! [`Config`] for the file and the precedence of sources.
//!
//! ```
//! use resilience::{circuit_breaker, registry, Config};
//!
//! #[circuit_breaker(name = "doc-config-inventory", failure_threshold = 5)]
//! async fn stock(ok: bool) -> Result<u32, std::io::Error> {
//!     if ok { Ok(3) } else { Err(std::io::ErrorKind::Other.into()) }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let config = Config::from_toml_str("[circuit_breaker.doc-config-inventory]\nfailure_threshold = 1\n").unwrap();
//! registry().apply(&config).unwrap();
//! let _ = stock(false).await;
//! // The file's threshold of 1, over the attribute's 5.
//! assert!(stock(true).await.is_err());
//! # }
//! ```
//!
//! # Without macros
//!
//! [`Retry`], [`CircuitBreaker`], [`Timeout`], [`Bulkhead`], [`RateLimiter`] and [`Fallback`]
//! are plain types with a builder and async `call`s, and the attributes drive the same
//! machinery: alone, a policy's `call` behaves as its attribute does. (Built by hand, a policy
//! is not in the registry; [`Registry::circuit_breaker_or_register`] and its siblings build and
//! register it.)
//!
//! Composed, the `call`s differ from a stack of attributes in one way. Inside a stack a
//! rejection stays typed ([`Failure::Policy`]) up to the outermost layer, so an outer breaker
//! counts a timeout below it as a failure but ignores a full bulkhead or a rate limit (they say
//! nothing about the dependency), and an outer retry does not retry an open circuit and sleeps
//! at least a rate limit's `retry_after`. Each `call` instead converts its rejection into the
//! caller's `E` at once, where the next policy cannot tell it from the operation's own errors:
//! with `E` the application's error type, `retry.call(|| breaker.call(bulkhead.call(op())))`
//! counts a full bulkhead as a breaker failure (enough of them open the circuit), retries an
//! open circuit, and sleeps only the backoff after a rate limit.
//!
//! For exactly the attributes' semantics without macros, run the policies as a [`Pipeline`]
//! (see [Composite policies](#composite-policies)): it stacks a retry, a breaker, a rate
//! limiter, a timeout and a bulkhead in that order, as the attributes do. For another order, or
//! the attributes' `retry_if`, `failure_if` and `ignore_if`, make the operation's error a
//! [`Failure<E>`]: every `call` then reports its rejection as `Failure::Policy` (through
//! `From<`[`Error`]`>`), [`Retry::run`] retries as `#[retry]` does,
//! [`CircuitBreaker::call_with`] counts as `#[circuit_breaker]` does given the classifier below,
//! and [`Failure::into_error`] converts at the end:
//!
//! ```
//! use resilience::{Bulkhead, CallOutcome, CircuitBreaker, Error, Failure, Retry, Timeout};
//! use std::time::Duration;
//!
//! #[derive(Debug)]
//! enum ApiError {
//!     Down,
//!     Rejected(Error),
//! }
//!
//! impl From<Error> for ApiError {
//!     fn from(rejection: Error) -> Self {
//!         ApiError::Rejected(rejection)
//!     }
//! }
//!
//! async fn fetch_user(id: u64) -> Result<String, ApiError> {
//!     if id > 0 { Ok(format!("user {id}")) } else { Err(ApiError::Down) }
//! }
//!
//! /// How `#[circuit_breaker]` counts the layers below it.
//! fn as_the_attribute_counts(failure: &Failure<ApiError>) -> CallOutcome {
//!     match failure {
//!         Failure::Operation(_) | Failure::Policy(Error::Timeout { .. }) => CallOutcome::Failure,
//!         Failure::Policy(_) => CallOutcome::Ignored,
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! let retry = Retry::builder("users").max_attempts(3).build().unwrap();
//! let breaker = CircuitBreaker::builder("users").build().unwrap();
//! let timeout = Timeout::new("users", Duration::from_secs(5)).unwrap();
//! let bulkhead = Bulkhead::new("users", 10).unwrap();
//!
//! // retry(circuit_breaker(timeout(bulkhead(fetch_user)))), as the attributes nest.
//! let user: Result<String, ApiError> = retry
//!     .run(|| {
//!         let attempt = async { fetch_user(7).await.map_err(Failure::Operation) };
//!         breaker.call_with(timeout.call(bulkhead.call(attempt)), as_the_attribute_counts)
//!     })
//!     .await
//!     .map_err(Failure::into_error);
//! assert_eq!(user.unwrap(), "user 7");
//! # }
//! ```
//!
//! [`Retry::call_with`] and [`Retry::run_with`] take the attribute's `retry_if` and `on_retry`;
//! [`Fallback::call`] and [`Fallback::call_if`] answer for a failure as `#[fallback]` does.
//!
//! # Executor helpers
//!
//! For code that cannot be annotated: [`with_timeout`] (as `#[timeout]`), [`with_retry`] (as
//! `#[retry]`), [`with_protection`] (as `#[retry] #[circuit_breaker]`), and [`batch`], which runs
//! many futures with at most [`BatchOptions::max_concurrency`] in flight, per-task and overall
//! timeouts, and results in input order. [`Retry::attempts`] is a retry loop the caller writes,
//! on the policy's schedule, stats and events.
//!
//! # Composite policies
//!
//! A [`Pipeline`] is one named policy made of up to five: retry → circuit breaker → rate limit →
//! timeout → bulkhead, outermost first, with exactly the semantics of those attributes stacked
//! in that order. Registered with [`Registry::register_pipeline`] (each member then also
//! registered under the pipeline's name), a function runs through it with
//! [`resilient`](macro@resilient), and any closure with [`Registry::execute`]:
//!
//! ```
//! use resilience::{registry, resilient, Pipeline};
//! use std::time::Duration;
//!
//! #[resilient(policy = "doc-inventory")]
//! async fn stock(sku: &str) -> Result<u32, std::io::Error> {
//!     Ok(sku.len() as u32)
//! }
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! registry()
//!     .register_pipeline(
//!         Pipeline::builder("doc-inventory")
//!             .retry(|retry| retry.max_attempts(3))
//!             .circuit_breaker(|breaker| breaker.failure_threshold(5))
//!             .timeout(Duration::from_secs(2)),
//!     )
//!     .unwrap();
//! assert_eq!(stock("apple").await.unwrap(), 5);
//! let pears = registry().execute("doc-inventory", || stock("pear")).await;
//! assert_eq!(pears.unwrap(), 4);
//! # }
//! ```
//!
//! The members are the registry's, replaced in place when the composite is reconfigured. A
//! composite called by name before anything defined it runs its calls unprotected, reported
//! once as [`Event::PolicyMissing`] and marked missing in the snapshot, until it is defined.
//!
//! # Health monitors
//!
//! A [`HealthMonitor`] counts the crashes of a pool of workers over a sliding window: the pool
//! is unhealthy past `max_crashes` in the window, a worker past `max_worker_crashes` of its own,
//! and both recover as crashes age out. Registered by name
//! ([`Registry::health_monitor_or_register`]), it shows in the snapshot like any policy. Its
//! memory stays bounded whatever the crash rate or the number of worker ids.
//!
//! # tower and axum
//!
//! With the `tower` feature, `resilience::tower` has a layer per policy kind
//! (`CircuitBreakerLayer`, `BulkheadLayer`, `RateLimitLayer`, `TimeoutLayer`, `RetryLayer`),
//! each resolving its policy by name from the same registry, so a route and an annotated
//! function naming the same breaker share it. Their error is `tower::BoxError`; a rejection
//! downcasts to [`Error`].
//!
//! # Time
//!
//! Policies use `tokio::time`, so `tokio::time::pause()` makes tests of annotated code exact
//! and instant.
//!
//! # Testing
//!
//! The registry is global, so tests running in parallel share every policy by name. With the
//! `test-util` feature, `#[resilience::test]` runs a test on paused time with a registry of its
//! own, and `resilience::testing::isolated` does the same for any future: see the `testing`
//! module.
//!
//! # Features
//!
//! | feature | what it adds |
//! |---|---|
//! | `serde` | `Serialize` for snapshots, configurations and stats |
//! | `tracing` | every [`Event`] also as a `tracing` event, target `resilience` |
//! | `metrics` | counters and gauges through the `metrics` facade (`resilience_calls_total{kind,name,outcome}`, `resilience_circuit_state{name}`, …); `Registry::record_metrics` |
//! | `tower` | `resilience::tower`: a `tower` `Layer` per policy kind, resolving the policy by name from the same registry as the attributes (axum, tonic, hyper) |
//! | `test-util` | `resilience::testing` (a registry of its own per test) and `#[resilience::test]`; enables Tokio's `macros`, `rt` and `test-util`. For `[dev-dependencies]`: without it, a call site pays nothing for it |
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

mod bulkhead;
mod chaos;
mod circuit_breaker;
pub mod config;
mod config_error;
mod error;
mod events;
mod executor;
mod failure;
mod fallback;
mod health;
mod hedge;
pub mod keyed;
mod lifecycle;
mod live_config;
mod metrics;
mod pipeline;
mod rate_limiter;
mod registry;
mod retry;
mod retry_budget;
pub mod store;
mod striped;
mod supervisor;
mod sync;
mod timeout;
#[cfg(feature = "tower")]
pub mod tower;
mod wall_time;

#[doc(hidden)]
pub mod __private;
#[cfg(feature = "test-util")]
pub mod testing;

pub use bulkhead::{
    Bulkhead, BulkheadBuilder, BulkheadConfig, BulkheadPermit, BulkheadStats, KeyedBulkheadPermit,
};
pub use chaos::{Chaos, ChaosBuilder, ChaosConfig, ChaosStats, Injection};
pub use circuit_breaker::{
    CallOutcome, CallPermit, CircuitBreaker, CircuitBreakerBuilder, CircuitBreakerConfig,
    CircuitBreakerStats, CircuitState, KeyedCallPermit, TransitionCause, TripRule, Window,
};
pub use config::{Config, Source};
pub use config_error::ConfigError;
pub use error::Error;
pub use events::Event;
pub use executor::{batch, with_protection, with_retry, with_timeout, BatchError, BatchOptions};
pub use failure::{Failure, FailureRef};
pub use fallback::{Fallback, FallbackBuilder, FallbackConfig, FallbackStats};
pub use health::{CheckHandle, Contributor, HealthCheck, HealthReport, HealthStatus};
pub use health::{HealthMonitor, HealthMonitorBuilder, HealthMonitorStats, WorkerHealth};
pub use hedge::{Hedge, HedgeBuilder, HedgeConfig, HedgeStats};
pub use keyed::{KeySnapshot, KeyedStats, PolicyKey};
#[cfg(feature = "signal")]
pub use lifecycle::shutdown_on_signal;
pub use lifecycle::{ShutdownReport, StillRunning};
pub use pipeline::{Pipeline, PipelineBuilder, PipelineMembers, PipelineStats};
pub use rate_limiter::{RateLimiter, RateLimiterBuilder, RateLimiterConfig, RateLimiterStats};
pub use registry::{
    registry, ApplyReport, ConfigWatch, PolicyChange, PolicyKind, PolicySnapshot, PolicyStats,
    Registry, RegistrySnapshot, SettingSource, CONFIG_ENV,
};
pub use retry::{
    Attempt, Attempts, Backoff, Jitter, Retry, RetryBuilder, RetryConfig, RetryContext, RetryOn,
    RetryRun, RetryStats,
};
pub use retry_budget::{RetryBudget, RetryBudgetBuilder, RetryBudgetConfig, RetryBudgetStats};
pub use store::SharedStore;
pub use supervisor::{
    ChildSpec, Restart, Strategy, Supervisor, SupervisorBuilder, SupervisorError, SupervisorStats,
};
pub use timeout::{Timeout, TimeoutBuilder, TimeoutConfig, TimeoutStats};
pub use wall_time::WallTime;

/// Retries the function's body on failure, with backoff.
///
/// Keys: `max_attempts` (3), `backoff` (`"exponential"`, `"fixed"`, `"linear"`, `"none"`),
/// `delay` (`"100ms"`), `factor` (2.0), `max_delay` (`"30s"`), `delays = ["100ms", "1s"]`,
/// `backoff_fn = path`, `jitter` / `jitter = 0.1` / `jitter = "full" | "equal" | "decorrelated"`,
/// `max_elapsed`, `retry_if = path` (`fn(&E) -> bool`), `on_retry = path`
/// (`fn(&RetryContext<'_, E>)`), `name`. Durations also as `<key>_ms = <integer>`.
///
/// Exhausted retries return the last error unchanged. Owned arguments are cloned for each
/// attempt. An open circuit below the retry is not retried; a timeout or a full bulkhead is.
///
/// ```
/// use resilience::retry;
/// use std::sync::atomic::{AtomicU32, Ordering};
///
/// #[retry(max_attempts = 3, backoff = "fixed", delay = "10ms")]
/// async fn flaky(calls: &AtomicU32) -> Result<u32, String> {
///     match calls.fetch_add(1, Ordering::SeqCst) {
///         0 | 1 => Err("not yet".to_owned()),
///         n => Ok(n),
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let start = tokio::time::Instant::now();
/// assert_eq!(flaky(&AtomicU32::new(0)).await, Ok(2));
/// assert_eq!(start.elapsed(), std::time::Duration::from_millis(20));
/// # }
/// ```
pub use resilience_macros::retry;

/// Runs the function through a circuit breaker.
///
/// Keys: `name` (default `module::fn`, or `module::Type::method` with the concrete `Self`),
/// `failure_threshold` (5), or `failure_rate` with `window` (calls, or a duration string) and
/// `min_calls` (the window's size, 100 for a time window); `reset_timeout` (`"30s"`),
/// `half_open_timeout` (the `reset_timeout`), `half_open_max_calls` (1), `success_threshold` (1),
/// `slow_call`, `failure_if = path`, `ignore_if = path` (both `fn(&E) -> bool`), the flag
/// `critical` (or `critical = true`/`false`: an open or half-open circuit makes health unhealthy
/// rather than degraded), the flag `shared` (the circuit's state is shared across instances
/// through the registry's store: see [`store`]), and, like every attribute, `crate = "path"` for a renamed or
/// re-exported runtime crate.
///
/// While open, calls fail with [`Error::CircuitOpen`] without running the body.
///
/// ```
/// use resilience::{circuit_breaker, registry, CircuitState};
///
/// #[circuit_breaker(name = "doc-breaker", failure_threshold = 2, critical)]
/// async fn call(ok: bool) -> Result<(), std::io::Error> {
///     if ok { Ok(()) } else { Err(std::io::Error::other("down")) }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let _ = call(false).await;
/// let _ = call(false).await;
/// let breaker = registry().circuit_breaker("doc-breaker").unwrap();
/// assert_eq!(breaker.state(), CircuitState::Open);
/// assert!(breaker.is_critical());
/// assert!(call(true).await.is_err()); // rejected without running
/// # }
/// ```
pub use resilience_macros::circuit_breaker;

/// Bounds each call's duration: exactly one of `ms = 5000`, `secs = 5`, `duration = "5s"`;
/// optional `name`.
///
/// On expiry the body's future is dropped and the call fails with [`Error::Timeout`]. The
/// clock starts when the body first waits: a body that completes without waiting arms no timer.
///
/// ```
/// use resilience::timeout;
/// use std::time::Duration;
///
/// #[timeout(ms = 100)]
/// async fn slow() -> std::io::Result<()> {
///     tokio::time::sleep(Duration::from_secs(1)).await;
///     Ok(())
/// }
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// assert_eq!(slow().await.unwrap_err().kind(), std::io::ErrorKind::TimedOut);
/// # }
/// ```
pub use resilience_macros::timeout;

/// Bounds the calls in flight at once: `max` (required), `queue` (0), `queue_timeout`
/// (`"1s"`), `name`.
///
/// Beyond `max` calls and `queue` waiters a call fails at once with [`Error::BulkheadFull`].
/// Slots are released on completion, error, panic and cancellation alike.
///
/// ```
/// use resilience::bulkhead;
///
/// #[bulkhead(max = 2)]
/// async fn render(page: u32) -> anyhow::Result<String> {
///     Ok(format!("page {page}"))
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// assert_eq!(render(1).await.unwrap(), "page 1");
/// # }
/// ```
pub use resilience_macros::bulkhead;

/// Limits the rate of calls with a GCRA token bucket: `rate` (required) calls per `per`
/// (`"1s"`), up to `burst` (default `rate`) at once after a quiet spell; `wait` (default zero)
/// lets a caller wait that long for a cell instead of failing; the flag `shared` (one bucket for
/// every instance, in the registry's store: see [`store`]); `name`.
///
/// Beyond the rate a call fails with [`Error::RateLimited`] carrying `retry_after`, without
/// running the body; an outer `#[retry]` sleeps at least that long before its next attempt.
///
/// `key = <expression>` makes it keyed: one bucket per value of the expression (per user, per
/// client IP), evaluated by reference from the arguments before the call; `key_idle` and
/// `max_keys` bound the keys held. See [`keyed`] for the key's bounds ([`PolicyKey`]) and how
/// keys are evicted.
///
/// ```
/// use resilience::rate_limit;
///
/// #[rate_limit(rate = 1, per = "1m", key = user_id, name = "doc-keyed-rate-limit")]
/// async fn profile(user_id: u64) -> Result<u64, resilience::Error> {
///     Ok(user_id)
/// }
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// assert!(profile(1).await.is_ok());
/// assert!(profile(1).await.is_err(), "user 1 is over their limit");
/// assert!(profile(2).await.is_ok(), "user 2 has a limit of their own");
/// # }
/// ```
///
/// ```
/// use resilience::rate_limit;
///
/// #[rate_limit(rate = 2, per = "1s", name = "doc-rate-limit")]
/// async fn send(n: u32) -> Result<u32, resilience::Error> {
///     Ok(n)
/// }
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// assert!(send(1).await.is_ok());
/// assert!(send(2).await.is_ok());
/// assert_eq!(send(3).await.unwrap_err().code(), "RATE_LIMITED");
/// tokio::time::sleep(std::time::Duration::from_millis(500)).await;
/// assert!(send(4).await.is_ok());
/// # }
/// ```
pub use resilience_macros::rate_limit;

/// Answers for a failed call with a fallback: `#[fallback(path)]`, optionally
/// `fallback_if = path` (`fn(&E) -> bool`, default: every error) and `name` (the registry
/// name of its counters, a [`Fallback`]; default `module::fn`).
///
/// When the layers below fail, the fallback is called with the function's own arguments (`self`
/// first for a method; owned arguments as clones taken before the body ran) and the error, and
/// its `Result<T, E>` becomes the call's. It may be a plain `fn` or an `async fn`. Written above
/// the other attributes, it also answers for their rejections (converted to `E`), which is
/// the usual place: serve from a cache when the breaker is open.
///
/// ```
/// use resilience::{circuit_breaker, fallback};
///
/// #[derive(Debug, PartialEq)]
/// enum ShopError {
///     Down,
///     Policy(resilience::Error),
/// }
///
/// impl From<resilience::Error> for ShopError {
///     fn from(err: resilience::Error) -> Self {
///         ShopError::Policy(err)
///     }
/// }
///
/// fn from_cache(sku: &str, _error: ShopError) -> Result<u32, ShopError> {
///     Ok(if sku == "apple" { 3 } else { 0 })
/// }
///
/// #[fallback(from_cache)]
/// #[circuit_breaker(name = "doc-fallback", failure_threshold = 1)]
/// async fn stock(sku: &str) -> Result<u32, ShopError> {
///     Err(ShopError::Down)
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// assert_eq!(stock("apple").await, Ok(3)); // the call failed: served from the cache
/// assert_eq!(stock("apple").await, Ok(3)); // the circuit is open: served from the cache
/// # }
/// ```
pub use resilience_macros::fallback;

/// Runs the function through the registry's composite policy `policy` (a [`Pipeline`]):
/// `#[resilient(policy = "NAME")]`, with optional `crate = "path"`.
///
/// The composite's members (retry → circuit breaker → rate limit → timeout → bulkhead) come
/// from the registry, not from the attribute: register them at startup with
/// [`Registry::register_pipeline`] (or, with a configuration file, under `[policy.NAME]`).
/// Each call runs exactly as under the members' attributes stacked in that order, with their
/// defaults for `retry_if` (every error) and `failure_if` (every error), and uses the members
/// in force when it starts: reconfiguring the composite changes them in place.
///
/// The site looks the name up once, on its first call. A name nothing has defined by then runs
/// the body unprotected rather than failing every call: it is marked missing in the registry's
/// snapshot and reported once by [`Event::PolicyMissing`] (kind [`PolicyKind::Pipeline`]), and
/// a later definition protects the site from its next call on.
///
/// Arguments are handled as under `#[retry]`: the body runs afresh for each attempt, owned
/// arguments cloned for each attempt but the last (a non-`Clone` owned argument is a compile
/// error). `#[resilient]` cannot be combined with a policy's attribute on the same function:
/// the composite decides each layer itself.
///
/// ```
/// use resilience::{registry, resilient, Pipeline};
/// use std::sync::atomic::{AtomicU32, Ordering};
/// use std::time::Duration;
///
/// #[resilient(policy = "doc-payment-service")]
/// async fn charge(attempts: &AtomicU32) -> Result<&'static str, std::io::Error> {
///     match attempts.fetch_add(1, Ordering::SeqCst) {
///         0 => Err(std::io::Error::other("declined")),
///         _ => Ok("receipt"),
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// registry()
///     .register_pipeline(
///         Pipeline::builder("doc-payment-service")
///             .retry(|retry| retry.max_attempts(3).fixed(Duration::from_millis(100)))
///             .circuit_breaker(|breaker| breaker.failure_threshold(5))
///             .timeout(Duration::from_secs(5)),
///     )
///     .unwrap();
/// let attempts = AtomicU32::new(0);
/// assert_eq!(charge(&attempts).await.unwrap(), "receipt");
/// assert_eq!(attempts.load(Ordering::SeqCst), 2);
/// # }
/// ```
pub use resilience_macros::resilient;

/// Starts another attempt beside a slow call; the first success wins: see [`Hedge`] and the
/// README's section. Keys: `delay` (default `"50ms"`), `max_hedged` (default 1), `budget`, `name`.
/// The function's owned arguments are cloned for each attempt; `&mut` arguments are refused.
pub use resilience_macros::hedge;

/// Injects faults and delays once enabled at run time: see [`Chaos`] and the README's section.
/// Keys: `fault_rate`, `latency`, `latency_rate`, `error` (a `fn() -> E`), `name`.
pub use resilience_macros::chaos;

/// An `async fn` test on paused time with a registry of its own (feature `test-util`).
///
/// `#[resilience::test]` is `#[tokio::test(start_paused = true)]` with the body run in
/// [`testing::isolated`]: every policy the test resolves is its own, so tests in parallel never
/// share a breaker, and no test depends on which one registered a name first. It uses the
/// `tokio` that `resilience` brings, so the test needs no `tokio` dependency of its own.
///
/// The function is an `async fn` without arguments, returning `()` or any type `#[test]`
/// accepts (`Result<(), E>` included). Arguments of `tokio::test` pass through (`flavor`,
/// `worker_threads`, `start_paused`, `unhandled_panic`), and `crate = "path"` names a renamed
/// `resilience`. Paused time needs the current-thread runtime: for
/// `flavor = "multi_thread"`, also write `start_paused = false` (the test then runs on the real
/// clock, still isolated).
///
/// Like `tokio::test`, it is named `test`: a module that glob-imports the crate
/// (`use resilience::*`) makes a plain `#[test]` ambiguous there. Import names one by one, or
/// write `#[core::prelude::v1::test]`.
///
/// ```
/// use resilience::{circuit_breaker, registry, CircuitState};
/// use std::time::Duration;
///
/// #[circuit_breaker(name = "inventory", failure_threshold = 1, reset_timeout = "30s")]
/// async fn stock(ok: bool) -> Result<u32, std::io::Error> {
///     if ok { Ok(3) } else { Err(std::io::Error::other("down")) }
/// }
///
/// #[resilience::test]
/// async fn the_breaker_closes_after_its_reset_timeout() -> Result<(), std::io::Error> {
///     let _ = stock(false).await;
///     assert!(stock(true).await.is_err());
///     tokio::time::sleep(Duration::from_secs(30)).await; // virtual: instant
///     assert_eq!(stock(true).await?, 3);
///     assert_eq!(registry().circuit_breaker("inventory").unwrap().state(), CircuitState::Closed);
///     Ok(())
/// }
/// # fn main() {}
/// ```
#[cfg(feature = "test-util")]
pub use resilience_macros::test;
