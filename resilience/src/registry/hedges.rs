//! The registry's hedges by name: listed in the snapshot, with no settings a file can give
//! (a hedge's settings are its attribute's or builder's; the first registration wins).

use std::sync::Arc;

use super::named::{Named, Retired};
use super::{PolicyKind, PolicySnapshot, PolicyStats, Registry};
use crate::{ConfigError, Hedge, HedgeBuilder};

#[derive(Default)]
pub(crate) struct Hedges {
    map: Named<Arc<Hedge>>,
    retired: Retired<Hedge>,
}

fn snapshot(name: &str, hedge: &Hedge) -> PolicySnapshot {
    PolicySnapshot {
        kind: PolicyKind::Hedge,
        name: name.to_owned(),
        config: hedge.config().to_string(),
        stats: PolicyStats::Hedge(hedge.stats()),
        conflicts: Vec::new(),
        missing: false,
        sources: Vec::new(),
    }
}

impl Hedges {
    fn get(&self, name: &str) -> Option<Arc<Hedge>> {
        self.map.read().get(name).cloned()
    }

    pub(super) fn reset(&self, name: &str) -> bool {
        self.get(name).map(|hedge| hedge.reset()).is_some()
    }

    pub(super) fn unregister(&self, name: &str) -> bool {
        self.map.retire(name, &self.retired, |hedge| hedge)
    }

    pub(super) fn names(&self, names: &mut Vec<String>) {
        self.map.names(names);
    }

    pub(super) fn snapshot_named(&self, name: &str, rows: &mut Vec<PolicySnapshot>) {
        if let Some((name, hedge)) = self.map.read().get_key_value(name) {
            rows.push(snapshot(name, hedge));
        }
    }

    pub(super) fn snapshots(&self, rows: &mut Vec<PolicySnapshot>) {
        rows.extend(
            self.map
                .read()
                .iter()
                .map(|(name, hedge)| snapshot(name, hedge)),
        );
    }
}

impl Registry {
    /// The hedge named `name`, if one is registered.
    pub fn hedge(&self, name: &str) -> Option<Arc<Hedge>> {
        self.hedges.get(name)
    }

    /// The hedge named by the builder, built and registered if there is none yet; when there
    /// is one, it is returned as it is.
    ///
    /// # Errors
    ///
    /// The builder's [`ConfigError`].
    pub fn hedge_or_register(&self, builder: HedgeBuilder) -> Result<Arc<Hedge>, ConfigError> {
        self.register_hedge(builder)
    }

    pub(crate) fn register_hedge(&self, builder: HedgeBuilder) -> Result<Arc<Hedge>, ConfigError> {
        let name = Arc::clone(builder.name_ref());
        if let Some(hedge) = self.hedges.get(&name) {
            return Ok(hedge);
        }
        let built = builder.build()?;
        let mut map = self.hedges.map.write();
        if let Some(hedge) = map.get(&name) {
            return Ok(Arc::clone(hedge));
        }
        // A retired hedge's sites hold the old object; the new registration is fresh.
        let _ = self.hedges.retired.revive(&name);
        let hedge = Arc::new(built);
        map.insert(name, Arc::clone(&hedge));
        Ok(hedge)
    }
}
