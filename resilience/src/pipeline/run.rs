//! One call's way through a pipeline's retry: the loop `Pipeline::execute` and `#[resilient]`
//! drive alike.

use std::ops::ControlFlow;

use crate::{Failure, Retry, RetryContext, RetryRun};

/// One call's retry loop state when the pipeline has a retry; a single attempt when it has none.
///
/// Drive it as `#[retry]` drives a [`RetryRun`]: run an attempt through
/// [`PipelineMembers::attempt`](super::PipelineMembers::attempt), hand its result to
/// [`after_attempt`](Self::after_attempt), stop on `Break`. Not a public API: what `Pipeline`
/// and `#[resilient]` share.
#[doc(hidden)]
#[derive(Debug)]
#[must_use = "a pipeline run does nothing until its attempts are reported to `after_attempt`"]
pub struct PipelineRun<'a> {
    retry: Option<RetryRun<'a>>,
}

impl<'a> PipelineRun<'a> {
    #[inline]
    pub(super) fn new(retry: Option<&'a Retry>) -> Self {
        PipelineRun {
            retry: retry.map(Retry::begin),
        }
    }

    /// Whether the attempt about to run is the last: always, without a retry. `#[resilient]`
    /// moves owned arguments into the last attempt instead of cloning them.
    #[inline]
    pub fn is_last_attempt(&self) -> bool {
        self.retry.as_ref().map_or(true, RetryRun::is_last_attempt)
    }

    /// Counts a successful attempt (the synchronous part of `after_attempt` for an `Ok`).
    #[inline]
    pub fn succeeded(&self) {
        if let Some(run) = &self.retry {
            run.succeeded();
        }
    }

    /// Reports an attempt's result: `Break(result)` when the call is done, or `Continue(())`
    /// after the retry's sleep when another attempt is due. The retry decides as `#[retry]` with
    /// its defaults does: every error of the operation is retried, a rejection by a layer below
    /// as the retry's `retry_on` says (a rate limit no sooner than its `retry_after`, an open
    /// circuit not by default). `describe` gives an operation error's text for the events.
    pub async fn after_attempt<T, E, D>(
        &mut self,
        result: Result<T, Failure<E>>,
        describe: D,
    ) -> ControlFlow<Result<T, Failure<E>>>
    where
        D: Fn(&E) -> String,
    {
        match &mut self.retry {
            None => ControlFlow::Break(result),
            Some(run) => {
                run.after_attempt_described(
                    result,
                    Failure::as_ref,
                    |_: &E| true,
                    |_: &RetryContext<'_, E>| {},
                    describe,
                )
                .await
            }
        }
    }
}
