//! Retry as a loop the caller writes: [`Attempts`] hands out one [`Attempt`] at a time, after
//! the policy's sleep, and each attempt is reported back as a success or a failure.

use std::fmt::Display;

use tokio::time::Instant;

use super::run::deadline;
use super::{Retry, RetryRun};
use crate::lifecycle::gate;
use crate::registry::PolicyKind;
use crate::{Error, FailureRef};

/// One call's retry loop, written by the caller: what [`Retry::attempts`] returns.
///
/// [`next`](Self::next) yields an [`Attempt`] (at once the first time, after the policy's delay
/// afterwards) until the call is done; the caller runs its operation and reports the outcome
/// with [`Attempt::succeeded`], [`Attempt::failed`] (its own error, retried by the schedule),
/// [`Attempt::failed_if`] (its own error, retried only when it says so) or
/// [`Attempt::rejected`] (a policy's rejection, judged by the retry's
/// [`retry_on`](crate::RetryBuilder::retry_on) as under `#[retry]`). The decision, the delay and
/// its jitter, the stats and the events ([`Event::RetryAttempt`](crate::Event::RetryAttempt),
/// [`Event::RetriesExhausted`](crate::Event::RetriesExhausted)) are those of `#[retry]` and
/// [`Retry::call`]: the same [`RetryRun`] drives them.
///
/// The loop ends (`next` returns `None`) after a success, after a failure that is not retried
/// or spends the last attempt, and after an attempt dropped without being reported: such an
/// attempt counts as neither success nor failure, as a call dropped mid-way does. The caller
/// keeps its last error itself.
///
/// `next` is cancel-safe: dropped during its sleep, it sleeps until the same instant when called
/// again.
///
/// ```
/// use resilience::Retry;
/// use std::time::Duration;
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let retry = Retry::builder("doc-attempts").fixed(Duration::from_millis(100)).build().unwrap();
/// let mut calls = 0;
/// let mut op = || {
///     calls += 1;
///     let call = calls;
///     async move { if call < 3 { Err(format!("busy #{call}")) } else { Ok(call) } }
/// };
///
/// let started = tokio::time::Instant::now();
/// let mut attempts = retry.attempts();
/// let mut last_error = None;
/// let mut value = None;
/// while let Some(attempt) = attempts.next().await {
///     match op().await {
///         Ok(v) => {
///             attempt.succeeded();
///             value = Some(v);
///         }
///         Err(e) => {
///             attempt.failed(&e);
///             last_error = Some(e);
///         }
///     }
/// }
/// assert_eq!(value, Some(3));
/// assert_eq!(last_error.as_deref(), Some("busy #2"));
/// assert_eq!(started.elapsed(), Duration::from_millis(200));
/// assert_eq!(retry.stats().successes_after_retry, 1);
/// # }
/// ```
#[derive(Debug)]
#[must_use = "a retry loop does nothing until `next` is awaited"]
pub struct Attempts<'a> {
    run: RetryRun<'a>,
    next: Next,
}

/// What [`Attempts::next`] does when it is called.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Next {
    /// Yield an attempt at once.
    Now,
    /// Sleep until the instant, then yield an attempt.
    At(Instant),
    /// An attempt is out, or the call is over: yield nothing. An attempt that is reported sets
    /// it to one of the others.
    Done,
}

impl Retry {
    /// Starts a retry loop the caller writes: see [`Attempts`]. Cheap, as
    /// [`begin`](Self::begin) is.
    pub fn attempts(&self) -> Attempts<'_> {
        Attempts {
            run: self.begin(),
            next: Next::Now,
        }
    }
}

impl<'a> Attempts<'a> {
    /// The next attempt, once the delay the last failure called for has passed; `None` when the
    /// call is done.
    ///
    /// A retry that is due is called off when the program is
    /// [shutting down](crate::Registry::shutdown), before or during its sleep: `next` returns
    /// `None` at once (the call ends with the caller's last error) and a
    /// [`Event::CallRejected`](crate::Event::CallRejected) with
    /// [`Error::ShuttingDown`] is emitted, as under `#[retry]`. The first attempt is always
    /// given: the policies it calls through turn it away themselves.
    pub async fn next(&mut self) -> Option<Attempt<'_, 'a>> {
        let retrying = self.run.attempt() > 1;
        let slept = match self.next {
            Next::Done => return None,
            Next::Now => !(retrying && gate::is_closed()),
            Next::At(instant) => {
                !gate::is_closed()
                    && gate::unless_closed(tokio::time::sleep_until(instant), None)
                        .await
                        .is_some()
            }
        };
        if !slept {
            self.next = Next::Done;
            crate::lifecycle::rejection(PolicyKind::Retry, self.run.policy_name());
            return None;
        }
        self.next = Next::Done;
        Some(Attempt { attempts: self })
    }
}

/// One attempt of an [`Attempts`] loop, to be reported once: consumed by each method.
#[derive(Debug)]
#[must_use = "report the attempt with `succeeded`, `failed` or `rejected`: an attempt dropped \
              unreported ends the loop uncounted"]
pub struct Attempt<'r, 'a> {
    attempts: &'r mut Attempts<'a>,
}

impl Attempt<'_, '_> {
    /// The attempt's number, from 1.
    pub fn number(&self) -> u32 {
        self.attempts.run.attempt()
    }

    /// Whether the policy allows no attempt after this one.
    pub fn is_last(&self) -> bool {
        self.attempts.run.is_last_attempt()
    }

    /// The operation succeeded: counted, and the loop ends.
    pub fn succeeded(self) {
        self.attempts.run.succeeded();
    }

    /// The operation failed with its own `error`: retried after the schedule's delay, unless
    /// the attempts or `max_elapsed` are spent. The events carry the error's `Display` text,
    /// as `#[retry]`'s do.
    pub fn failed<E: Display>(self, error: &E) {
        self.report(FailureRef::Operation(error), |_: &E| true);
    }

    /// The operation failed with its own `error`, retried only if `retryable` (the attribute's
    /// `retry_if`); otherwise the loop ends and the call counts as not retryable.
    pub fn failed_if<E: Display>(self, error: &E, retryable: bool) {
        self.report(FailureRef::Operation(error), |_: &E| retryable);
    }

    /// A policy rejected the attempt: retried as the retry's `retry_on` says, as `#[retry]` does
    /// for a layer below it (a timeout, a full bulkhead, a rate limit no sooner than its
    /// `retry_after`; not an open circuit, by default).
    pub fn rejected(self, rejection: &Error) {
        self.report(FailureRef::<'_, String>::Policy(rejection), |_: &String| {
            true
        });
    }

    fn report<E: Display>(self, failure: FailureRef<'_, E>, retry_if: impl Fn(&E) -> bool) {
        let attempts = self.attempts;
        attempts.next =
            match attempts
                .run
                .next_delay(failure, retry_if, |_| {}, |error: &E| error.to_string())
            {
                None => Next::Done,
                Some((delay, _)) if delay.is_zero() => Next::Now,
                Some((delay, now)) => Next::At(deadline(now, delay)),
            };
    }
}
