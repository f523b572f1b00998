//! Snapshots of the registry: plain values, printable as a table.

use std::fmt;

use super::{PolicyKind, RegisteredPolicy};
use crate::{BulkheadStats, CircuitBreakerStats, RetryStats, TimeoutStats};

/// Every registered policy at one moment; `Display` prints an aligned table, one row a policy.
///
/// ```
/// use resilience::{registry, Bulkhead};
///
/// registry()
///     .bulkhead_or_register(Bulkhead::builder("doc-snapshot").max_concurrent(4))
///     .unwrap();
/// let table = registry().snapshot().to_string();
/// assert!(table.contains("doc-snapshot"));
/// assert!(table.lines().next().unwrap().starts_with("KIND"));
/// ```
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct RegistrySnapshot {
    /// One entry per policy, sorted by name then kind.
    pub policies: Vec<PolicySnapshot>,
}

/// One policy: what it is, how it is configured, and its live state and counters.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
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
}

impl PolicySnapshot {
    pub(super) fn of<P: RegisteredPolicy>(
        name: &str,
        policy: &P,
        conflicts: &[&'static str],
    ) -> Self {
        PolicySnapshot {
            kind: P::KIND,
            name: name.to_owned(),
            config: policy.config_line(),
            stats: policy.stats(),
            conflicts: conflicts.to_vec(),
        }
    }

    /// The state column: a breaker's state, a bulkhead's occupancy.
    fn state(&self) -> String {
        match &self.stats {
            PolicyStats::CircuitBreaker(stats) => stats.state.to_string(),
            PolicyStats::Bulkhead(stats) => {
                format!("{}/{} busy", stats.in_flight, stats.max_concurrent)
            }
            PolicyStats::Retry(_) | PolicyStats::Timeout(_) => "-".to_owned(),
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
                text
            }
            PolicyStats::Retry(s) => format!(
                "calls={} retries={} recovered={} exhausted={}",
                s.calls, s.retries, s.successes_after_retry, s.exhausted
            ),
            PolicyStats::Timeout(s) => format!("calls={} timeouts={}", s.calls, s.timeouts),
            PolicyStats::Bulkhead(s) => format!(
                "queued={} available={} rejected={}",
                s.queued, s.available, s.rejected
            ),
        };
        if !self.conflicts.is_empty() {
            text.push_str(&format!(" CONFLICT({})", self.conflicts.join(",")));
        }
        text
    }
}

impl fmt::Display for RegistrySnapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let header = ["KIND", "NAME", "STATE", "CONFIG", "STATS"];
        let rows: Vec<[String; 5]> = self
            .policies
            .iter()
            .map(|p| {
                [
                    p.kind.to_string(),
                    p.name.clone(),
                    p.state(),
                    p.config.clone(),
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
        let line = |f: &mut fmt::Formatter<'_>, cells: [&str; 5]| -> fmt::Result {
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
            line(f, [&row[0], &row[1], &row[2], &row[3], &row[4]])?;
        }
        Ok(())
    }
}
