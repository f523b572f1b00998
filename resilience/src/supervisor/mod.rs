//! Supervision, OTP's way: children started in order and watched; one that ends is restarted
//! by its [`Restart`] type and the [`Strategy`], with the siblings the strategy takes, until
//! restarts come faster than the intensity allows and the supervisor gives up.
//!
//! What the run does, precisely:
//!
//! - Children start in the order they were added, each in a Tokio task of its own; the
//!   factory is called in that task, so a panic anywhere in the child is its crash.
//! - A child that ends and is to be restarted counts one restart (a group restart counts once);
//!   more than `max_restarts` within the period (a restart at `t` counts while
//!   `now - t <= period`) stops every child and `run` returns [`SupervisorError::GaveUp`].
//! - The children a restart takes other than the one that ended are stopped the last added
//!   first, each asked through [`Supervisor::stop_requested`] and aborted after its shutdown
//!   timeout; then they are started again in order, after the backoff's delay if one is set.
//!   A temporary child among them is not started again. A child that had ended without being
//!   restarted (a transient one that returned `Ok`) is started again by a group restart, as in
//!   OTP.
//! - `run` returns `Ok(())` once no child runs or waits for a restart.
//! - A supervisor run as a child of another stops its own children in reverse order and
//!   returns `Ok(())` when its parent stops it; when it gives up, its `Err` is that child's
//!   crash, and the parent decides (escalation).
//! - Dropping the `run` future aborts every child it runs.
//! - Each restart is recorded in the [`HealthMonitor`](crate::HealthMonitor) of the supervisor's
//!   name and sent as [`Event::ChildRestarted`](crate::Event::ChildRestarted); giving up is
//!   [`Event::SupervisorGaveUp`](crate::Event::SupervisorGaveUp), makes the registry's health
//!   unhealthy and [`live`](crate::Registry::live) false until the supervisor runs again.

mod builder;
mod child;
mod error;
mod intensity;
mod run;
mod stats;
mod strategy;

#[cfg(test)]
mod model_tests;
#[cfg(test)]
mod test_child;
#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::Duration;

pub use builder::SupervisorBuilder;
pub use child::{ChildSpec, Restart};
pub use error::SupervisorError;
pub(crate) use stats::SupervisorState;
pub use stats::SupervisorStats;
pub use strategy::Strategy;

use crate::{Backoff, HealthMonitor, Jitter};

/// Runs async children and restarts them when they end, by OTP's rules (see the
/// [module](self) docs for the rules in full).
///
/// ```
/// use resilience::{ChildSpec, Restart, Strategy, Supervisor, SupervisorError};
/// use std::sync::atomic::{AtomicU32, Ordering};
/// use std::sync::Arc;
/// use std::time::Duration;
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let starts = Arc::new(AtomicU32::new(0));
/// let counted = Arc::clone(&starts);
/// let supervisor = Supervisor::builder("doc-pool")
///     .strategy(Strategy::OneForOne)
///     .intensity(3, Duration::from_secs(5))
///     .child(
///         ChildSpec::new("worker", move || {
///             counted.fetch_add(1, Ordering::Relaxed);
///             async { Err::<(), _>("connection lost") }
///         })
///         .restart(Restart::Transient),
///     )
///     .build()?;
///
/// let Err(SupervisorError::GaveUp { child, restarts, .. }) = supervisor.run().await else {
///     panic!("a worker that always fails wears the supervisor out");
/// };
/// assert_eq!(&*child, "worker");
/// assert_eq!(restarts, 4);
/// assert_eq!(starts.load(Ordering::Relaxed), 4, "the first start and 3 restarts");
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct Supervisor {
    name: Arc<str>,
    strategy: Strategy,
    max_restarts: u32,
    period: Duration,
    children: Vec<ChildSpec>,
    backoff: Backoff,
    max_delay: Duration,
    jitter: Jitter,
    state: Arc<SupervisorState>,
    monitor: Arc<HealthMonitor>,
}

impl Supervisor {
    /// A builder for a supervisor named `name`: [`Strategy::OneForOne`], at most 3 restarts
    /// in 5 s, no backoff, no children yet.
    pub fn builder(name: impl Into<Arc<str>>) -> SupervisorBuilder {
        SupervisorBuilder::new(name.into())
    }

    /// Starts the children and supervises them until none runs or waits for a restart
    /// (`Ok(())`), or until it gives up. It may be run again once it returned (a nested
    /// supervisor's factory calls it for each start), each time with fresh children and a
    /// fresh restart count.
    ///
    /// # Errors
    ///
    /// [`SupervisorError::GaveUp`] when restarts came faster than the intensity allows; every
    /// child was stopped first.
    pub async fn run(&self) -> Result<(), SupervisorError> {
        run::Run::new(self).run().await
    }

    /// Completes when the supervisor running the current task's child asks it to stop; never
    /// completes outside a supervised child. A child that wants to stop cleanly awaits it beside
    /// its work (in `tokio::select!`) and returns; one that does not is aborted after its
    /// shutdown timeout.
    ///
    /// ```
    /// use resilience::{ChildSpec, Supervisor};
    ///
    /// let child = ChildSpec::new("ticker", || async {
    ///     loop {
    ///         tokio::select! {
    ///             _ = Supervisor::stop_requested() => return Ok::<(), std::io::Error>(()),
    ///             _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => { /* tick */ }
    ///         }
    ///     }
    /// });
    /// # let _ = child;
    /// ```
    pub async fn stop_requested() {
        match run::STOP.try_with(Clone::clone) {
            Ok(mut stop) => {
                if stop.wait_for(|stop| *stop).await.is_ok() {
                    return;
                }
                std::future::pending::<()>().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    }

    /// The supervisor's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its strategy.
    pub fn strategy(&self) -> Strategy {
        self.strategy
    }

    /// Its children's specifications, in start order.
    pub fn children(&self) -> &[ChildSpec] {
        &self.children
    }

    /// Its live counters, as the registry shows them.
    pub fn stats(&self) -> SupervisorStats {
        self.state.stats()
    }
}
