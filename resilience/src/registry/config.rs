//! Putting a [`Config`] in force: `apply`, reloading a file, `RESILIENCE_CONFIG`, and taking
//! policies out by name.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError};
use std::time::{Duration, SystemTime};

use resilience_settings::Attribute;

use super::{layered, PolicyKind, Registry, Shelf};
use crate::config::{label, ConfigProblem, ConfigProblems, Layered, ProblemKind};
use crate::events::{self, Event};
use crate::{Config, ConfigError, Source};

/// The environment variable naming a configuration file that the global registry applies when
/// it is first used.
pub const CONFIG_ENV: &str = "RESILIENCE_CONFIG";

/// What one policy's reconfiguration changed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct PolicyChange {
    /// The policy's kind.
    pub kind: PolicyKind,
    /// The policy's name.
    pub name: String,
    /// The settings whose values changed, as the attribute spells them.
    pub keys: Vec<&'static str>,
}

/// What [`Registry::apply`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct ApplyReport {
    /// Every registered policy whose settings changed, with the keys; policies the
    /// configuration names that are not registered yet take it when they are.
    pub changed: Vec<PolicyChange>,
}

impl ApplyReport {
    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        self.changed.is_empty()
    }
}

/// A problem a configuration makes for one registered policy: its settings, stacked on the
/// code's, break a rule (a file's `min_calls` above the attribute's count window).
pub(crate) fn apply_problem(
    config: &Config,
    attribute: Option<Attribute>,
    name: &str,
    message: &str,
) -> ConfigProblem {
    let section = attribute.and_then(|attribute| config.section(attribute, name));
    ConfigProblem {
        file: config.file.clone(),
        line: section.map_or(0, |section| section.line),
        column: section.map_or(0, |section| section.column),
        section: section.map_or_else(
            || label(&[attribute.map_or("policy", Attribute::name), name]),
            |section| section.label.clone(),
        ),
        key: None,
        kind: ProblemKind::Conflict,
        message: format!("with the code's settings: {message}"),
        suggestion: None,
    }
}

/// Every registered policy of the shelf, checked under `config`.
///
/// A policy whose settings only an earlier file gave (a composite's member, a bulkhead whose
/// `max` came from the file), and that this configuration no longer names, keeps the settings
/// it has: it is left out of the check, and [`reconfigure`] leaves it as it is.
fn check<P: Layered>(shelf: &Shelf<P>, config: &Config, problems: &mut Vec<ConfigProblem>) {
    for (name, entry) in shelf.read().iter() {
        let (_, builder) = layered::<P>(config, &entry.code, entry.code_source);
        let found = P::problems(&builder);
        if !found.is_empty() && orphaned::<P>(config, name, &entry.code) {
            continue;
        }
        for problem in found {
            problems.push(apply_problem(
                config,
                P::ATTRIBUTE,
                name,
                &problem.to_string(),
            ));
        }
    }
}

/// Whether the policy `name` has no settings but the file's, and `config` gives it none.
fn orphaned<P: Layered>(config: &Config, name: &str, code: &P::Builder) -> bool {
    P::build(code.clone()).is_err()
        && P::ATTRIBUTE.is_some_and(|attribute| config.section(attribute, name).is_none())
}

/// The members of the configuration's composites that are not registered yet (the
/// configuration creates them): their settings, checked before anything is registered.
fn check_new<P: Layered>(shelf: &Shelf<P>, config: &Config, problems: &mut Vec<ConfigProblem>) {
    let Some(attribute) = P::ATTRIBUTE else {
        return;
    };
    for (name, pipeline) in &config.pipelines {
        if !pipeline.members.contains_key(attribute.name()) || shelf.read().contains_key(&**name) {
            continue;
        }
        let (_, builder) = layered::<P>(config, &P::named(Arc::from(name.as_str())), Source::File);
        for problem in P::problems(&builder) {
            problems.push(apply_problem(
                config,
                P::ATTRIBUTE,
                name,
                &problem.to_string(),
            ));
        }
    }
}

/// Every registered policy of the shelf, reconfigured in place under `config`.
fn reconfigure<P: Layered>(shelf: &Shelf<P>, config: &Config, changed: &mut Vec<PolicyChange>) {
    for (name, entry) in shelf.write().iter_mut() {
        let (effective, builder) = layered::<P>(config, &entry.code, entry.code_source);
        // Checked above; a registration that slipped in between is left as it is.
        let Ok(built) = P::build(builder) else {
            continue;
        };
        let keys = entry.policy.reconfigure_from(built);
        entry.effective = effective;
        if !keys.is_empty() {
            changed.push(PolicyChange {
                kind: P::KIND,
                name: name.to_string(),
                keys,
            });
        }
    }
}

impl Registry {
    /// Puts `config` in force, whole or not at all: every registered policy is checked with
    /// the new settings stacked on its code's, and only if all pass is the configuration
    /// swapped in and each policy reconfigured **in place**, keeping its state (see
    /// [`Config`] for the precedence of sources).
    ///
    /// What survives: a circuit breaker keeps its state and counts (its window restarts only
    /// if the trip rule or the window's size changed); a bulkhead's new `max` applies at once
    /// (calls in flight over it finish; new ones wait or are rejected); a rate limiter's new
    /// rate applies from the next call; retry and timeout settings apply to calls that start
    /// after. Policies the configuration names that are not registered yet take it when they
    /// are. [`Event::ConfigApplied`] lists what changed.
    ///
    /// Applying [`Config::empty()`] takes back every setting an earlier file gave.
    ///
    /// ```
    /// use resilience::{registry, CircuitBreaker, Config};
    ///
    /// let breaker = registry()
    ///     .circuit_breaker_or_register(CircuitBreaker::builder("doc-apply").failure_threshold(5))
    ///     .unwrap();
    /// let config = Config::from_toml_str("[circuit_breaker.doc-apply]\nfailure_threshold = 2\n").unwrap();
    /// let report = registry().apply(&config).unwrap();
    /// assert_eq!(report.changed[0].keys, ["failure_threshold"]);
    /// breaker.record_failure();
    /// breaker.record_failure();
    /// assert_eq!(breaker.state(), resilience::CircuitState::Open);
    /// ```
    ///
    /// # Errors
    ///
    /// [`ConfigError::Invalid`] naming every policy whose stacked settings break a rule; the
    /// configuration in force is left as it was, and [`Event::ConfigRejected`] is sent.
    pub fn apply(&self, config: &Config) -> Result<ApplyReport, ConfigError> {
        let _one_at_a_time = self.applying.lock().unwrap_or_else(PoisonError::into_inner);
        let mut problems = Vec::new();
        check(&self.circuit_breakers, config, &mut problems);
        check(&self.retries, config, &mut problems);
        check(&self.timeouts, config, &mut problems);
        check(&self.bulkheads, config, &mut problems);
        check(&self.rate_limiters, config, &mut problems);
        check_new(&self.circuit_breakers, config, &mut problems);
        check_new(&self.retries, config, &mut problems);
        check_new(&self.timeouts, config, &mut problems);
        check_new(&self.bulkheads, config, &mut problems);
        check_new(&self.rate_limiters, config, &mut problems);
        self.retry_budgets.check(config, &mut problems);
        self.chaos.check(config, &mut problems);
        if !problems.is_empty() {
            let error = ConfigError::Invalid(ConfigProblems(problems));
            self.reject(error.clone());
            return Err(error);
        }
        *self.config.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(config.clone());
        *self
            .config_error
            .write()
            .unwrap_or_else(PoisonError::into_inner) = None;
        let mut changed = Vec::new();
        reconfigure(&self.circuit_breakers, config, &mut changed);
        reconfigure(&self.retries, config, &mut changed);
        reconfigure(&self.timeouts, config, &mut changed);
        reconfigure(&self.bulkheads, config, &mut changed);
        reconfigure(&self.rate_limiters, config, &mut changed);
        self.retry_budgets.reconfigure(config, &mut changed);
        self.chaos.reconfigure(config, &mut changed);
        self.define_configured_pipelines(config);
        changed.sort_by(|a, b| a.name.cmp(&b.name).then(a.kind.cmp(&b.kind)));
        let report = ApplyReport { changed };
        let applied = report.changed.clone();
        events::emit(|| Event::ConfigApplied { changed: applied });
        Ok(report)
    }

    /// Records a refused configuration: kept for [`config_error`](Self::config_error) and sent
    /// as [`Event::ConfigRejected`].
    pub(crate) fn reject(&self, error: ConfigError) {
        *self
            .config_error
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Some(error.clone());
        events::emit(|| Event::ConfigRejected { error });
    }

    /// Why the last configuration offered was refused (a bad `RESILIENCE_CONFIG` file, a
    /// reload that failed), until one is applied. Health reports it.
    pub fn config_error(&self) -> Option<ConfigError> {
        self.config_error
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The configuration in force (empty until one is applied).
    pub fn config(&self) -> Arc<Config> {
        super::read_config(&self.config)
    }

    /// Reads the file at `path` and applies it; see [`apply`](Self::apply).
    ///
    /// # Errors
    ///
    /// What [`Config::from_file`] or [`apply`](Self::apply) returns; either way nothing
    /// changes, and the error is kept for [`config_error`](Self::config_error).
    pub fn apply_file(&self, path: impl AsRef<Path>) -> Result<ApplyReport, ConfigError> {
        match Config::from_file(path) {
            Ok(config) => self.apply(&config),
            Err(error) => {
                self.reject(error.clone());
                Err(error)
            }
        }
    }

    /// Applies the file at `path` now, then every `every` checks it and applies it again when
    /// it changed (its modification time, size or content): an operator edits the file and
    /// the running program picks it up. A file that fails to read or apply, or that
    /// disappears, leaves the configuration in force as it was; the error is reported as
    /// [`Event::ConfigRejected`] and kept for [`config_error`](Self::config_error), and the
    /// next good version is applied.
    ///
    /// Runs on the current Tokio runtime until the returned [`ConfigWatch`] is dropped.
    ///
    /// # Panics
    ///
    /// Outside a Tokio runtime, as `tokio::spawn` does.
    pub fn watch_config(&'static self, path: impl Into<PathBuf>, every: Duration) -> ConfigWatch {
        let path = path.into();
        let every = every.max(Duration::from_millis(1));
        let task = tokio::spawn(async move {
            let mut seen: Option<Version> = None;
            let mut ticks = tokio::time::interval(every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                let version = Version::of(&path);
                if seen.as_ref() == Some(&version) {
                    continue;
                }
                let result = match &version {
                    Version::Missing(kind) => {
                        let error = ConfigError::Io {
                            path: path.clone(),
                            kind: *kind,
                        };
                        self.reject(error.clone());
                        Err(error)
                    }
                    Version::Present { .. } => self.apply_file(&path).map(drop),
                };
                // A version that failed is not tried again until it changes.
                let _ = result;
                seen = Some(version);
            }
        });
        ConfigWatch { task }
    }

    /// Takes every policy named `name` (of any kind, composites included) out of the registry:
    /// gone from every listing. The next registration under the name is a fresh policy that
    /// every call site uses from then on (sites keep the same object, which the registration
    /// revives with its settings and clean state). Returns whether anything had that name.
    ///
    /// ```
    /// use resilience::{registry, CircuitBreaker};
    ///
    /// let first = registry()
    ///     .circuit_breaker_or_register(CircuitBreaker::builder("doc-unregister").failure_threshold(1))
    ///     .unwrap();
    /// first.record_failure();
    /// assert!(registry().unregister_policy("doc-unregister"));
    /// assert!(!registry().policy_names().contains(&"doc-unregister".to_owned()));
    /// let again = registry()
    ///     .circuit_breaker_or_register(CircuitBreaker::builder("doc-unregister").failure_threshold(3))
    ///     .unwrap();
    /// assert_eq!(first.state(), resilience::CircuitState::Closed, "the same object, fresh");
    /// assert_eq!(again.stats().failures, 0);
    /// ```
    pub fn unregister_policy(&self, name: &str) -> bool {
        [
            self.circuit_breakers.unregister(name),
            self.retries.unregister(name),
            self.timeouts.unregister(name),
            self.bulkheads.unregister(name),
            self.rate_limiters.unregister(name),
            self.fallbacks.unregister(name),
            self.unregister_pipeline(name),
            self.health_monitors.unregister(name),
            self.supervisors.unregister(name),
            self.retry_budgets.unregister(name),
            self.chaos.unregister(name),
            self.hedges.unregister(name),
        ]
        .contains(&true)
    }

    /// Every registered name, of every kind and composites, sorted, each once.
    pub fn policy_names(&self) -> Vec<String> {
        let mut names = Vec::new();
        self.circuit_breakers.names(&mut names);
        self.retries.names(&mut names);
        self.timeouts.names(&mut names);
        self.bulkheads.names(&mut names);
        self.rate_limiters.names(&mut names);
        self.fallbacks.names(&mut names);
        self.pipeline_names(&mut names);
        self.health_monitors.names(&mut names);
        self.supervisors.names(&mut names);
        self.retry_budgets.names(&mut names);
        self.chaos.names(&mut names);
        self.hedges.names(&mut names);
        names.sort();
        names.dedup();
        names
    }

    /// The registry `registry()` starts with: `RESILIENCE_CONFIG` applied, if set. A file that
    /// fails never panics: the registry runs on the other sources and remembers why.
    pub(crate) fn from_env() -> Registry {
        let registry = Registry::default();
        if let Some(path) = std::env::var_os(CONFIG_ENV) {
            // Nothing is registered yet, so applying cannot fail once the file reads.
            let _ = registry.apply_file(PathBuf::from(path));
        }
        registry
    }
}

/// A file watched by [`Registry::watch_config`]; dropping it stops the watch.
#[derive(Debug)]
#[must_use = "the watch stops when this is dropped"]
pub struct ConfigWatch {
    task: tokio::task::JoinHandle<()>,
}

impl ConfigWatch {
    /// Stops watching.
    pub fn stop(self) {}
}

impl Drop for ConfigWatch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What a watched file looked like at one look.
#[derive(Debug, PartialEq, Eq)]
enum Version {
    Missing(std::io::ErrorKind),
    Present {
        modified: Option<SystemTime>,
        len: u64,
        hash: u64,
    },
}

impl Version {
    fn of(path: &Path) -> Version {
        let metadata = match std::fs::metadata(path) {
            Ok(metadata) => metadata,
            Err(error) => return Version::Missing(error.kind()),
        };
        // The content too: a write within the file system's mtime resolution, or a copy that
        // keeps the time, still counts. Files past the size limit are not read here; applying
        // them reports it.
        let hash = if metadata.len() <= crate::config::MAX_FILE_BYTES {
            match std::fs::read(path) {
                Ok(bytes) => {
                    let mut hasher = DefaultHasher::new();
                    bytes.hash(&mut hasher);
                    hasher.finish()
                }
                Err(error) => return Version::Missing(error.kind()),
            }
        } else {
            0
        };
        Version::Present {
            modified: metadata.modified().ok(),
            len: metadata.len(),
            hash,
        }
    }
}
