//! The registry's composite policies: pipelines by name, with their members registered as
//! policies of their own kinds under the same name.
//!
//! A name called before anything defined it (by `#[resilient]` or `Registry::execute`) gets an
//! empty pipeline marked missing: its calls run unprotected, `Event::PolicyMissing` reports it
//! once, and a later definition fills that same pipeline in place, so every call site that
//! already holds it is protected from its next call on.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, RwLockReadGuard, RwLockWriteGuard};

use super::named::{Named, Retired};
use super::{PolicyKind, PolicySnapshot, PolicyStats, Registry};
use crate::config::Layered;
use crate::events::{self, Event};
use crate::{
    Bulkhead, CircuitBreaker, Config, ConfigError, Error, Failure, Pipeline, PipelineBuilder,
    PipelineMembers, RateLimiter, Retry, Timeout,
};

type Map = HashMap<Arc<str>, Registered>;

/// The pipelines by name.
#[derive(Default)]
pub(crate) struct Pipelines {
    map: Named<Registered>,
    /// Pipelines taken out by `Registry::unregister_policy`, for the next definition.
    retired: Retired<Pipeline>,
}

struct Registered {
    pipeline: Arc<Pipeline>,
    /// Called by name before anything defined it; cleared by a definition.
    missing: bool,
    /// Member kinds (as `[policy.NAME]` spells them) that a later registration in code gave
    /// differently; the members in force are the first definition's.
    conflicts: Vec<&'static str>,
}

impl Registered {
    fn snapshot(&self, name: &str) -> PolicySnapshot {
        PolicySnapshot {
            kind: PolicyKind::Pipeline,
            name: name.to_owned(),
            config: self.pipeline.members().config_line(),
            stats: PolicyStats::Pipeline(self.pipeline.stats()),
            conflicts: self.conflicts.clone(),
            missing: self.missing,
            // The members' settings and their sources are in the members' own rows.
            sources: Vec::new(),
        }
    }
}

impl Pipelines {
    fn read(&self) -> RwLockReadGuard<'_, Map> {
        self.map.read()
    }

    fn write(&self) -> RwLockWriteGuard<'_, Map> {
        self.map.write()
    }

    fn get(&self, name: &str) -> Option<Arc<Pipeline>> {
        self.read()
            .get(name)
            .map(|entry| Arc::clone(&entry.pipeline))
    }

    /// The pipeline named `name`; an empty one marked missing, reported once, when there is
    /// none yet.
    fn get_or_missing(&self, name: &str) -> Arc<Pipeline> {
        if let Some(pipeline) = self.get(name) {
            return pipeline;
        }
        let name: Arc<str> = Arc::from(name);
        let pipeline = {
            let mut map = self.write();
            // Another thread may have made it between the read and the write.
            if let Some(entry) = map.get(&name) {
                return Arc::clone(&entry.pipeline);
            }
            self.insert(&mut map, &name, PipelineMembers::default(), true)
        };
        // Only the thread that made the placeholder reports it: once per name.
        events::emit(|| Event::PolicyMissing {
            kind: PolicyKind::Pipeline,
            name,
        });
        pipeline
    }

    /// Gives `name` these members: a new pipeline, or the existing one's members replaced in
    /// place. The name is no longer missing.
    fn define(&self, name: &str, members: PipelineMembers) -> Arc<Pipeline> {
        self.define_in(&mut self.write(), name, members)
    }

    /// [`define`](Self::define) with the map locked.
    fn define_in(&self, map: &mut Map, name: &str, members: PipelineMembers) -> Arc<Pipeline> {
        if let Some(entry) = map.get_mut(name) {
            entry.pipeline.replace_members(members);
            entry.missing = false;
            return Arc::clone(&entry.pipeline);
        }
        self.insert(map, &Arc::from(name), members, false)
    }

    /// Records a pipeline under a name that has none: the one unregistered under it, fresh, or
    /// a new one.
    fn insert(
        &self,
        map: &mut Map,
        name: &Arc<str>,
        members: PipelineMembers,
        missing: bool,
    ) -> Arc<Pipeline> {
        let pipeline = match self.retired.revive(name) {
            Some(pipeline) => {
                pipeline.replace_members(members);
                pipeline.reset_stats();
                pipeline
            }
            None => Arc::new(Pipeline::with_members(Arc::clone(name), members)),
        };
        map.insert(
            Arc::clone(name),
            Registered {
                pipeline: Arc::clone(&pipeline),
                missing,
                conflicts: Vec::new(),
            },
        );
        pipeline
    }

    /// Takes the pipeline named `name` out of every listing; the next definition revives it.
    fn unregister(&self, name: &str) -> bool {
        self.map.retire(name, &self.retired, |entry| entry.pipeline)
    }

    /// The members of the pipeline named `name`, if something defined it (a placeholder of a
    /// name called too early is not defined).
    fn defined_members(&self, name: &str) -> Option<Arc<PipelineMembers>> {
        self.read()
            .get(name)
            .filter(|entry| !entry.missing)
            .map(|entry| entry.pipeline.members())
    }

    /// A registration in code of `members`, out of the builder's `given` ones: defines the name
    /// unless something defined it already, in which case that definition stays and the member
    /// kinds given differently are reported as a conflict.
    fn register(
        &self,
        name: &Arc<str>,
        members: PipelineMembers,
        given: [bool; 5],
    ) -> Arc<Pipeline> {
        let (pipeline, conflicts) = {
            let mut map = self.write();
            let Some(entry) = map.get_mut(&**name).filter(|entry| !entry.missing) else {
                return self.define_in(&mut map, name, members);
            };
            let conflicts = differing_members(presence(&entry.pipeline.members()), given);
            for key in &conflicts {
                if !entry.conflicts.contains(key) {
                    entry.conflicts.push(key);
                }
            }
            (Arc::clone(&entry.pipeline), conflicts)
        };
        if !conflicts.is_empty() {
            events::emit(|| Event::ConfigConflict {
                kind: PolicyKind::Pipeline,
                name: Arc::clone(name),
                keys: conflicts,
            });
        }
        pipeline
    }

    fn missing(&self) -> Vec<Arc<str>> {
        let mut names: Vec<Arc<str>> = self
            .read()
            .iter()
            .filter(|(_, entry)| entry.missing)
            .map(|(name, _)| Arc::clone(name))
            .collect();
        names.sort();
        names
    }

    /// Resets the pipeline's own counter (its members are reset as policies of their kinds).
    pub(super) fn reset(&self, name: &str) -> bool {
        self.get(name)
            .map(|pipeline| pipeline.reset_stats())
            .is_some()
    }

    fn names(&self, names: &mut Vec<String>) {
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

/// A configured composite's member: the policy of its kind and name, which `apply` has just
/// reconfigured with the file's settings, or one registered now as a name-only site registers,
/// with them. Every member was checked with the configuration before it was applied; one the
/// builders refuse all the same is left out rather than failing the others.
fn member<P: Layered>(
    existing: Option<Arc<P>>,
    builder: impl FnOnce() -> P::Builder,
    registry: &Registry,
) -> Option<Arc<P>> {
    existing.or_else(|| registry.register::<P>(builder()).ok())
}

/// The members' keys, as `[policy.NAME]` spells them, in the order of [`presence`].
const MEMBER_KEYS: [&str; 5] = [
    "retry",
    "circuit_breaker",
    "rate_limit",
    "timeout",
    "bulkhead",
];

/// Which members are there, in the order of [`MEMBER_KEYS`].
fn presence(members: &PipelineMembers) -> [bool; 5] {
    [
        members.retry.is_some(),
        members.circuit_breaker.is_some(),
        members.rate_limiter.is_some(),
        members.timeout.is_some(),
        members.bulkhead.is_some(),
    ]
}

/// The keys of the members present in one set and not the other.
fn differing_members(existing: [bool; 5], given: [bool; 5]) -> Vec<&'static str> {
    MEMBER_KEYS
        .into_iter()
        .zip(existing.into_iter().zip(given))
        .filter_map(|(key, (existing, given))| (existing != given).then_some(key))
        .collect()
}

impl Registry {
    /// Registers the composite policy the builder describes, and returns it.
    ///
    /// Each member is registered under the pipeline's name as a policy of its kind, as
    /// [`circuit_breaker_or_register`](Self::circuit_breaker_or_register) and its siblings do
    /// (so it shows in [`policies`](Self::policies), and a policy of that kind and name that
    /// exists already is the member, its settings in force and a difference reported as a
    /// conflict). Then the pipeline is recorded: a name called before, by
    /// `#[resilient(policy = "NAME")]` or [`execute`](Self::execute), gets its members in place,
    /// so the sites holding it are protected from their next call on. A name defined already
    /// keeps its members (the first definition wins, as for every policy): of the builder's
    /// members only those of the kinds it has are registered (their differing settings reported
    /// as usual), and member kinds given differently are reported as an
    /// [`Event::ConfigConflict`] of kind
    /// [`PolicyKind::Pipeline`] and in the snapshot.
    ///
    /// # Errors
    ///
    /// A member's [`ConfigError`], or a blank name's. The settings are checked before anything
    /// is registered: a refused builder registers nothing.
    ///
    /// ```
    /// use resilience::{registry, Pipeline, PolicyKind};
    /// use std::time::Duration;
    ///
    /// registry()
    ///     .register_pipeline(
    ///         Pipeline::builder("doc-payment-service")
    ///             .retry(|retry| retry.max_attempts(3))
    ///             .circuit_breaker(|breaker| breaker.failure_rate(0.5).window_duration(Duration::from_secs(60)))
    ///             .timeout(Duration::from_secs(5))
    ///             .bulkhead(|bulkhead| bulkhead.max_concurrent(10)),
    ///     )
    ///     .unwrap();
    /// let kinds: Vec<PolicyKind> = registry()
    ///     .policies()
    ///     .iter()
    ///     .filter(|p| p.name() == "doc-payment-service")
    ///     .map(|p| p.kind())
    ///     .collect();
    /// assert_eq!(
    ///     kinds,
    ///     [
    ///         PolicyKind::CircuitBreaker,
    ///         PolicyKind::Retry,
    ///         PolicyKind::Timeout,
    ///         PolicyKind::Bulkhead,
    ///         PolicyKind::Pipeline,
    ///     ]
    /// );
    /// ```
    pub fn register_pipeline(
        &self,
        builder: PipelineBuilder,
    ) -> Result<Arc<Pipeline>, ConfigError> {
        // Every setting is checked before anything is registered.
        builder.clone().build()?;
        let name = Arc::clone(builder.name());
        let given = builder.presence();
        // A name defined already keeps its members: only the kinds it has are registered (to
        // report a setting that differs), none that it would not use.
        let [retry, circuit_breaker, rate_limit, timeout, bulkhead] = self
            .pipelines
            .defined_members(&name)
            .map_or([true; 5], |defined| presence(&defined));
        let members = PipelineMembers {
            retry: (builder.retry.filter(|_| retry))
                .map(|b| self.retry_or_register(b))
                .transpose()?,
            circuit_breaker: (builder.circuit_breaker.filter(|_| circuit_breaker))
                .map(|b| self.circuit_breaker_or_register(b))
                .transpose()?,
            rate_limiter: (builder.rate_limit.filter(|_| rate_limit))
                .map(|b| self.rate_limiter_or_register(b))
                .transpose()?,
            timeout: (builder.timeout.filter(|_| timeout))
                .map(|b| self.timeout_or_register(b))
                .transpose()?,
            bulkhead: (builder.bulkhead.filter(|_| bulkhead))
                .map(|b| self.bulkhead_or_register(b))
                .transpose()?,
        };
        Ok(self.pipelines.register(&name, members, given))
    }

    /// The composite policy named `name`, if one is registered: defined, or called by name
    /// before anything defined it (then empty, and marked missing in the snapshot). Never
    /// creates one.
    pub fn pipeline(&self, name: &str) -> Option<Arc<Pipeline>> {
        self.pipelines.get(name)
    }

    /// Runs `op` through the composite policy named `name`: see [`Pipeline::execute`].
    ///
    /// A name that nothing has defined yet runs `op` unprotected, rather than failing every call
    /// of a mis-deployed service: the name gets an empty pipeline, marked missing in the
    /// snapshot and reported once by [`Event::PolicyMissing`] (kind [`PolicyKind::Pipeline`]),
    /// which a later definition fills in place. `#[resilient(policy = "NAME")]` follows the same
    /// rule.
    ///
    /// Each call looks the name up (a read lock and a hash); on a hot path keep the pipeline
    /// from [`pipeline`](Self::pipeline) or [`register_pipeline`](Self::register_pipeline), or
    /// use `#[resilient]`, whose site looks it up once.
    ///
    /// ```
    /// use resilience::{registry, Pipeline};
    /// use std::time::Duration;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// registry()
    ///     .register_pipeline(Pipeline::builder("doc-execute").timeout(Duration::from_millis(100)))
    ///     .unwrap();
    /// let slow = registry()
    ///     .execute("doc-execute", || async {
    ///         tokio::time::sleep(Duration::from_secs(1)).await;
    ///         Ok::<_, std::io::Error>("late")
    ///     })
    ///     .await;
    /// assert_eq!(slow.unwrap_err().kind(), std::io::ErrorKind::TimedOut);
    ///
    /// // Not defined: runs unprotected, and the snapshot says so.
    /// let ran = registry().execute("doc-undefined", || async { Ok::<_, std::io::Error>(7) }).await;
    /// assert_eq!(ran.unwrap(), 7);
    /// assert!(registry().policies().iter().any(|p| p.name() == "doc-undefined" && p.missing()));
    /// # }
    /// ```
    pub async fn execute<T, E, F, Fut>(&self, name: &str, mut op: F) -> Result<T, E>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: From<Error>,
    {
        let pipeline = self.pipeline_or_missing(name);
        pipeline
            .run(&mut op, crate::pipeline::type_name_of::<E>)
            .await
            .map_err(Failure::into_error)
    }

    /// The composite policy named `name`, or an empty one marked missing (reported once) when
    /// nothing defined it yet: what `#[resilient]` sites and [`execute`](Self::execute) run.
    pub(crate) fn pipeline_or_missing(&self, name: &str) -> Arc<Pipeline> {
        self.pipelines.get_or_missing(name)
    }

    /// Defines the composite policy `name` with `members` (the configuration's `[policy.NAME]`):
    /// a new pipeline, or the existing one's members replaced in place, which the call sites
    /// holding it use from their next call on (a call already running keeps the members it
    /// started with). Clears the name's missing mark. The members are the caller's to register.
    pub(crate) fn define_pipeline(&self, name: &str, members: PipelineMembers) -> Arc<Pipeline> {
        self.pipelines.define(name, members)
    }

    /// Defines each composite of the configuration (`[policy.NAME]`, applied whole): its
    /// members, registered under its name with the file's settings (as a name-only site
    /// registers, so a registration in code with settings still takes their place, under the
    /// file's), become the composite's members in place. The section lists every member: a kind
    /// it does not name is no member, whatever the code registered. A composite the
    /// configuration does not name keeps the members it has.
    pub(crate) fn define_configured_pipelines(&self, config: &Config) {
        for (name, section) in &config.pipelines {
            let has = |kind: &str| section.members.contains_key(kind);
            let members = PipelineMembers {
                retry: has("retry")
                    .then(|| member(self.retry(name), || Retry::builder(name.as_str()), self))
                    .flatten(),
                circuit_breaker: has("circuit_breaker")
                    .then(|| {
                        member(
                            self.circuit_breaker(name),
                            || CircuitBreaker::builder(name.as_str()),
                            self,
                        )
                    })
                    .flatten(),
                rate_limiter: has("rate_limit")
                    .then(|| {
                        member(
                            self.rate_limiter(name),
                            || RateLimiter::builder(name.as_str()),
                            self,
                        )
                    })
                    .flatten(),
                timeout: has("timeout")
                    .then(|| member(self.timeout(name), || Timeout::builder(name.as_str()), self))
                    .flatten(),
                bulkhead: has("bulkhead")
                    .then(|| {
                        member(
                            self.bulkhead(name),
                            || Bulkhead::builder(name.as_str()),
                            self,
                        )
                    })
                    .flatten(),
            };
            self.define_pipeline(name, members);
        }
    }

    /// Takes the composite named `name` out of every listing (its members are unregistered
    /// as policies of their kinds); the next definition of the name revives the same object,
    /// fresh, so the sites holding it use that definition from then on.
    pub(crate) fn unregister_pipeline(&self, name: &str) -> bool {
        self.pipelines.unregister(name)
    }

    /// Adds the composites' names to `names`.
    pub(crate) fn pipeline_names(&self, names: &mut Vec<String>) {
        self.pipelines.names(names);
    }

    /// The composite policies called by name before anything defined them, sorted: each still
    /// runs its calls unprotected (for health: `degraded`, naming them).
    #[allow(dead_code)] // For the health report.
    pub(crate) fn missing_pipelines(&self) -> Vec<Arc<str>> {
        self.pipelines.missing()
    }
}
