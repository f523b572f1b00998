//! The registry's health monitors by name.
//!
//! A monitor has no attribute and no configuration-file section: it is registered in code,
//! and the first registration wins, as for every kind; a later one with other explicit
//! settings is reported as a conflict.

use std::collections::HashMap;
use std::sync::{Arc, RwLockReadGuard};

use super::named::{Named, Retired};
use super::{PolicyKind, PolicySnapshot, PolicyStats, Registry, SettingSource};
use crate::events::{self, Event};
use crate::{ConfigError, HealthMonitor, HealthMonitorBuilder, Source};

type Map = HashMap<Arc<str>, Registered>;

/// The health monitors by name.
#[derive(Default)]
pub(crate) struct HealthMonitors {
    map: Named<Registered>,
    /// Monitors taken out by `Registry::unregister_policy`: whoever holds one records into the
    /// next registration of its name.
    retired: Retired<HealthMonitor>,
}

struct Registered {
    monitor: Arc<HealthMonitor>,
    /// The settings the registration in force gave, with their values as text.
    given: Vec<(&'static str, String)>,
    /// Keys a later registration gave other values.
    conflicts: Vec<&'static str>,
}

impl Registered {
    fn snapshot(&self, name: &str) -> PolicySnapshot {
        PolicySnapshot {
            kind: PolicyKind::HealthMonitor,
            name: name.to_owned(),
            config: self.monitor.config_line(),
            stats: PolicyStats::HealthMonitor(self.monitor.stats()),
            conflicts: self.conflicts.clone(),
            missing: false,
            sources: self
                .given
                .iter()
                .map(|(setting, value)| SettingSource {
                    setting,
                    value: value.clone(),
                    source: Source::Code,
                })
                .collect(),
        }
    }
}

impl HealthMonitors {
    fn read(&self) -> RwLockReadGuard<'_, Map> {
        self.map.read()
    }

    fn get(&self, name: &str) -> Option<Arc<HealthMonitor>> {
        self.read()
            .get(name)
            .map(|entry| Arc::clone(&entry.monitor))
    }

    /// The monitor named by the builder, registered if there is none yet; when there is one,
    /// the builder's explicit settings that differ from it are recorded and reported.
    fn get_or_insert(
        &self,
        builder: HealthMonitorBuilder,
    ) -> Result<Arc<HealthMonitor>, ConfigError> {
        // Checked first: settings that cannot be built are an error whoever registered first.
        let built = builder.clone().build()?;
        let name = Arc::clone(builder.name());
        let (monitor, conflicts) = {
            let mut map = self.map.write();
            match map.get_mut(&name) {
                Some(entry) => {
                    let conflicts = builder.conflicts_with(&entry.monitor);
                    for key in &conflicts {
                        if !entry.conflicts.contains(key) {
                            entry.conflicts.push(key);
                        }
                    }
                    (Arc::clone(&entry.monitor), conflicts)
                }
                None => {
                    let monitor = match self.retired.revive(&name) {
                        Some(monitor) => {
                            monitor.reconfigure_fresh(built);
                            monitor
                        }
                        None => Arc::new(built),
                    };
                    map.insert(
                        Arc::clone(&name),
                        Registered {
                            monitor: Arc::clone(&monitor),
                            given: builder.given(),
                            conflicts: Vec::new(),
                        },
                    );
                    (monitor, Vec::new())
                }
            }
        };
        if !conflicts.is_empty() {
            events::emit(|| Event::ConfigConflict {
                kind: PolicyKind::HealthMonitor,
                name,
                keys: conflicts,
            });
        }
        Ok(monitor)
    }

    /// Forgets the crashes of the monitor named `name`.
    pub(super) fn reset(&self, name: &str) -> bool {
        self.get(name).map(|monitor| monitor.reset()).is_some()
    }

    /// Takes the monitor named `name` out of every listing; the next registration revives it.
    pub(super) fn unregister(&self, name: &str) -> bool {
        self.map.retire(name, &self.retired, |entry| entry.monitor)
    }

    pub(super) fn names(&self, names: &mut Vec<String>) {
        self.map.names(names);
    }

    pub(super) fn snapshot_named(&self, name: &str, rows: &mut Vec<PolicySnapshot>) {
        if let Some((name, entry)) = self.read().get_key_value(name) {
            rows.push(entry.snapshot(name));
        }
    }

    pub(super) fn snapshots(&self, rows: &mut Vec<PolicySnapshot>) {
        rows.extend(self.read().iter().map(|(name, entry)| entry.snapshot(name)));
    }

    fn all(&self) -> Vec<Arc<HealthMonitor>> {
        let mut monitors: Vec<Arc<HealthMonitor>> = self
            .read()
            .values()
            .map(|entry| Arc::clone(&entry.monitor))
            .collect();
        monitors.sort_by(|a, b| a.name().cmp(b.name()));
        monitors
    }
}

impl Registry {
    /// The health monitor named by the builder, built and registered if there is none yet.
    ///
    /// When one exists, it is returned as it is (the first registration wins); settings the
    /// builder gave explicitly that differ from it are recorded as a conflict in the snapshot
    /// and sent as an [`Event::ConfigConflict`] of kind [`PolicyKind::HealthMonitor`].
    ///
    /// # Errors
    ///
    /// The builder's [`ConfigError`], whether or not a monitor of that name exists.
    ///
    /// ```
    /// use resilience::{registry, HealthMonitor};
    /// use std::time::Duration;
    ///
    /// let monitor = registry()
    ///     .health_monitor_or_register(
    ///         HealthMonitor::builder("doc-pool").max_crashes(10).window(Duration::from_secs(60)),
    ///     )
    ///     .unwrap();
    /// monitor.record_crash("worker-1", "exit code 1");
    /// let shared = registry().health_monitor("doc-pool").unwrap();
    /// assert_eq!(shared.stats().total_crashes, 1);
    /// ```
    pub fn health_monitor_or_register(
        &self,
        builder: HealthMonitorBuilder,
    ) -> Result<Arc<HealthMonitor>, ConfigError> {
        self.health_monitors.get_or_insert(builder)
    }

    /// The health monitor named `name`, if one is registered. Never creates one.
    pub fn health_monitor(&self, name: &str) -> Option<Arc<HealthMonitor>> {
        self.health_monitors.get(name)
    }

    /// Every registered health monitor, sorted by name: for the health report.
    #[allow(dead_code)] // For the health report.
    pub(crate) fn health_monitors(&self) -> Vec<Arc<HealthMonitor>> {
        self.health_monitors.all()
    }
}
