//! Building a supervisor: strategy, intensity, backoff, children.

use std::sync::Arc;
use std::time::Duration;

use super::stats::SupervisorState;
use super::{ChildSpec, Strategy, Supervisor};
use crate::{registry, Backoff, ConfigError, HealthMonitor, Jitter};

/// The restarts allowed within [`DEFAULT_PERIOD`] by default (OTP's 3 in 5 s).
pub(crate) const DEFAULT_MAX_RESTARTS: u32 = 3;
/// The period restarts are counted over by default.
pub(crate) const DEFAULT_PERIOD: Duration = Duration::from_secs(5);
/// The longest delay between restarts by default when a backoff is set.
pub(crate) const DEFAULT_MAX_DELAY: Duration = Duration::from_secs(30);

/// Builds a [`Supervisor`]; from [`Supervisor::builder`].
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct SupervisorBuilder {
    name: Arc<str>,
    strategy: Strategy,
    max_restarts: u32,
    period: Duration,
    children: Vec<ChildSpec>,
    backoff: Backoff,
    max_delay: Duration,
    jitter: Jitter,
}

impl SupervisorBuilder {
    pub(crate) fn new(name: Arc<str>) -> Self {
        SupervisorBuilder {
            name,
            strategy: Strategy::OneForOne,
            max_restarts: DEFAULT_MAX_RESTARTS,
            period: DEFAULT_PERIOD,
            children: Vec::new(),
            backoff: Backoff::None,
            max_delay: DEFAULT_MAX_DELAY,
            jitter: Jitter::None,
        }
    }

    /// Which children a restart takes; [`Strategy::OneForOne`] by default.
    pub fn strategy(mut self, strategy: Strategy) -> Self {
        self.strategy = strategy;
        self
    }

    /// At most `max_restarts` restarts within `period` (3 in 5 s by default): the one more
    /// stops every child and ends the run with
    /// [`SupervisorError::GaveUp`](crate::SupervisorError::GaveUp). Zero gives up on the first
    /// restart asked for.
    pub fn intensity(mut self, max_restarts: u32, period: Duration) -> Self {
        self.max_restarts = max_restarts;
        self.period = period;
        self
    }

    /// Waits between a child's end and its restart, the delay growing with the restarts made
    /// within the period (the first restart after a quiet period waits the backoff's first
    /// delay). None by default, as in OTP. The children a restart takes are stopped at once
    /// and started after the delay.
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// The longest delay the backoff gives (30 s by default).
    pub fn max_delay(mut self, max_delay: Duration) -> Self {
        self.max_delay = max_delay;
        self
    }

    /// Randomizes the backoff's delays, as for [`Retry`](crate::Retry); none by default.
    pub fn jitter(mut self, jitter: Jitter) -> Self {
        self.jitter = jitter;
        self
    }

    /// Adds a child, started after those added before it and stopped before them.
    pub fn child(mut self, child: ChildSpec) -> Self {
        self.children.push(child);
        self
    }

    /// Checks the settings, registers the supervisor in the [`registry`](crate::registry())
    /// (replacing one of the same name) with a [`HealthMonitor`] of its name that each restart
    /// feeds, and returns it, not yet running.
    ///
    /// # Errors
    ///
    /// [`ConfigError::OutOfRange`] naming the key: `"name"` blank, `"period"` zero, `"child"`
    /// for two children of the same name, `"factor"` not above 1, `"delays"` empty,
    /// `"jitter"` outside `0 < f <= 1`; or the monitor's own error when a monitor of that name
    /// exists with settings it cannot take.
    pub fn build(self) -> Result<Supervisor, ConfigError> {
        ConfigError::check_name(&self.name)?;
        if self.period.is_zero() {
            return Err(out_of_range("period", "0s".to_owned(), "longer than zero"));
        }
        for (i, child) in self.children.iter().enumerate() {
            if self.children[..i].iter().any(|c| c.name == child.name) {
                return Err(out_of_range(
                    "child",
                    child.name.to_string(),
                    "a name no other child of the supervisor has",
                ));
            }
        }
        match &self.backoff {
            Backoff::Exponential { factor, .. } if !(factor.is_finite() && *factor > 1.0) => {
                return Err(out_of_range(
                    "factor",
                    factor.to_string(),
                    "a finite number greater than 1",
                ));
            }
            Backoff::Schedule(delays) if delays.is_empty() => {
                return Err(out_of_range(
                    "delays",
                    "[]".to_owned(),
                    "at least one delay",
                ));
            }
            _ => {}
        }
        if let Jitter::Proportional(fraction) = self.jitter {
            if !(fraction > 0.0 && fraction <= 1.0) {
                return Err(out_of_range(
                    "jitter",
                    fraction.to_string(),
                    "a fraction with 0 < f <= 1",
                ));
            }
        }
        // The monitor goes unhealthy past the same rate of restarts as the supervisor allows.
        let monitor = registry().health_monitor_or_register(
            HealthMonitor::builder(Arc::clone(&self.name))
                .max_crashes(self.max_restarts.clamp(1, 100_000))
                .window(self.period),
        )?;
        let state = Arc::new(SupervisorState::new(
            Arc::clone(&self.name),
            self.strategy,
            self.max_restarts,
            self.period,
            self.children.len(),
        ));
        registry().register_supervisor(Arc::clone(&state));
        Ok(Supervisor {
            name: self.name,
            strategy: self.strategy,
            max_restarts: self.max_restarts,
            period: self.period,
            children: self.children,
            backoff: self.backoff,
            max_delay: self.max_delay,
            jitter: self.jitter,
            state,
            monitor,
        })
    }
}

fn out_of_range(key: &'static str, value: String, allowed: &'static str) -> ConfigError {
    ConfigError::OutOfRange {
        key,
        value,
        allowed,
    }
}
