//! Snapshots of the registry: plain values, printable as a table.

use std::fmt;

use super::{Entry, PolicyKind, RegisteredPolicy};
use crate::Source;
use crate::{
    BulkheadStats, CircuitBreakerStats, FallbackStats, HealthMonitorStats, PipelineStats,
    RateLimiterStats, RetryStats, TimeoutStats,
};

/// Every registered policy at one moment; `Display` prints an aligned table, one row a policy,
/// then the health the policies and the configuration make (the [`HealthReport`](crate::HealthReport)
/// line, and one line per contributor that is not healthy).
///
/// ```
/// use resilience::{registry, Bulkhead};
///
/// registry()
///     .bulkhead_or_register(Bulkhead::builder("doc-snapshot").max_concurrent(4))
///     .unwrap();
/// let snapshot = registry().snapshot();
/// assert!(snapshot.policies().iter().any(|p| p.name() == "doc-snapshot"));
/// let table = snapshot.to_string();
/// assert!(table.contains("doc-snapshot"));
/// assert!(table.lines().next().unwrap().starts_with("KIND"));
/// ```
///
/// # JSON (feature `serde`)
///
/// Every snapshot type is `Serialize`. The shape is stable: fields are only ever added. Enums
/// are snake-case strings (`"circuit_breaker"`, `"half_open"`); `stats` is tagged with the
/// same `kind` as its row, and holds the fields of [`CircuitBreakerStats`], [`RetryStats`],
/// [`TimeoutStats`], [`BulkheadStats`], [`RateLimiterStats`], [`FallbackStats`],
/// [`PipelineStats`] or [`HealthMonitorStats`] under their Rust names. A composite policy's row
/// is of kind `"policy"`, its `config` the kinds of its members in order
/// (`"retry -> circuit_breaker -> timeout"`), and its members have rows of their own under the
/// same name. A health monitor's row is of kind `"health_monitor"`. `config`
/// is the one-line summary the table prints, the same for every kind.
///
/// ```json
/// {
///   "policies": [
///     {
///       "kind": "circuit_breaker",
///       "name": "inventory",
///       "config": "threshold=3 reset=500ms half_open_timeout=500ms",
///       "stats": {
///         "kind": "circuit_breaker",
///         "state": "open",
///         "consecutive_failures": 0, "consecutive_successes": 0,
///         "calls": 4, "successes": 1, "failures": 3, "ignored": 0, "rejected": 1,
///         "failure_rate": null,
///         "last_success": "2024-06-10T06:13:20.000Z",
///         "last_failure": "2024-06-10T06:13:21.500Z",
///         "opened_at": "2024-06-10T06:13:21.500Z"
///       },
///       "conflicts": ["failure_threshold"],
///       "missing": false,
///       "sources": [
///         { "setting": "failure_threshold", "value": "3", "source": "attribute" },
///         { "setting": "reset_timeout", "value": "500ms", "source": "file" }
///       ]
///     }
///   ],
///   "health": {
///     "status": "degraded",
///     "checks": [
///       { "contributor": "circuit_breaker", "name": "inventory", "status": "degraded", "detail": "open" }
///     ]
///   }
/// }
/// ```
///
/// Wall-clock times ([`WallTime`](crate::WallTime)) are RFC 3339 strings in UTC with
/// milliseconds, as people and log tools read them. Durations keep serde's own representation
/// of `Duration` (`{"secs", "nanos"}`, in the configuration types): it is exact, and serde's
/// `Deserialize` reads it back with no helper. A time that never happened is `null`.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct RegistrySnapshot {
    /// One entry per policy, sorted by name then kind.
    pub policies: Vec<PolicySnapshot>,
    /// Health from the policies and the configuration, as of the snapshot
    /// ([`Registry::health_now`](crate::Registry::health_now): the user's checks are not run).
    pub health: crate::HealthReport,
}

/// One policy: what it is, how it is configured, and its live state and counters.
///
/// Read it through its methods, as an [`Event`](crate::Event) is read (the fields stay public:
/// a snapshot is a plain value).
///
/// ```
/// use resilience::{registry, CircuitBreaker, PolicyKind, PolicyStats};
///
/// registry()
///     .circuit_breaker_or_register(CircuitBreaker::builder("doc-policy-snapshot"))
///     .unwrap();
/// let row = registry()
///     .policies()
///     .into_iter()
///     .find(|p| p.kind() == PolicyKind::CircuitBreaker && p.name() == "doc-policy-snapshot")
///     .unwrap();
/// assert_eq!(row.config(), "threshold=5 reset=30s half_open_timeout=30s");
/// assert!(matches!(row.stats(), PolicyStats::CircuitBreaker(stats) if stats.calls == 0));
/// assert!(row.conflicts().is_empty());
/// ```
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct PolicySnapshot {
    /// The kind of policy.
    pub kind: PolicyKind,
    /// The registry name.
    pub name: String,
    /// The effective configuration, in one line.
    pub config: String,
    /// Live state and counters.
    pub stats: PolicyStats,
    /// Keys that another site set to a different value; the configuration above is in effect.
    pub conflicts: Vec<&'static str>,
    /// Registered with the defaults by a name-only site while names were strict and nothing had
    /// given the name settings ([`Registry::strict_names`](crate::Registry::strict_names)).
    pub missing: bool,
    /// Where each setting that is not a built-in default came from, in the order the settings
    /// were given: "why is the threshold 3?" (every other setting is the default).
    pub sources: Vec<SettingSource>,
}

/// One setting in effect and where it came from: a row of [`PolicySnapshot::sources`].
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct SettingSource {
    /// The setting, as the attribute spells it: `"failure_threshold"`.
    pub setting: &'static str,
    /// Its value, as text: `"3"`, `"20s"`.
    pub value: String,
    /// Where it came from.
    pub source: Source,
}

/// The live state and counters of one policy, by kind.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(tag = "kind", rename_all = "snake_case"))]
#[non_exhaustive]
pub enum PolicyStats {
    /// A circuit breaker's state and counters.
    CircuitBreaker(CircuitBreakerStats),
    /// A retry's counters.
    Retry(RetryStats),
    /// A timeout's counters.
    Timeout(TimeoutStats),
    /// A bulkhead's occupancy and counters.
    Bulkhead(BulkheadStats),
    /// A rate limiter's counters and free cells.
    RateLimiter(RateLimiterStats),
    /// A fallback's counters.
    Fallback(FallbackStats),
    /// A composite policy's members and unprotected calls (its members have rows of their own).
    #[cfg_attr(feature = "serde", serde(rename = "policy"))]
    Pipeline(PipelineStats),
    /// A health monitor's crash counts.
    HealthMonitor(HealthMonitorStats),
    /// A supervisor's children and restarts.
    Supervisor(crate::SupervisorStats),
    /// A retry budget's deposits, withdrawals and refusals.
    RetryBudget(crate::RetryBudgetStats),
    /// A hedge's calls and extra attempts.
    Hedge(crate::HedgeStats),
    /// A chaos policy's state and injections.
    Chaos(crate::ChaosStats),
}

impl RegistrySnapshot {
    /// One entry per policy, sorted by name then kind.
    pub fn policies(&self) -> &[PolicySnapshot] {
        &self.policies
    }

    /// Health from the policies and the configuration, as of the snapshot.
    pub fn health(&self) -> &crate::HealthReport {
        &self.health
    }
}

impl PolicySnapshot {
    /// The kind of policy.
    pub fn kind(&self) -> PolicyKind {
        self.kind
    }

    /// The registry name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The effective configuration, in one line (the table's `CONFIG` column).
    pub fn config(&self) -> &str {
        &self.config
    }

    /// Live state and counters.
    pub fn stats(&self) -> &PolicyStats {
        &self.stats
    }

    /// Keys that another site set to a different value; [`config`](Self::config) is in effect.
    pub fn conflicts(&self) -> &[&'static str] {
        &self.conflicts
    }

    /// Whether a name-only site registered the policy with the defaults while names were
    /// strict: see [`Registry::strict_names`](crate::Registry::strict_names).
    pub fn missing(&self) -> bool {
        self.missing
    }

    /// Where each setting that is not a built-in default came from.
    pub fn sources(&self) -> &[SettingSource] {
        &self.sources
    }

    /// Where `setting` came from: [`Source::Default`] when nothing gave it.
    ///
    /// ```
    /// use resilience::{registry, CircuitBreaker, Config, PolicyKind, Source};
    ///
    /// registry()
    ///     .circuit_breaker_or_register(CircuitBreaker::builder("doc-source").failure_threshold(5))
    ///     .unwrap();
    /// let config = Config::from_toml_str(
    ///     "[defaults.circuit_breaker]\nreset_timeout = \"20s\"\n",
    /// ).unwrap();
    /// registry().apply(&config).unwrap();
    /// let row = registry().policies().into_iter().find(|p| p.name() == "doc-source").unwrap();
    /// assert_eq!(row.source_of("failure_threshold"), Source::Code);
    /// assert_eq!(row.source_of("reset_timeout"), Source::File);
    /// assert_eq!(row.source_of("success_threshold"), Source::Default);
    /// # registry().apply(&Config::empty()).unwrap();
    /// ```
    pub fn source_of(&self, setting: &str) -> Source {
        self.sources
            .iter()
            .find(|row| row.setting == setting)
            .map_or(Source::Default, |row| row.source)
    }

    pub(super) fn of<P: RegisteredPolicy>(name: &str, entry: &Entry<P>) -> Self {
        PolicySnapshot {
            kind: P::KIND,
            name: name.to_owned(),
            config: entry.policy.config_line(),
            stats: entry.policy.stats(),
            conflicts: entry.conflicts.clone(),
            missing: entry.missing,
            sources: entry
                .effective
                .iter()
                .map(|(setting, value, source)| SettingSource {
                    setting,
                    value: value.to_string(),
                    source,
                })
                .collect(),
        }
    }

    /// The sources column: the settings not at their defaults, by source (`file: jitter`).
    fn from(&self) -> String {
        let mut parts = Vec::new();
        for source in [Source::Attribute, Source::Code, Source::File] {
            let settings: Vec<&str> = self
                .sources
                .iter()
                .filter(|row| row.source == source)
                .map(|row| row.setting)
                .collect();
            if !settings.is_empty() {
                parts.push(format!("{source}: {}", settings.join(",")));
            }
        }
        if parts.is_empty() {
            "default".to_owned()
        } else {
            parts.join("; ")
        }
    }

    /// The state column: a breaker's state, a bulkhead's occupancy, a rate limiter's free cells,
    /// a health monitor's health.
    fn state(&self) -> String {
        match &self.stats {
            PolicyStats::CircuitBreaker(stats) => match &stats.keys {
                Some(keys) => format!(
                    "{} ({}/{} keys, {} open)",
                    stats.state,
                    keys.keys,
                    keys.max_keys,
                    keys.rejecting.len()
                ),
                None => stats.state.to_string(),
            },
            PolicyStats::Bulkhead(stats) => match &stats.keys {
                Some(keys) => format!("{}/{} keys", keys.keys, keys.max_keys),
                None => format!("{}/{} busy", stats.in_flight, stats.max_concurrent),
            },
            PolicyStats::RateLimiter(stats) => match &stats.keys {
                Some(keys) => format!("{}/{} keys", keys.keys, keys.max_keys),
                None => format!("{}/{} free", stats.available, stats.burst),
            },
            PolicyStats::HealthMonitor(stats) if stats.healthy => "healthy".to_owned(),
            PolicyStats::HealthMonitor(_) => "unhealthy".to_owned(),
            PolicyStats::Supervisor(stats) if stats.gave_up => "gave up".to_owned(),
            PolicyStats::Supervisor(stats) => {
                format!("{}/{} running", stats.running, stats.children)
            }
            PolicyStats::RetryBudget(stats) => format!("{} available", stats.available),
            PolicyStats::Chaos(stats) if stats.enabled => "enabled".to_owned(),
            PolicyStats::Chaos(_) => "disabled".to_owned(),
            PolicyStats::Retry(_)
            | PolicyStats::Hedge(_)
            | PolicyStats::Timeout(_)
            | PolicyStats::Fallback(_)
            | PolicyStats::Pipeline(_) => "-".to_owned(),
        }
    }

    /// The counters column.
    fn counters(&self) -> String {
        let mut text = match &self.stats {
            PolicyStats::CircuitBreaker(s) => {
                let mut text = format!(
                    "calls={} ok={} failed={} rejected={}",
                    s.calls, s.successes, s.failures, s.rejected
                );
                if let Some(rate) = s.failure_rate {
                    text.push_str(&format!(" rate={:.1}%", rate * 100.0));
                }
                if let Some(keys) = &s.keys {
                    text.push_str(&format!(" evicted={}", keys.evicted));
                    let listed = |keys: &[crate::KeySnapshot]| {
                        keys.iter()
                            .map(|key| match key.state {
                                Some(state) if state != crate::CircuitState::Closed => {
                                    format!("{}({state})", key.key)
                                }
                                _ => format!("{}({} failures)", key.key, key.failures),
                            })
                            .collect::<Vec<_>>()
                            .join(",")
                    };
                    if !keys.hottest.is_empty() {
                        text.push_str(&format!(" hottest={}", listed(&keys.hottest)));
                    }
                    if !keys.rejecting.is_empty() {
                        text.push_str(&format!(" open={}", listed(&keys.rejecting)));
                    }
                }
                text
            }
            PolicyStats::Retry(s) => format!(
                "calls={} retries={} recovered={} exhausted={}",
                s.calls, s.retries, s.successes_after_retry, s.exhausted
            ),
            PolicyStats::Timeout(s) => format!(
                "calls={} in_time={} timeouts={}",
                s.calls, s.in_time, s.timeouts
            ),
            PolicyStats::Bulkhead(s) => format!(
                "queued={} available={} rejected={}",
                s.queued, s.available, s.rejected
            ),
            PolicyStats::RateLimiter(s) => {
                let mut text = format!(
                    "permitted={} waited={} rejected={}",
                    s.permitted, s.waited, s.rejected
                );
                if let Some(keys) = &s.keys {
                    text.push_str(&format!(" evicted={}", keys.evicted));
                    let listed = |keys: &[crate::KeySnapshot]| {
                        keys.iter()
                            .map(|key| format!("{}({})", key.key, key.available))
                            .collect::<Vec<_>>()
                            .join(",")
                    };
                    if !keys.hottest.is_empty() {
                        text.push_str(&format!(" hottest={}", listed(&keys.hottest)));
                    }
                    if !keys.rejecting.is_empty() {
                        text.push_str(&format!(" rejecting={}", listed(&keys.rejecting)));
                    }
                }
                text
            }
            PolicyStats::Fallback(s) => format!("answered={} passed={}", s.answered, s.passed),
            PolicyStats::Pipeline(s) => format!("unprotected={}", s.unprotected_calls),
            PolicyStats::HealthMonitor(s) => {
                format!(
                    "crashes={} in_window={}",
                    s.total_crashes, s.crashes_in_window
                )
            }
            PolicyStats::Supervisor(s) => format!("restarts={}", s.restarts),
            PolicyStats::RetryBudget(s) => format!(
                "deposits={} withdrawals={} refusals={}",
                s.deposits, s.withdrawals, s.refusals
            ),
            PolicyStats::Hedge(s) => format!(
                "calls={} hedged={} hedge_wins={} refused={}",
                s.calls, s.hedged, s.hedge_wins, s.refused
            ),
            PolicyStats::Chaos(s) => {
                format!("faults={} delays={}", s.injected_faults, s.injected_delays)
            }
        };
        if !self.conflicts.is_empty() {
            text.push_str(&format!(" CONFLICT({})", self.conflicts.join(",")));
        }
        if self.missing {
            text.push_str(" MISSING(no settings given for this name)");
        }
        text
    }
}

impl fmt::Display for RegistrySnapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let header = ["KIND", "NAME", "STATE", "CONFIG", "FROM", "STATS"];
        let rows: Vec<[String; 6]> = self
            .policies
            .iter()
            .map(|p| {
                [
                    p.kind.to_string(),
                    p.name.clone(),
                    p.state(),
                    p.config.clone(),
                    p.from(),
                    p.counters(),
                ]
            })
            .collect();
        let mut widths = header.map(str::len);
        for row in &rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }
        let line = |f: &mut fmt::Formatter<'_>, cells: [&str; 6]| -> fmt::Result {
            let last = cells.len() - 1;
            for (i, (cell, width)) in cells.iter().zip(widths).enumerate() {
                if i == last {
                    writeln!(f, "{cell}")?;
                } else {
                    write!(f, "{cell:<width$}  ")?;
                }
            }
            Ok(())
        };
        line(f, header)?;
        for row in &rows {
            line(f, [&row[0], &row[1], &row[2], &row[3], &row[4], &row[5]])?;
        }
        writeln!(f, "{}", self.health)
    }
}
