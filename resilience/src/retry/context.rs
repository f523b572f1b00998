//! What an `on_retry` callback is told about the failure it is called for.

use std::time::Duration;

use crate::{Error, FailureRef};

/// A failed attempt that is about to be retried, as shown to an `on_retry` callback.
///
/// `E` is the operation's error type. Only the crate builds one.
///
/// ```
/// use resilience::{FailureRef, Retry, RetryContext};
/// use std::time::Duration;
///
/// fn log_retry(ctx: &RetryContext<'_, String>) {
///     eprintln!(
///         "attempt {} failed ({:?}) {:?} into the retries; next in {:?}",
///         ctx.attempt(),
///         ctx.error(),
///         ctx.elapsed(),
///         ctx.delay(),
///     );
/// }
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let retry = Retry::builder("doc-context").fixed(Duration::from_millis(10)).build().unwrap();
/// let mut run = retry.begin();
/// let mut attempts = 0;
/// let result = loop {
///     attempts += 1;
///     let result: Result<u32, String> =
///         if attempts < 3 { Err("busy".to_string()) } else { Ok(attempts) };
///     match run.after_attempt(result, |e| FailureRef::Operation(e), |_| true, log_retry).await {
///         std::ops::ControlFlow::Break(result) => break result,
///         std::ops::ControlFlow::Continue(()) => {}
///     }
/// };
/// assert_eq!(result, Ok(3));
/// # }
/// ```
#[derive(Debug)]
pub struct RetryContext<'a, E> {
    attempt: u32,
    delay: Duration,
    elapsed: Duration,
    failure: FailureRef<'a, E>,
}

impl<'a, E> RetryContext<'a, E> {
    pub(crate) fn new(
        attempt: u32,
        delay: Duration,
        elapsed: Duration,
        failure: FailureRef<'a, E>,
    ) -> Self {
        RetryContext {
            attempt,
            delay,
            elapsed,
            failure,
        }
    }

    /// The attempt that failed, counting from 1.
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// The sleep before the next attempt, jitter included.
    pub fn delay(&self) -> Duration {
        self.delay
    }

    /// Time spent on the call so far, the sleep about to start excluded.
    ///
    /// With a `max_elapsed`, since the first attempt began: the limit is measured from there,
    /// so `elapsed() + delay()` is what it was checked against. Without one, since the first
    /// attempt failed, its own duration excluded: the clock is read only once an attempt has
    /// failed, so that a call that succeeds at once never reads it.
    pub fn elapsed(&self) -> Duration {
        self.elapsed
    }

    /// The failure: the operation's error or a policy's rejection.
    pub fn failure(&self) -> FailureRef<'a, E> {
        self.failure
    }

    /// The operation's error, if the operation itself failed.
    pub fn error(&self) -> Option<&'a E> {
        self.failure.operation()
    }

    /// The rejection, if a policy below the retry rejected the attempt (a timeout, a full
    /// bulkhead).
    pub fn rejection(&self) -> Option<&'a Error> {
        self.failure.policy()
    }
}

impl<E> Clone for RetryContext<'_, E> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<E> Copy for RetryContext<'_, E> {}
