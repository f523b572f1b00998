//! The retry loop's state for one call, and the decision taken after each attempt.

use std::ops::ControlFlow;
use std::time::Duration;

use tokio::time::Instant;

use super::{Retry, RetryContext, RetryOn};
use crate::events::{emit, Event};
use crate::lifecycle::{gate, InFlightGuard};
use crate::registry::PolicyKind;
use crate::{Error, FailureRef};

/// One call's way through a [`Retry`]: which attempt it is on, when it began, the last sleep.
///
/// [`Retry::call`] and the `#[retry]` attribute both drive it: run an attempt, hand its result
/// to [`after_attempt`](RetryRun::after_attempt), stop on `Break`, run again on `Continue`.
///
/// ```
/// use resilience::{Failure, Retry, Error};
/// use std::ops::ControlFlow;
/// use std::time::Duration;
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let retry = Retry::builder("doc-run").fixed(Duration::from_millis(100)).build().unwrap();
/// let mut run = retry.begin();
/// let mut attempts = 0;
/// let outcome: Result<&str, Failure<std::io::Error>> = loop {
///     attempts += 1;
///     // A timeout below the retry rejected the first attempt; the second one succeeds.
///     let result = if attempts == 1 {
///         Err(Failure::Policy(Error::Timeout { name: "db".into(), after: Duration::from_secs(1) }))
///     } else {
///         Ok("row")
///     };
///     match run.after_attempt(result, Failure::as_ref, |_| true, |_| {}).await {
///         ControlFlow::Break(outcome) => break outcome,
///         ControlFlow::Continue(()) => {}
///     }
/// };
/// assert_eq!(outcome.unwrap(), "row");
/// assert_eq!(retry.stats().successes_after_retry, 1);
/// # }
/// ```
#[derive(Debug)]
#[must_use = "a retry run does nothing until its attempts are reported to `after_attempt`"]
pub struct RetryRun<'a> {
    policy: &'a Retry,
    /// The attempt whose result `after_attempt` receives next, from 1.
    attempt: u32,
    /// The policy's `max_attempts` when the call began: a reconfigure does not move it, so the
    /// attempt `is_last_attempt` called the last is the last.
    max_attempts: u32,
    /// What [`RetryContext::elapsed`] counts from: when the call began if `max_elapsed` needs
    /// it, otherwise when the first attempt failed, so that a call that succeeds at once never
    /// reads the clock.
    started: Option<Instant>,
    /// The previous sleep in nanoseconds (zero before the first retry), before any
    /// `retry_after` floor: decorrelated jitter grows from it. One word rather than a
    /// `Duration`, so that a call that succeeds at once stores less.
    previous_delay_nanos: u64,
    /// Counts the call in the policy's calls in flight until the run is dropped.
    _in_flight: InFlightGuard<'a>,
}

/// Whether a failure is worth another attempt, and the least sleep before it.
enum Verdict {
    Retry { at_least: Duration },
    Stop,
}

impl<'a> RetryRun<'a> {
    #[inline]
    pub(crate) fn new(policy: &'a Retry) -> Self {
        let limits = policy.call_limits();
        if limits.budgeted {
            policy.deposit();
        }
        RetryRun {
            policy,
            attempt: 1,
            max_attempts: limits.max_attempts,
            started: limits.timed.then(Instant::now),
            previous_delay_nanos: 0,
            _in_flight: policy.in_flight.enter(),
        }
    }

    /// Counts a successful attempt: the synchronous part of [`after_attempt`](Self::after_attempt)
    /// for an `Ok`, which the macros' expansion takes inline so a success builds no future.
    #[doc(hidden)]
    #[inline]
    pub fn succeeded(&self) {
        self.policy.counters.record_success(self.attempt > 1);
    }

    /// The name of the retry this run belongs to.
    pub(super) fn policy_name(&self) -> &std::sync::Arc<str> {
        self.policy.name_arc()
    }

    /// The attempt whose result is reported next, from 1.
    #[inline]
    pub(super) fn attempt(&self) -> u32 {
        self.attempt
    }

    /// Whether the attempt about to run is the last that `max_attempts` allows: the macros move
    /// owned arguments into it instead of cloning them.
    #[doc(hidden)]
    #[inline]
    pub fn is_last_attempt(&self) -> bool {
        self.attempt >= self.max_attempts
    }

    /// Reports an attempt's result and, when another attempt is due, sleeps until it.
    ///
    /// Returns `Break(result)`, the result unchanged, when the call is done: on success, on an
    /// error that is not retried, when `max_attempts` is spent, or when the next sleep would
    /// pass `max_elapsed`. Otherwise calls `on_retry`, emits [`Event::RetryAttempt`], sleeps
    /// the delay (not at all for a zero delay) and returns `Continue(())`.
    ///
    /// `view` shows the error as a [`FailureRef`]: [`Failure::as_ref`](crate::Failure::as_ref)
    /// inside a stack of policies, or `FailureRef::Operation` for a bare operation error.
    /// An operation error is retried when `retry_if` says so. A rejection by a policy below is
    /// retried when the policy's [`RetryOn`] has its kind: by default the transient ones, a
    /// timeout, a full bulkhead, a rate limit (whose `retry_after` becomes the least sleep,
    /// beyond `max_delay` if need be, since an earlier attempt would only be rejected again),
    /// and not an open circuit, which the breaker has just said is down; with
    /// [`RetryOn::CIRCUIT_OPEN`], an open circuit is retried on the schedule.
    ///
    /// The events name an operation error by its type, since `E` need not be `Display`;
    /// [`after_attempt_described`](Self::after_attempt_described) takes the text from a
    /// function of the caller's.
    pub async fn after_attempt<T, X, E, V, P, O>(
        &mut self,
        result: Result<T, X>,
        view: V,
        retry_if: P,
        on_retry: O,
    ) -> ControlFlow<Result<T, X>>
    where
        V: Fn(&X) -> FailureRef<'_, E>,
        P: Fn(&E) -> bool,
        O: Fn(&RetryContext<'_, E>),
    {
        self.after_attempt_described(result, view, retry_if, on_retry, type_name_of::<E>)
            .await
    }

    /// [`after_attempt`](Self::after_attempt), with `describe` giving an operation error's text
    /// for [`Event::RetryAttempt`] and [`Event::RetriesExhausted`]: typically
    /// `|e: &E| e.to_string()`. It runs only when an event is built (a subscriber, the `tracing`
    /// or `metrics` feature), so the text costs nothing otherwise. `#[retry]` passes the error's
    /// `Display` when it has one, and its type name when it has not.
    ///
    /// ```
    /// use resilience::{Event, FailureRef, Retry};
    /// use std::ops::ControlFlow;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let mut events = resilience::registry().subscribe();
    /// let retry = Retry::builder("doc-described").max_attempts(1).build().unwrap();
    /// let mut run = retry.begin();
    /// let result: Result<(), std::io::Error> = Err(std::io::Error::other("connection reset"));
    /// let describe = |e: &std::io::Error| e.to_string();
    /// fn view(e: &std::io::Error) -> FailureRef<'_, std::io::Error> {
    ///     FailureRef::Operation(e)
    /// }
    /// let flow = run.after_attempt_described(result, view, |_| true, |_| {}, describe).await;
    /// assert!(matches!(flow, ControlFlow::Break(Err(_))));
    /// loop {
    ///     if let Event::RetriesExhausted { name, error, .. } = events.recv().await.unwrap() {
    ///         if &*name == "doc-described" {
    ///             assert_eq!(error, "connection reset");
    ///             break;
    ///         }
    ///     }
    /// }
    /// # }
    /// ```
    pub async fn after_attempt_described<T, X, E, V, P, O, D>(
        &mut self,
        result: Result<T, X>,
        view: V,
        retry_if: P,
        on_retry: O,
        describe: D,
    ) -> ControlFlow<Result<T, X>>
    where
        V: Fn(&X) -> FailureRef<'_, E>,
        P: Fn(&E) -> bool,
        O: Fn(&RetryContext<'_, E>),
        D: Fn(&E) -> String,
    {
        self.decide(result, view, retry_if, on_retry, describe, |last, _| last)
            .await
    }

    /// [`after_attempt_described`](Self::after_attempt_described) inside a stack of policies,
    /// where a rejection can be told: a retry that shutdown cuts short ends with
    /// [`Error::ShuttingDown`] rather than with the last attempt's error. The macros' expansion
    /// and [`Retry::run`](super::Retry::run) call it.
    #[doc(hidden)]
    pub async fn after_attempt_in_stack<T, E, P, O, D>(
        &mut self,
        result: Result<T, crate::Failure<E>>,
        retry_if: P,
        on_retry: O,
        describe: D,
    ) -> ControlFlow<Result<T, crate::Failure<E>>>
    where
        P: Fn(&E) -> bool,
        O: Fn(&RetryContext<'_, E>),
        D: Fn(&E) -> String,
    {
        self.decide(
            result,
            crate::Failure::as_ref,
            retry_if,
            on_retry,
            describe,
            |_, closing| Err(crate::Failure::Policy(closing)),
        )
        .await
    }

    /// The decision after an attempt. A retry that is due is called off when the program is
    /// shutting down, before or during its sleep: `shut` then gives the call's result from the
    /// last attempt's and the [`Error::ShuttingDown`].
    async fn decide<T, X, E, V, P, O, D, S>(
        &mut self,
        result: Result<T, X>,
        view: V,
        retry_if: P,
        on_retry: O,
        describe: D,
        shut: S,
    ) -> ControlFlow<Result<T, X>>
    where
        V: Fn(&X) -> FailureRef<'_, E>,
        P: Fn(&E) -> bool,
        O: Fn(&RetryContext<'_, E>),
        D: Fn(&E) -> String,
        S: FnOnce(Result<T, X>, Error) -> Result<T, X>,
    {
        let error = match &result {
            Ok(_) => {
                self.succeeded();
                return ControlFlow::Break(result);
            }
            Err(error) => error,
        };
        let Some((delay, now)) = self.next_delay(view(error), retry_if, on_retry, describe) else {
            return ControlFlow::Break(result);
        };
        // The last result is kept across the sleep: shutdown may end the call with it.
        let slept = if gate::is_closed() {
            false
        } else if delay.is_zero() {
            true
        } else {
            // The clock read for `elapsed` also sets the deadline: `sleep` would read it again.
            // Boxed: a timer entry is most of a call's future otherwise (it took `#[retry]`'s
            // from 120 to 752 bytes), which every call moves and initialises, while only a call
            // about to sleep before a retry needs it, and then one allocation is nothing
            // beside the sleep.
            Box::pin(gate::unless_closed(
                tokio::time::sleep_until(deadline(now, delay)),
                None,
            ))
            .await
            .is_some()
        };
        if slept {
            return ControlFlow::Continue(());
        }
        let closing = crate::lifecycle::rejection(PolicyKind::Retry, self.policy.name_arc());
        ControlFlow::Break(shut(result, closing))
    }

    /// Decides on a failed attempt: `Some((delay, now))` before the next attempt (counted and
    /// reported), or `None` when the call ends with this failure (counted and reported).
    ///
    /// The clock is read here, once, and only for an attempt that will be retried.
    pub(super) fn next_delay<E>(
        &mut self,
        failure: FailureRef<'_, E>,
        retry_if: impl Fn(&E) -> bool,
        on_retry: impl Fn(&RetryContext<'_, E>),
        describe: impl Fn(&E) -> String,
    ) -> Option<(Duration, Instant)> {
        let policy = self.policy;
        // The settings in force now, not locked: `retry_if`, a custom backoff and `on_retry`
        // are the user's code.
        let config = policy.current();
        let at_least = match classify(failure, retry_if, config.retry_on) {
            Verdict::Retry { at_least } => at_least,
            Verdict::Stop => {
                policy.counters.record_not_retryable();
                self.report_gave_up(failure, &describe);
                return None;
            }
        };
        if self.attempt >= self.max_attempts {
            policy.counters.record_exhausted();
            self.report_gave_up(failure, &describe);
            return None;
        }

        let jittered = config.jitter.apply(
            config.backoff.delay(self.attempt, config.max_delay),
            Duration::from_nanos(self.previous_delay_nanos),
            &config.backoff,
            config.max_delay,
        );
        // Delays are capped by `max_delay`; one beyond 584 years saturates.
        self.previous_delay_nanos = u64::try_from(jittered.as_nanos()).unwrap_or(u64::MAX);
        let delay = jittered.max(at_least);

        let now = Instant::now();
        let elapsed = now.saturating_duration_since(*self.started.get_or_insert(now));
        if let Some(limit) = config.max_elapsed {
            if elapsed.saturating_add(delay) > limit {
                policy.counters.record_exhausted();
                self.report_gave_up(failure, &describe);
                return None;
            }
        }
        if config.budget.is_some() && !self.withdraw() {
            policy.counters.record_exhausted();
            self.report_gave_up(failure, &describe);
            return None;
        }

        policy.counters.record_retry();
        on_retry(&RetryContext::new(self.attempt, delay, elapsed, failure));
        emit(|| Event::RetryAttempt {
            name: policy.name_arc().clone(),
            attempt: self.attempt,
            delay,
            error: describe_failure(failure, &describe),
        });
        self.attempt = self.attempt.saturating_add(1);
        Some((delay, now))
    }

    /// Takes the retry about to be made from the policy's budget; `false` (reported as
    /// [`Event::RetryBudgetExhausted`]) when the budget refuses it.
    fn withdraw(&self) -> bool {
        let Some(budget) = self.policy.budget() else {
            return true;
        };
        if budget.try_withdraw() {
            return true;
        }
        emit(|| Event::RetryBudgetExhausted {
            name: std::sync::Arc::clone(budget.name_arc()),
            policy_kind: PolicyKind::Retry,
            policy: self.policy.name_arc().clone(),
        });
        false
    }

    fn report_gave_up<E>(&self, failure: FailureRef<'_, E>, describe: impl Fn(&E) -> String) {
        emit(|| Event::RetriesExhausted {
            name: self.policy.name_arc().clone(),
            attempts: self.attempt,
            error: describe_failure(failure, describe),
        });
    }
}

/// `now + delay`, saturating as `tokio::time::sleep` does: a delay beyond what an `Instant` can
/// hold sleeps about thirty years.
pub(super) fn deadline(now: Instant, delay: Duration) -> Instant {
    const FAR_FUTURE: Duration = Duration::from_secs(86_400 * 365 * 30);
    now.checked_add(delay)
        .or_else(|| now.checked_add(FAR_FUTURE))
        .unwrap_or(now)
}

/// `retry_if` decides about the operation's own errors, `retry_on` about the rejections of the
/// policies below. A rate limit's `retry_after` is the least sleep before the next attempt,
/// since an earlier one would only be rejected again; an open circuit, when retried, is retried
/// on the schedule (its `retry_after`, the rest of a `reset_timeout`, may be long).
fn classify<E>(
    failure: FailureRef<'_, E>,
    retry_if: impl Fn(&E) -> bool,
    retry_on: RetryOn,
) -> Verdict {
    match failure {
        FailureRef::Operation(error) if retry_if(error) => Verdict::Retry {
            at_least: Duration::ZERO,
        },
        FailureRef::Operation(_) => Verdict::Stop,
        FailureRef::Policy(rejection) if retry_on.retries(rejection) => Verdict::Retry {
            at_least: match rejection {
                Error::RateLimited { retry_after, .. } => *retry_after,
                _ => Duration::ZERO,
            },
        },
        FailureRef::Policy(_) => Verdict::Stop,
    }
}

/// The failure's text for an event: a rejection's `Display`, or `describe`'s text for an
/// operation error.
fn describe_failure<E>(failure: FailureRef<'_, E>, describe: impl Fn(&E) -> String) -> String {
    match failure {
        FailureRef::Operation(error) => describe(error),
        FailureRef::Policy(rejection) => rejection.to_string(),
    }
}

/// An operation error's text when nothing better is known: `after_attempt` has no `Display`
/// bound, so the error is named by its type.
pub(crate) fn type_name_of<E>(_: &E) -> String {
    std::any::type_name::<E>().to_owned()
}
