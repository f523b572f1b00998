//! The registry's retry budgets by name.
//!
//! A budget has no attribute: a retry or hedge names one (`budget = "api"`) and gets the
//! budget of that name, registered with the defaults if nothing defined it. A budget's settings
//! come, lowest first, from the defaults, the file's `[defaults.retry_budget]` (and a base), the
//! first registration in code that gave any
//! ([`retry_budget_or_register`](Registry::retry_budget_or_register)), and the file's
//! `[retry_budget.NAME]`.

use std::collections::HashMap;
use std::sync::{Arc, RwLockReadGuard};

use resilience_settings::retry_budget::RetryBudgetSettings;
use resilience_settings::Attribute;

use super::config::apply_problem;
use super::named::{Named, Retired};
use super::{read_config, PolicyChange, PolicyKind, PolicySnapshot, PolicyStats, Registry};
use super::{ConfigProblem, SettingSource};
use crate::config::layer::{Layer, Value};
use crate::events::{self, Event};
use crate::{Config, ConfigError, RetryBudget, RetryBudgetBuilder, Source};

type Map = HashMap<Arc<str>, Registered>;

#[derive(Default)]
pub(crate) struct RetryBudgets {
    map: Named<Registered>,
    retired: Retired<RetryBudget>,
}

struct Registered {
    budget: Arc<RetryBudget>,
    /// The registration in code whose settings the budget has; a name-only one gives none.
    code: RetryBudgetBuilder,
    conflicts: Vec<&'static str>,
    sources: Vec<SettingSource>,
}

/// The settings in effect for `code` under `config`, with where each came from.
fn layered(
    config: &Config,
    code: &RetryBudgetBuilder,
) -> (RetryBudgetSettings, Vec<SettingSource>) {
    let (below, above) = config.layers(Attribute::RetryBudget, code.name());
    let mine = code.settings();
    let mut settings = RetryBudgetSettings::default();
    let mut sources = Vec::new();
    let mut take =
        |setting: &'static str, layer: &Layer, source: Source, s: &mut RetryBudgetSettings| {
            let Some(value) = layer.get(setting) else {
                return;
            };
            match (setting, value) {
                ("ratio", Value::Number(ratio)) => s.ratio = Some(*ratio),
                ("min_per_sec", Value::Count(floor)) => s.min_per_sec = Some(*floor),
                ("window", Value::Duration(window)) => s.window = Some(*window),
                _ => return,
            }
            sources.retain(|row: &SettingSource| row.setting != setting);
            sources.push(SettingSource {
                setting,
                value: value.to_string(),
                source,
            });
        };
    let mut code_layer = Layer::default();
    if let Some(ratio) = mine.ratio {
        code_layer.set("ratio", Value::Number(ratio), Source::Code);
    }
    if let Some(floor) = mine.min_per_sec {
        code_layer.set("min_per_sec", Value::Count(floor), Source::Code);
    }
    if let Some(window) = mine.window {
        code_layer.set("window", Value::Duration(window), Source::Code);
    }
    for (layer, source) in [
        (&below, Source::File),
        (&code_layer, Source::Code),
        (&above, Source::File),
    ] {
        for setting in ["ratio", "min_per_sec", "window"] {
            take(setting, layer, source, &mut settings);
        }
    }
    (settings, sources)
}

/// A builder with `settings` under `code`'s name.
fn builder_of(code: &RetryBudgetBuilder, settings: RetryBudgetSettings) -> RetryBudgetBuilder {
    let mut builder = RetryBudget::builder(Arc::clone(code.name()));
    if let Some(ratio) = settings.ratio {
        builder = builder.ratio(ratio);
    }
    if let Some(floor) = settings.min_per_sec {
        builder = builder.min_per_sec(floor);
    }
    if let Some(window) = settings.window {
        builder = builder.window(window);
    }
    builder
}

impl Registered {
    fn snapshot(&self, name: &str) -> PolicySnapshot {
        PolicySnapshot {
            kind: PolicyKind::RetryBudget,
            name: name.to_owned(),
            config: self.budget.config().to_string(),
            stats: PolicyStats::RetryBudget(self.budget.stats()),
            conflicts: self.conflicts.clone(),
            missing: false,
            sources: self.sources.clone(),
        }
    }
}

impl RetryBudgets {
    fn read(&self) -> RwLockReadGuard<'_, Map> {
        self.map.read()
    }

    fn get(&self, name: &str) -> Option<Arc<RetryBudget>> {
        self.read().get(name).map(|entry| Arc::clone(&entry.budget))
    }

    /// The budget named by the builder, registered if there is none yet. A builder with
    /// settings takes the place of a name-only registration's (the budget is reconfigured in
    /// place); otherwise its explicit settings that differ are recorded as a conflict.
    fn get_or_insert(
        &self,
        config: &Config,
        builder: RetryBudgetBuilder,
    ) -> Result<Arc<RetryBudget>, ConfigError> {
        // Checked first: settings that cannot be built are an error whoever registered first.
        builder.clone().build()?;
        let name = Arc::clone(builder.name());
        let gives_settings = !builder.given().is_empty();
        if let Some(entry) = self.read().get(&name) {
            if !gives_settings || !entry.code.given().is_empty() {
                let budget = Arc::clone(&entry.budget);
                let conflicts = builder.conflicts_with(&budget);
                return Ok(self.note_conflicts(&name, budget, conflicts));
            }
        }
        let mut map = self.map.write();
        let (settings, sources) = layered(config, &builder);
        // The file's settings over the code's break a rule the code's alone do not: the code's
        // run, and the refusal is reported.
        let built = match builder_of(&builder, settings).build() {
            Ok(built) => built,
            Err(error) => {
                events::emit(|| Event::ConfigRejected {
                    error: ConfigError::Invalid(crate::config::ConfigProblems(vec![
                        apply_problem(
                            config,
                            Some(Attribute::RetryBudget),
                            &name,
                            &error.to_string(),
                        ),
                    ])),
                });
                builder.clone().build()?
            }
        };
        if let Some(entry) = map.get_mut(&name) {
            if gives_settings && entry.code.given().is_empty() {
                entry.budget.reconfigure(built.config());
                entry.code = builder;
                entry.sources = sources;
                return Ok(Arc::clone(&entry.budget));
            }
            let budget = Arc::clone(&entry.budget);
            drop(map);
            let conflicts = builder.conflicts_with(&budget);
            return Ok(self.note_conflicts(&name, budget, conflicts));
        }
        let budget = match self.retired.revive(&name) {
            Some(budget) => {
                budget.reconfigure(built.config());
                budget.reset();
                budget
            }
            None => Arc::new(built),
        };
        map.insert(
            Arc::clone(&name),
            Registered {
                budget: Arc::clone(&budget),
                code: builder,
                conflicts: Vec::new(),
                sources,
            },
        );
        Ok(budget)
    }

    fn note_conflicts(
        &self,
        name: &Arc<str>,
        budget: Arc<RetryBudget>,
        conflicts: Vec<&'static str>,
    ) -> Arc<RetryBudget> {
        if conflicts.is_empty() {
            return budget;
        }
        if let Some(entry) = self.map.write().get_mut(name) {
            for key in &conflicts {
                if !entry.conflicts.contains(key) {
                    entry.conflicts.push(key);
                }
            }
        }
        events::emit(|| Event::ConfigConflict {
            kind: PolicyKind::RetryBudget,
            name: Arc::clone(name),
            keys: conflicts,
        });
        budget
    }

    /// Every registered budget's problems under `config`.
    pub(super) fn check(&self, config: &Config, problems: &mut Vec<ConfigProblem>) {
        for (name, entry) in self.read().iter() {
            let (settings, _) = layered(config, &entry.code);
            for problem in settings.problems() {
                problems.push(apply_problem(
                    config,
                    Some(Attribute::RetryBudget),
                    name,
                    &problem.to_string(),
                ));
            }
        }
    }

    /// Every registered budget reconfigured in place under `config`.
    pub(super) fn reconfigure(&self, config: &Config, changed: &mut Vec<PolicyChange>) {
        for (name, entry) in self.map.write().iter_mut() {
            let (settings, sources) = layered(config, &entry.code);
            let Ok(built) = builder_of(&entry.code, settings).build() else {
                continue;
            };
            let keys = entry.budget.reconfigure(built.config());
            entry.sources = sources;
            if !keys.is_empty() {
                changed.push(PolicyChange {
                    kind: PolicyKind::RetryBudget,
                    name: name.to_string(),
                    keys,
                });
            }
        }
    }

    pub(super) fn reset(&self, name: &str) -> bool {
        self.get(name).map(|budget| budget.reset()).is_some()
    }

    pub(super) fn unregister(&self, name: &str) -> bool {
        self.map.retire(name, &self.retired, |entry| entry.budget)
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
    /// The retry budget named by the builder, built and registered if there is none yet.
    ///
    /// When one exists it is returned as it is (the first registration that gave settings
    /// wins), unless it was registered by name alone (a `#[retry(budget = "api")]` that ran
    /// first): then it takes the builder's settings in place, keeping its counts. Settings a
    /// later builder gave that differ are a conflict in the snapshot and an
    /// [`Event::ConfigConflict`]. The file's `[retry_budget.NAME]` is above the code's settings.
    ///
    /// # Errors
    ///
    /// The builder's [`ConfigError`] (a ratio of 0 with a floor of 0, a value out of range),
    /// whether or not a budget of that name exists.
    ///
    /// ```
    /// use resilience::{registry, RetryBudget};
    /// use std::time::Duration;
    ///
    /// let budget = registry()
    ///     .retry_budget_or_register(
    ///         RetryBudget::builder("doc-api").ratio(0.2).min_per_sec(10).window(Duration::from_secs(10)),
    ///     )
    ///     .unwrap();
    /// assert_eq!(registry().retry_budget("doc-api").unwrap().config().ratio, 0.2);
    /// # drop(budget);
    /// ```
    pub fn retry_budget_or_register(
        &self,
        builder: RetryBudgetBuilder,
    ) -> Result<Arc<RetryBudget>, ConfigError> {
        self.retry_budgets
            .get_or_insert(&read_config(&self.config), builder)
    }

    /// The retry budget named `name`, if one is registered. Never creates one.
    pub fn retry_budget(&self, name: &str) -> Option<Arc<RetryBudget>> {
        self.retry_budgets.get(name)
    }

    /// The budget a retry or hedge names: the registered one, or one registered now with the
    /// defaults (and the file's settings for the name).
    pub(crate) fn retry_budget_named(&self, name: &str) -> Arc<RetryBudget> {
        if let Some(budget) = self.retry_budgets.get(name) {
            return budget;
        }
        match self.retry_budget_or_register(RetryBudget::builder(name)) {
            Ok(budget) => budget,
            // A name-only builder has nothing to refuse but a blank name, which the macros and
            // builders refuse first; kept total: an unregistered budget with the defaults.
            Err(_) => Arc::new(RetryBudget::with_defaults(Arc::from(name))),
        }
    }
}
