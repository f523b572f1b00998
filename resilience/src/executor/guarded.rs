//! A retry, or a retry over a circuit breaker, around a closure.

use std::future::Future;
use std::ops::ControlFlow;

use crate::{CallOutcome, CircuitBreaker, Error, Failure, Retry};

/// Runs `op` until it succeeds or `retry` gives up, as `#[retry]` runs a function's body: `op`
/// is called once per attempt, every error is retried after the schedule's delay (with its
/// jitter, `max_elapsed` and the policy's stats and events), and the last error is returned
/// unchanged.
///
/// The same as [`Retry::call`]; for `retry_if` and `on_retry`, see
/// [`Retry::call_with`]. The errors are the operation's own: to retry the rejections of
/// policies below the retry as the attributes do (a timeout, not an open circuit), use
/// [`with_protection`], a [`Pipeline`](crate::Pipeline), or [`Retry::run`].
///
/// ```
/// use resilience::{with_retry, Retry};
/// use std::time::Duration;
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let retry = Retry::builder("doc-with-retry").fixed(Duration::from_millis(50)).build().unwrap();
/// let mut calls = 0;
/// let result: Result<u32, String> = with_retry(&retry, || {
///     calls += 1;
///     let call = calls;
///     async move { if call < 2 { Err("busy".to_owned()) } else { Ok(call) } }
/// })
/// .await;
/// assert_eq!(result, Ok(2));
/// assert_eq!(retry.stats().retries, 1);
/// # }
/// ```
pub async fn with_retry<T, E, F, Fut>(retry: &Retry, op: F) -> Result<T, E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    retry.call(op).await
}

/// Runs `op` through `retry` over `breaker`, exactly as
/// `#[retry] #[circuit_breaker] async fn` runs its body: each attempt asks the breaker first
/// (`op` is not called when the circuit is open) and counts against it; every error of `op` is
/// a breaker failure and is retried; an open circuit is not retried (hammering a breaker that
/// has just said the dependency is down is pointless) and ends the call with
/// `Error::CircuitOpen` converted into `E`. When the retry gives up, the last error is
/// returned.
///
/// Rejections stay typed inside and become `E` at the end, through `E: From<resilience::Error>`.
/// For a timeout or a bulkhead under the breaker as well, build a
/// [`Pipeline`](crate::Pipeline).
///
/// ```
/// use resilience::{with_protection, CircuitBreaker, Error, Retry};
/// use std::time::Duration;
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let breaker = CircuitBreaker::builder("doc-protection").failure_threshold(2).build().unwrap();
/// let retry = Retry::builder("doc-protection").max_attempts(5).no_backoff().build().unwrap();
/// let mut calls = 0;
/// let result: Result<(), Error> = with_protection(&breaker, &retry, || {
///     calls += 1;
///     async { Err(Error::Timeout { name: "db".into(), after: Duration::from_secs(1) }) }
/// })
/// .await;
/// // Two failures open the circuit; the third attempt is rejected and not retried.
/// assert!(matches!(result, Err(Error::CircuitOpen { .. })));
/// assert_eq!(calls, 2);
/// # }
/// ```
pub async fn with_protection<T, E, F, Fut>(
    breaker: &CircuitBreaker,
    retry: &Retry,
    mut op: F,
) -> Result<T, E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
    E: From<Error>,
{
    let mut run = retry.begin();
    loop {
        // `op` is called inside the breaker's body, so not at all for a rejected attempt.
        let attempt = breaker
            .run(async { op().await.map_err(Failure::Operation) }, |_: &E| {
                CallOutcome::Failure
            })
            .await;
        match run
            .after_attempt(attempt, Failure::as_ref, |_: &E| true, |_| {})
            .await
        {
            ControlFlow::Break(result) => return result.map_err(Failure::into_error),
            ControlFlow::Continue(()) => {}
        }
    }
}
