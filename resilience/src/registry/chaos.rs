//! The registry's chaos policies by name.
//!
//! Settings come, lowest first, from the defaults, the file's `[defaults.chaos]` (and a base),
//! the attribute or the first registration in code that gave any, and the file's
//! `[chaos.NAME]`, whose `enabled` turns injection on or off (a later file without it takes
//! back what the earlier one set; `enable()`/`disable()` in code are left alone otherwise).

use std::collections::HashMap;
use std::sync::{Arc, RwLockReadGuard};

use resilience_settings::chaos::ChaosSettings;
use resilience_settings::Attribute;

use super::config::apply_problem;
use super::named::{Named, Retired};
use super::{read_config, PolicyChange, PolicyKind, PolicySnapshot, PolicyStats, Registry};
use super::{ConfigProblem, SettingSource};
use crate::config::layer::{Layer, Value};
use crate::events::{self, Event};
use crate::{Chaos, ChaosBuilder, Config, ConfigError, Source};

type Map = HashMap<Arc<str>, Registered>;

#[derive(Default)]
pub(crate) struct ChaosPolicies {
    map: Named<Registered>,
    retired: Retired<Chaos>,
}

struct Registered {
    chaos: Arc<Chaos>,
    code: ChaosBuilder,
    code_source: Source,
    conflicts: Vec<&'static str>,
    sources: Vec<SettingSource>,
    /// What the file in force said of `enabled`, to take it back when a later one is silent.
    file_enabled: Option<bool>,
}

const SETTINGS: [&str; 4] = ["fault_rate", "latency", "latency_rate", "enabled"];

/// The settings in effect for `code` under `config`, with where each came from.
fn layered(
    config: &Config,
    code: &ChaosBuilder,
    code_source: Source,
) -> (ChaosSettings, Vec<SettingSource>) {
    let (below, above) = config.layers(Attribute::Chaos, code.name());
    let mine = code.settings();
    let mut code_layer = Layer::default();
    if let Some(rate) = mine.fault_rate {
        code_layer.set("fault_rate", Value::Number(rate), code_source);
    }
    if let Some(latency) = mine.latency {
        code_layer.set("latency", Value::Duration(latency), code_source);
    }
    if let Some(rate) = mine.latency_rate {
        code_layer.set("latency_rate", Value::Number(rate), code_source);
    }
    let mut settings = ChaosSettings::default();
    let mut sources: Vec<SettingSource> = Vec::new();
    for (layer, source) in [
        (&below, Source::File),
        (&code_layer, code_source),
        (&above, Source::File),
    ] {
        for setting in SETTINGS {
            let Some(value) = layer.get(setting) else {
                continue;
            };
            match (setting, value) {
                ("fault_rate", Value::Number(rate)) => settings.fault_rate = Some(*rate),
                ("latency", Value::Duration(latency)) => settings.latency = Some(*latency),
                ("latency_rate", Value::Number(rate)) => settings.latency_rate = Some(*rate),
                ("enabled", Value::Flag(enabled)) => settings.enabled = Some(*enabled),
                _ => continue,
            }
            sources.retain(|row| row.setting != setting);
            sources.push(SettingSource {
                setting,
                value: value.to_string(),
                source,
            });
        }
    }
    (settings, sources)
}

impl Registered {
    fn snapshot(&self, name: &str) -> PolicySnapshot {
        PolicySnapshot {
            kind: PolicyKind::Chaos,
            name: name.to_owned(),
            config: self.chaos.config().to_string(),
            stats: PolicyStats::Chaos(self.chaos.stats()),
            conflicts: self.conflicts.clone(),
            missing: false,
            sources: self.sources.clone(),
        }
    }

    /// Takes the file's `enabled`, or takes back the one an earlier file gave.
    fn follow_file(&mut self, enabled: Option<bool>) {
        match enabled {
            Some(enabled) => self.chaos.set_enabled(enabled),
            None if self.file_enabled.is_some() => self.chaos.disable(),
            None => {}
        }
        self.file_enabled = enabled;
    }
}

impl ChaosPolicies {
    fn read(&self) -> RwLockReadGuard<'_, Map> {
        self.map.read()
    }

    fn get(&self, name: &str) -> Option<Arc<Chaos>> {
        self.read().get(name).map(|entry| Arc::clone(&entry.chaos))
    }

    fn get_or_insert(
        &self,
        config: &Config,
        builder: ChaosBuilder,
        source: Source,
    ) -> Result<Arc<Chaos>, ConfigError> {
        builder.clone().build()?;
        let name = Arc::clone(builder.name());
        if let Some(entry) = self.read().get(&name) {
            return Ok(Arc::clone(&entry.chaos));
        }
        let mut map = self.map.write();
        if let Some(entry) = map.get(&name) {
            return Ok(Arc::clone(&entry.chaos));
        }
        let (settings, sources) = layered(config, &builder, source);
        let built = match builder.clone().with_settings(settings).build() {
            Ok(built) => built,
            Err(error) => {
                events::emit(|| Event::ConfigRejected {
                    error: ConfigError::Invalid(crate::config::ConfigProblems(vec![
                        apply_problem(config, Some(Attribute::Chaos), &name, &error.to_string()),
                    ])),
                });
                builder.clone().build()?
            }
        };
        let chaos = match self.retired.revive(&name) {
            Some(chaos) => {
                chaos.reconfigure(built.config());
                chaos.reset();
                chaos.disable();
                if let Some(seed) = builder.seed_given() {
                    chaos.seed(seed);
                }
                chaos
            }
            None => Arc::new(built),
        };
        let mut entry = Registered {
            chaos: Arc::clone(&chaos),
            code: builder,
            code_source: source,
            conflicts: Vec::new(),
            sources,
            file_enabled: None,
        };
        entry.follow_file(settings.enabled);
        map.insert(Arc::clone(&name), entry);
        Ok(chaos)
    }

    pub(super) fn check(&self, config: &Config, problems: &mut Vec<ConfigProblem>) {
        for (name, entry) in self.read().iter() {
            let (settings, _) = layered(config, &entry.code, entry.code_source);
            for problem in settings.problems() {
                problems.push(apply_problem(
                    config,
                    Some(Attribute::Chaos),
                    name,
                    &problem.to_string(),
                ));
            }
        }
    }

    pub(super) fn reconfigure(&self, config: &Config, changed: &mut Vec<PolicyChange>) {
        for (name, entry) in self.map.write().iter_mut() {
            let (settings, sources) = layered(config, &entry.code, entry.code_source);
            let Ok(built) = entry.code.clone().with_settings(settings).build() else {
                continue;
            };
            let mut keys = entry.chaos.reconfigure(built.config());
            let was = entry.chaos.is_enabled();
            entry.follow_file(settings.enabled);
            if entry.chaos.is_enabled() != was {
                keys.push("enabled");
            }
            entry.sources = sources;
            if !keys.is_empty() {
                changed.push(PolicyChange {
                    kind: PolicyKind::Chaos,
                    name: name.to_string(),
                    keys,
                });
            }
        }
    }

    pub(super) fn reset(&self, name: &str) -> bool {
        self.get(name).map(|chaos| chaos.reset()).is_some()
    }

    pub(super) fn unregister(&self, name: &str) -> bool {
        self.map.retire(name, &self.retired, |entry| entry.chaos)
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
}

impl Registry {
    /// The chaos policy named `name`, if one is registered (an annotated function registers
    /// its own on its first call). Never creates one. Enable it with [`Chaos::enable`].
    ///
    /// ```
    /// use resilience::{chaos, registry};
    ///
    /// #[chaos(fault_rate = 1.0, name = "doc-registry-chaos")]
    /// async fn fetch() -> Result<u32, resilience::Error> {
    ///     Ok(7)
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// assert_eq!(fetch().await, Ok(7)); // off until enabled
    /// registry().chaos("doc-registry-chaos").unwrap().enable();
    /// assert_eq!(fetch().await.unwrap_err().code(), "INJECTED");
    /// # }
    /// ```
    pub fn chaos(&self, name: &str) -> Option<Arc<Chaos>> {
        self.chaos.get(name)
    }

    /// The chaos policy named by the builder, built (disabled) and registered if there is none
    /// yet; when there is one, it is returned as it is.
    ///
    /// # Errors
    ///
    /// The builder's [`ConfigError`].
    pub fn chaos_or_register(&self, builder: ChaosBuilder) -> Result<Arc<Chaos>, ConfigError> {
        self.chaos
            .get_or_insert(&read_config(&self.config), builder, Source::Code)
    }

    /// Registers an attribute's chaos policy (the macros' path).
    pub(crate) fn register_chaos(&self, builder: ChaosBuilder) -> Result<Arc<Chaos>, ConfigError> {
        self.chaos
            .get_or_insert(&read_config(&self.config), builder, Source::Attribute)
    }
}
