//! What health says: one status, and each contributor's status with why.

use std::fmt;

/// How healthy the program is, worst contributor first: a closed set, so that a probe never sees
/// a status it does not know.
///
/// `Degraded` is still ready: an open breaker means a dependency is failing and the program is
/// coping (failing fast, serving fallbacks), not that it should be taken out of a load balancer.
/// Only what the program cannot cope with is `Unhealthy`.
///
/// ```
/// use resilience::HealthStatus;
///
/// assert!(HealthStatus::Healthy < HealthStatus::Degraded);
/// assert_eq!(HealthStatus::Unhealthy.to_string(), "unhealthy");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize),
    serde(rename_all = "snake_case")
)]
pub enum HealthStatus {
    /// Everything works.
    #[default]
    Healthy,
    /// Something fails and is being coped with: still ready.
    Degraded,
    /// Something the program cannot cope with: not ready.
    Unhealthy,
}

impl HealthStatus {
    /// `"healthy"`, `"degraded"` or `"unhealthy"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            HealthStatus::Healthy => "healthy",
            HealthStatus::Degraded => "degraded",
            HealthStatus::Unhealthy => "unhealthy",
        }
    }

    /// The value of the `resilience_health_status` gauge: 0, 1 or 2.
    pub(crate) const fn level(self) -> u8 {
        match self {
            HealthStatus::Healthy => 0,
            HealthStatus::Degraded => 1,
            HealthStatus::Unhealthy => 2,
        }
    }

    pub(crate) const fn from_level(level: u8) -> Self {
        match level {
            0 => HealthStatus::Healthy,
            1 => HealthStatus::Degraded,
            _ => HealthStatus::Unhealthy,
        }
    }
}

impl fmt::Display for HealthStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a [`HealthCheck`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize),
    serde(rename_all = "snake_case")
)]
#[non_exhaustive]
pub enum Contributor {
    /// A circuit breaker: open or half-open is degraded, unhealthy if it is `critical`.
    CircuitBreaker,
    /// A bulkhead: every slot and its whole queue taken is degraded.
    Bulkhead,
    /// A [`HealthMonitor`](crate::HealthMonitor): over its crash limit is unhealthy.
    HealthMonitor,
    /// A composite called by name that nothing defines: it runs unprotected, degraded.
    Composite,
    /// A check added with [`Registry::add_check`](crate::Registry::add_check): failing is
    /// unhealthy, or degraded for a non-critical one.
    Check,
    /// The configuration: a refused one is unhealthy.
    Config,
    /// A [`Supervisor`](crate::Supervisor) that gave up: unhealthy.
    Supervisor,
    /// The program's lifecycle: shutting down is unhealthy (and not live).
    Lifecycle,
    /// The registry's [`SharedStore`](crate::SharedStore): failing to answer is degraded
    /// (shared policies then run on their local state).
    Store,
}

impl Contributor {
    /// `"circuit_breaker"`, `"bulkhead"`, `"health_monitor"`, `"composite"`, `"check"`,
    /// `"config"`, `"supervisor"`, `"lifecycle"`, `"store"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Contributor::CircuitBreaker => "circuit_breaker",
            Contributor::Bulkhead => "bulkhead",
            Contributor::HealthMonitor => "health_monitor",
            Contributor::Composite => "composite",
            Contributor::Check => "check",
            Contributor::Config => "config",
            Contributor::Supervisor => "supervisor",
            Contributor::Lifecycle => "lifecycle",
            Contributor::Store => "store",
        }
    }
}

impl fmt::Display for Contributor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One contributor to a [`HealthReport`]: what it is, its status, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct HealthCheck {
    /// What kind of contributor.
    pub contributor: Contributor,
    /// Its name: the policy's, the check's, or the configuration file's.
    pub name: String,
    /// Its status.
    pub status: HealthStatus,
    /// Why, in words: `"open; half-open in 12s"`, `"timed out after 1s"`, `"ok"`.
    pub detail: String,
}

/// The program's health: the worst status of its contributors, and each contributor.
///
/// `Display` prints the status, then one line per contributor that is not healthy.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct HealthReport {
    /// The worst of the contributors' statuses (healthy when there are none).
    pub status: HealthStatus,
    /// Every contributor, the worst first, then by kind and name.
    pub checks: Vec<HealthCheck>,
}

impl HealthReport {
    /// A report of these contributors, sorted, with the worst status.
    pub(crate) fn of(mut checks: Vec<HealthCheck>) -> Self {
        checks.sort_by(|a, b| {
            b.status
                .cmp(&a.status)
                .then(a.contributor.cmp(&b.contributor))
                .then_with(|| a.name.cmp(&b.name))
        });
        HealthReport {
            status: checks
                .iter()
                .map(|check| check.status)
                .max()
                .unwrap_or_default(),
            checks,
        }
    }

    /// Whether a readiness probe passes: the status is not [`HealthStatus::Unhealthy`].
    pub fn ready(&self) -> bool {
        self.status != HealthStatus::Unhealthy
    }

    /// The contributors that are not healthy.
    pub fn problems(&self) -> impl Iterator<Item = &HealthCheck> {
        self.checks
            .iter()
            .filter(|check| check.status != HealthStatus::Healthy)
    }
}

impl fmt::Display for HealthReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "health: {}", self.status)?;
        for check in self.problems() {
            write!(
                f,
                "\n  {} {} `{}`: {}",
                check.status, check.contributor, check.name, check.detail
            )?;
        }
        Ok(())
    }
}
