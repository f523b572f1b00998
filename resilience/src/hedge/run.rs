//! One hedged call: the attempts running, the timer for the next, the primary's error.

use std::future::{poll_fn, Future};
use std::pin::{pin, Pin};
use std::task::Poll;

use tokio::time::{sleep, Instant};

use super::Hedge;

/// [`Hedge::call`]'s body. The first attempt and the timer live in the call's own future; extra
/// attempts are boxed as they start, so a call that finishes before the delay allocates
/// nothing.
pub(super) async fn hedged<T, E, F, Fut>(hedge: &Hedge, mut operation: F) -> Result<T, E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    hedge.begin();
    let delay = hedge.config.delay;
    let max_hedged = hedge.config.max_hedged;
    let mut primary = pin!(operation());
    let mut primary_running = true;
    let mut primary_error: Option<E> = None;
    let mut others: Vec<Pin<Box<Fut>>> = Vec::new();
    // Attempts started, the first included.
    let mut started: u32 = 1;
    let mut timer = pin!(sleep(delay));
    let mut hedging = max_hedged > 0;
    poll_fn(|cx| loop {
        if primary_running {
            if let Poll::Ready(result) = primary.as_mut().poll(cx) {
                primary_running = false;
                match result {
                    Ok(value) => return Poll::Ready(Ok(value)),
                    Err(error) => primary_error = Some(error),
                }
            }
        }
        let mut i = 0;
        while i < others.len() {
            match others[i].as_mut().poll(cx) {
                Poll::Ready(Ok(value)) => {
                    hedge.won_by_hedge();
                    return Poll::Ready(Ok(value));
                }
                // Dropped at once; the primary's error is the one a failed call returns.
                Poll::Ready(Err(_)) => drop(others.swap_remove(i)),
                Poll::Pending => i += 1,
            }
        }
        if !primary_running && others.is_empty() {
            // Every attempt failed. The primary failed first or along the way, so its error is
            // there; `Pending` (never reached) keeps this total.
            return match primary_error.take() {
                Some(error) => Poll::Ready(Err(error)),
                None => Poll::Pending,
            };
        }
        if !hedging || timer.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        // Still running at the timer: another attempt beside the others, if allowed. A program
        // shutting down starts no new attempt; those running finish.
        let attempt = started.saturating_add(1);
        if !crate::lifecycle::gate::is_closed() && hedge.may_hedge(attempt) {
            started = attempt;
            others.push(Box::pin(operation()));
            hedging = started <= max_hedged;
            if hedging {
                timer.as_mut().reset(Instant::now() + delay);
            }
        } else {
            hedging = false;
        }
        // Poll the new attempt (and the timer) at once.
    })
    .await
}
