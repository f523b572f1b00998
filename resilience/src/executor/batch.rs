//! Many futures run as one: a bounded number in flight, per-task and overall timeouts, results
//! in input order.

use std::future::{poll_fn, Future};
use std::pin::pin;
use std::task::Poll;
use std::time::Duration;

use crate::ConfigError;

/// How [`batch`] runs its futures. The default runs them all at once, with no timeout.
///
/// ```
/// use resilience::BatchOptions;
/// use std::time::Duration;
///
/// let options = BatchOptions {
///     max_concurrency: 4,
///     per_task_timeout: Some(Duration::from_secs(2)),
///     ..BatchOptions::default()
/// };
/// assert_eq!(options.timeout, None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchOptions {
    /// Futures in flight at once, at least 1 (`usize::MAX`, the default: all of them). The
    /// others wait, in input order, for one to finish.
    pub max_concurrency: usize,
    /// A limit on the whole batch, counted from its first poll: at the deadline the futures
    /// still running are dropped and those not started never start; each reports
    /// [`BatchError::DeadlineExceeded`]. Non-zero.
    pub timeout: Option<Duration>,
    /// A limit on each future, counted from when it starts: past it the future is dropped and
    /// reports [`BatchError::Timeout`]; the others go on. Non-zero.
    pub per_task_timeout: Option<Duration>,
}

impl Default for BatchOptions {
    fn default() -> Self {
        BatchOptions {
            max_concurrency: usize::MAX,
            timeout: None,
            per_task_timeout: None,
        }
    }
}

impl BatchOptions {
    /// Checks the options: a `max_concurrency` of 0 would never start a future, and a zero
    /// timeout would drop every future that is not ready at once.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.max_concurrency == 0 {
            return Err(ConfigError::OutOfRange {
                key: "max_concurrency",
                value: "0".to_owned(),
                allowed: "at least 1",
            });
        }
        for (key, limit) in [
            ("timeout", self.timeout),
            ("per_task_timeout", self.per_task_timeout),
        ] {
            if limit == Some(Duration::ZERO) {
                return Err(ConfigError::OutOfRange {
                    key,
                    value: "0s".to_owned(),
                    allowed: "a duration above zero",
                });
            }
        }
        Ok(())
    }
}

/// Why one future of a [`batch`] has no value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BatchError<E> {
    /// The future finished with its own error.
    #[error("the task failed")]
    Failed(#[source] E),
    /// The future ran past [`BatchOptions::per_task_timeout`] and was dropped.
    #[error("the task did not finish within {after:?}")]
    Timeout {
        /// The per-task limit.
        after: Duration,
    },
    /// The batch ran past [`BatchOptions::timeout`] before this future finished: it was
    /// dropped (`started`) or never started.
    #[error("the batch did not finish within {after:?}")]
    DeadlineExceeded {
        /// The batch's limit.
        after: Duration,
        /// Whether the future had started.
        started: bool,
    },
    /// The program began [shutting down](crate::Registry::shutdown) before this future could
    /// start: it never started. The futures already running when it began run to their end.
    #[error("the program is shutting down: the task never started")]
    ShuttingDown,
}

/// Runs `futures` with at most [`max_concurrency`](BatchOptions::max_concurrency) in flight and
/// returns each one's result **in input order**, or the options' error when they are invalid
/// (see [`BatchOptions::validate`]).
///
/// A future past its [`per_task_timeout`](BatchOptions::per_task_timeout) is dropped and reports
/// [`BatchError::Timeout`]; the rest still complete. Past the batch's
/// [`timeout`](BatchOptions::timeout) every unfinished future reports
/// [`BatchError::DeadlineExceeded`].
///
/// Nothing is spawned: the batch drives its futures itself, inside the future `batch` returns,
/// so they need not be `'static` or `Send` (the batch is `Send` when they are) and **dropping
/// the batch drops every future**, running or not. The iterator is read lazily: a future is made
/// only when a place in flight is free for it (past the overall deadline, the rest are made
/// and dropped unpolled). Each wake-up polls every future in flight, so keep
/// `max_concurrency` in the tens or hundreds, not the millions.
///
/// ```
/// use resilience::{batch, BatchError, BatchOptions};
/// use std::time::Duration;
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let fetch = |ms: u64| async move {
///     tokio::time::sleep(Duration::from_millis(ms)).await;
///     if ms == 20 { Err("not found") } else { Ok(ms) }
/// };
/// let options = BatchOptions {
///     max_concurrency: 2,
///     per_task_timeout: Some(Duration::from_millis(100)),
///     ..BatchOptions::default()
/// };
/// let results = batch([30, 500, 20, 10].map(fetch), options).await.unwrap();
/// assert_eq!(results[0], Ok(30));
/// assert_eq!(results[1], Err(BatchError::Timeout { after: Duration::from_millis(100) }));
/// assert_eq!(results[2], Err(BatchError::Failed("not found")));
/// assert_eq!(results[3], Ok(10));
/// # }
/// ```
pub async fn batch<I, Fut, T, E>(
    futures: I,
    options: BatchOptions,
) -> Result<Vec<Result<T, BatchError<E>>>, ConfigError>
where
    I: IntoIterator<Item = Fut>,
    Fut: Future<Output = Result<T, E>>,
{
    options.validate()?;
    let mut pending = futures.into_iter().enumerate();
    let mut exhausted = false;
    let mut results: Vec<Option<Result<T, BatchError<E>>>> = Vec::new();
    let mut in_flight = Vec::new();
    let mut deadline = pin!(options.timeout.map(tokio::time::sleep));
    // A shutdown stops the batch from starting more: the futures waiting for a place end at
    // once, as callers queued in a bulkhead do.
    let mut closing = pin!(crate::lifecycle::gate::global_closed());
    let mut shut = false;

    let finished = poll_fn(|cx| {
        loop {
            if !exhausted && closing.as_mut().poll(cx).is_ready() {
                (exhausted, shut) = (true, true);
            }
            while !exhausted && in_flight.len() < options.max_concurrency {
                match pending.next() {
                    Some((index, fut)) => {
                        results.push(None);
                        in_flight.push((index, Box::pin(task(fut, options.per_task_timeout))));
                    }
                    None => exhausted = true,
                }
            }
            let before = in_flight.len();
            in_flight.retain_mut(|(index, task)| match task.as_mut().poll(cx) {
                Poll::Ready(result) => {
                    if let Some(slot) = results.get_mut(*index) {
                        *slot = Some(result);
                    }
                    false
                }
                Poll::Pending => true,
            });
            if exhausted && in_flight.is_empty() {
                return Poll::Ready(true);
            }
            // Another round only when a place was freed, to start the next futures.
            if in_flight.len() == before {
                break;
            }
        }
        // The futures go first, so a round that finishes the batch wins over its deadline.
        match deadline.as_mut().as_pin_mut() {
            Some(sleep) => sleep.poll(cx).map(|()| false),
            None => Poll::Pending,
        }
    })
    .await;

    // The futures still running are dropped before they are reported.
    in_flight.clear();
    Ok(match options.timeout {
        Some(after) if !finished => cut_short(results, pending, after),
        _ if shut => collect(results)
            .into_iter()
            .chain(pending.map(|_| Err(BatchError::ShuttingDown)))
            .collect(),
        _ => collect(results),
    })
}

/// One future of the batch, under its own timeout if it has one.
async fn task<T, E, Fut>(fut: Fut, limit: Option<Duration>) -> Result<T, BatchError<E>>
where
    Fut: Future<Output = Result<T, E>>,
{
    let finished = match limit {
        None => fut.await,
        Some(after) => match tokio::time::timeout(after, fut).await {
            Ok(result) => result,
            Err(_elapsed) => return Err(BatchError::Timeout { after }),
        },
    };
    finished.map_err(BatchError::Failed)
}

/// The results of a batch that finished: every future has one.
fn collect<T, E>(results: Vec<Option<Result<T, BatchError<E>>>>) -> Vec<Result<T, BatchError<E>>> {
    // `flatten` would shift the later results if one were missing, which cannot happen: a
    // finished batch has polled every future to its end.
    results
        .into_iter()
        .map(|slot| {
            slot.unwrap_or(Err(BatchError::DeadlineExceeded {
                after: Duration::ZERO,
                started: true,
            }))
        })
        .collect()
}

/// The results of a batch cut short by its deadline: the futures that finished keep their
/// result, those still running and those not started report the deadline.
fn cut_short<T, E, Fut>(
    results: Vec<Option<Result<T, BatchError<E>>>>,
    pending: impl Iterator<Item = (usize, Fut)>,
    after: Duration,
) -> Vec<Result<T, BatchError<E>>> {
    let started = results.into_iter().map(|slot| {
        slot.unwrap_or(Err(BatchError::DeadlineExceeded {
            after,
            started: true,
        }))
    });
    let not_started = pending.map(|_| {
        Err(BatchError::DeadlineExceeded {
            after,
            started: false,
        })
    });
    started.chain(not_started).collect()
}
