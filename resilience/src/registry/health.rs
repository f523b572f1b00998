//! The registry's health: every policy's contribution, the configuration's, and the user's
//! checks, folded into one status.

use std::future::Future;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::Registry;
use crate::events::{self, Event};
use crate::health::{CheckHandle, Contributor, HealthCheck, HealthReport, HealthStatus};
use crate::CircuitState;

impl Registry {
    /// Adds a health check (or replaces the one of that name): an async closure run by each
    /// [`health`](Self::health) in a task of its own, which fails when it returns an error,
    /// panics, or runs past `timeout`. A failing check makes health unhealthy; one marked
    /// [`non_critical`](CheckHandle::non_critical), degraded.
    ///
    /// ```
    /// use resilience::{registry, HealthStatus};
    /// use std::time::Duration;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// registry().add_check("doc-database", Duration::from_millis(100), || async {
    ///     Err::<(), _>("connection refused")
    /// });
    /// let report = registry().health().await;
    /// let check = report.checks.iter().find(|c| c.name == "doc-database").unwrap();
    /// assert_eq!(check.status, HealthStatus::Unhealthy);
    /// assert_eq!(check.detail, "failed: connection refused");
    /// assert!(!report.ready());
    /// # registry().remove_check("doc-database");
    /// # }
    /// ```
    pub fn add_check<F, Fut, E>(
        &self,
        name: impl Into<String>,
        timeout: Duration,
        check: F,
    ) -> CheckHandle
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: std::fmt::Display + 'static,
    {
        self.checks.add(name.into(), timeout, check)
    }

    /// Removes the check named `name`; returns whether there was one.
    pub fn remove_check(&self, name: &str) -> bool {
        self.checks.remove(name)
    }

    /// The names of the checks added.
    pub fn check_names(&self) -> Vec<String> {
        self.checks.names()
    }

    /// The program's health: the user's checks, run now (at once, each within its timeout),
    /// and every policy's and the configuration's state, folded into the worst status:
    ///
    /// | contributor | degraded | unhealthy |
    /// |---|---|---|
    /// | circuit breaker | open or half-open | the same, for a `critical` breaker |
    /// | bulkhead | every slot and its whole queue taken | |
    /// | health monitor | | over its crash limit |
    /// | composite | called by name, defined nowhere (runs unprotected) | |
    /// | check | a non-critical one failed | a critical one failed, panicked or timed out |
    /// | configuration | | the last one offered was refused |
    /// | supervisor | | gave up |
    /// | lifecycle | | shutting down |
    /// | store | failing to answer (shared policies run locally) | |
    ///
    /// Sends [`Event::HealthChanged`] when the status differs from the last one computed.
    pub async fn health(&self) -> HealthReport {
        let mut checks = self.policy_health();
        checks.extend(self.checks.run().await);
        let report = HealthReport::of(checks);
        self.note_health(report.status);
        report
    }

    /// Readiness: health is not [`HealthStatus::Unhealthy`]. Runs the checks.
    pub async fn ready(&self) -> bool {
        self.health().await.ready()
    }

    /// Liveness: whether the program should be restarted. Only a program shutting down (see
    /// [`shutdown`](Self::shutdown)) or a [`Supervisor`](crate::Supervisor) that gave up (until
    /// it runs again) is not live: an open breaker or a failing dependency is never a reason to
    /// restart.
    pub fn live(&self) -> bool {
        !self.is_shutting_down() && self.supervisors_gave_up().is_empty()
    }

    /// Every contributor but the user's checks, without running anything: what the snapshot
    /// shows.
    pub fn health_now(&self) -> HealthReport {
        HealthReport::of(self.policy_health())
    }

    fn policy_health(&self) -> Vec<HealthCheck> {
        let mut checks = Vec::new();
        if self.is_shutting_down() {
            checks.push(HealthCheck {
                contributor: Contributor::Lifecycle,
                name: "shutdown".to_owned(),
                status: HealthStatus::Unhealthy,
                detail: "shutting down".to_owned(),
            });
        }
        for (name, entry) in self.circuit_breakers.read().iter() {
            let breaker = &entry.policy;
            let critical = breaker.is_critical();
            let state = breaker.state();
            let status = match (state, critical) {
                (CircuitState::Closed, _) => HealthStatus::Healthy,
                (_, true) => HealthStatus::Unhealthy,
                (_, false) => HealthStatus::Degraded,
            };
            let critical_note = if critical { " (critical)" } else { "" };
            checks.push(HealthCheck {
                contributor: Contributor::CircuitBreaker,
                name: name.to_string(),
                status,
                detail: format!("{state}{critical_note}"),
            });
        }
        for (name, entry) in self.bulkheads.read().iter() {
            let stats = entry.policy.stats();
            let queue = entry.policy.config().queue;
            let full = stats.in_flight >= stats.max_concurrent && stats.queued >= queue;
            checks.push(HealthCheck {
                contributor: Contributor::Bulkhead,
                name: name.to_string(),
                status: if full {
                    HealthStatus::Degraded
                } else {
                    HealthStatus::Healthy
                },
                detail: format!(
                    "{}{}/{} in flight, {}/{queue} queued",
                    if full { "full: " } else { "" },
                    stats.in_flight,
                    stats.max_concurrent,
                    stats.queued
                ),
            });
        }
        for monitor in self.health_monitors() {
            let stats = monitor.stats();
            checks.push(HealthCheck {
                contributor: Contributor::HealthMonitor,
                name: monitor.name().to_owned(),
                status: if stats.healthy {
                    HealthStatus::Healthy
                } else {
                    HealthStatus::Unhealthy
                },
                detail: format!(
                    "{} crash(es) in the window, at most {}",
                    stats.crashes_in_window,
                    monitor.max_crashes()
                ),
            });
        }
        for name in self.missing_pipelines() {
            checks.push(HealthCheck {
                contributor: Contributor::Composite,
                name: name.to_string(),
                status: HealthStatus::Degraded,
                detail: "called by name, defined nowhere: its calls run unprotected".to_owned(),
            });
        }
        for name in self.supervisors_gave_up() {
            checks.push(HealthCheck {
                contributor: Contributor::Supervisor,
                name: name.to_string(),
                status: HealthStatus::Unhealthy,
                detail: "gave up: its children restarted more often than it allows".to_owned(),
            });
        }
        if let Some(store) = self.store_handle() {
            checks.push(store.health());
        }
        let config = self.config();
        match (self.config_error(), config.file()) {
            (Some(error), _) => checks.push(HealthCheck {
                contributor: Contributor::Config,
                name: "config".to_owned(),
                status: HealthStatus::Unhealthy,
                detail: format!("refused, the one before stays in force: {error}"),
            }),
            (None, Some(file)) => checks.push(HealthCheck {
                contributor: Contributor::Config,
                name: "config".to_owned(),
                status: HealthStatus::Healthy,
                detail: format!("{} applied", file.display()),
            }),
            (None, None) => {}
        }
        checks
    }

    /// Keeps the status, and says so when it changed.
    fn note_health(&self, to: HealthStatus) {
        crate::metrics::record_health(to);
        let from = HealthStatus::from_level(self.last_health.swap(to.level(), Ordering::Relaxed));
        if from != to {
            events::emit(|| Event::HealthChanged { from, to });
        }
    }
}
