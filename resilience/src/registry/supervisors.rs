//! The registry's supervisors by name: for the snapshot and for health.
//!
//! A supervisor registers when it is built; a later one of the same name replaces it (a nested
//! supervisor is built again for each start of its parent's child).

use std::collections::HashMap;
use std::sync::{Arc, RwLockReadGuard, RwLockWriteGuard};

use super::named::Named;
use super::{PolicyKind, PolicySnapshot, PolicyStats, Registry};
use crate::supervisor::SupervisorState;

type Map = HashMap<Arc<str>, Arc<SupervisorState>>;

/// The supervisors by name.
#[derive(Default)]
pub(crate) struct Supervisors {
    map: Named<Arc<SupervisorState>>,
}

impl Supervisors {
    fn read(&self) -> RwLockReadGuard<'_, Map> {
        self.map.read()
    }

    fn write(&self) -> RwLockWriteGuard<'_, Map> {
        self.map.write()
    }

    pub(super) fn unregister(&self, name: &str) -> bool {
        self.write().remove(name).is_some()
    }

    pub(super) fn names(&self, names: &mut Vec<String>) {
        self.map.names(names);
    }

    pub(super) fn snapshot_named(&self, name: &str, rows: &mut Vec<PolicySnapshot>) {
        if let Some(state) = self.read().get(name) {
            rows.push(snapshot(state));
        }
    }

    pub(super) fn snapshots(&self, rows: &mut Vec<PolicySnapshot>) {
        rows.extend(self.read().values().map(|state| snapshot(state)));
    }
}

fn snapshot(state: &SupervisorState) -> PolicySnapshot {
    PolicySnapshot {
        kind: PolicyKind::Supervisor,
        name: state.name.to_string(),
        config: state.config_line(),
        stats: PolicyStats::Supervisor(state.stats()),
        conflicts: Vec::new(),
        missing: false,
        sources: Vec::new(),
    }
}

impl Registry {
    /// Registers a supervisor as it is built, replacing one of the same name.
    pub(crate) fn register_supervisor(&self, state: Arc<SupervisorState>) {
        self.supervisors
            .write()
            .insert(Arc::clone(&state.name), state);
    }

    /// The supervisors whose last run gave up, sorted by name: unhealthy, and not live.
    pub(crate) fn supervisors_gave_up(&self) -> Vec<Arc<str>> {
        let mut names: Vec<Arc<str>> = self
            .supervisors
            .read()
            .values()
            .filter(|state| state.gave_up())
            .map(|state| Arc::clone(&state.name))
            .collect();
        names.sort();
        names
    }
}
