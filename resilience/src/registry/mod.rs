//! The global registry: every policy by kind and name, for sharing and for inspection.

mod chaos;
mod config;
mod health;
mod health_monitors;
mod hedges;
#[cfg(feature = "test-util")]
pub(crate) mod isolation;
mod kind;
mod named;
mod pipelines;
mod registered;
mod retry_budgets;
mod shutdown;
mod snapshot;
mod store;
mod supervisors;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use named::{Named, Retired};

use crate::config::layer::Layer;
use crate::config::{ConfigProblems, Layered};
use crate::events::{self, Event};
use crate::{
    Bulkhead, BulkheadBuilder, CircuitBreaker, CircuitBreakerBuilder, ConfigError, Fallback,
    FallbackBuilder, RateLimiter, RateLimiterBuilder, Retry, RetryBuilder, Timeout, TimeoutBuilder,
};
use crate::{Config, Source};

pub(crate) use registered::RegisteredPolicy;

use crate::config::ConfigProblem;
pub use config::{ApplyReport, ConfigWatch, PolicyChange, CONFIG_ENV};
pub use kind::PolicyKind;
pub(crate) use shutdown::DRAIN_POLL;
pub use snapshot::{PolicySnapshot, PolicyStats, RegistrySnapshot, SettingSource};

/// The process-wide registry every annotated function registers its policies in.
///
/// With the `test-util` feature, inside `resilience::testing::isolated` (and
/// `#[resilience::test]`) it is that test's registry of its own instead.
///
/// ```
/// use resilience::{registry, CircuitBreaker, CircuitState};
///
/// let breaker = registry()
///     .circuit_breaker_or_register(CircuitBreaker::builder("doc-registry").failure_threshold(2))
///     .unwrap();
/// breaker.record_failure();
/// breaker.record_failure();
/// assert_eq!(registry().circuit_breaker("doc-registry").unwrap().state(), CircuitState::Open);
/// println!("{}", registry().snapshot());
/// ```
pub fn registry() -> &'static Registry {
    #[cfg(feature = "test-util")]
    if let Some(isolated) = isolation::current() {
        return isolated.registry();
    }
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(Registry::from_env)
}

/// Policies by kind and name. Get the global one with [`registry()`] (or, with the `test-util`
/// feature, a test's own: `resilience::testing::Isolation`).
///
/// Lookups take a read lock; annotated call sites look their policy up once, on their first
/// call, and keep it in a `static`, so the lock is never on a call's path.
#[derive(Default)]
pub struct Registry {
    circuit_breakers: Shelf<CircuitBreaker>,
    retries: Shelf<Retry>,
    timeouts: Shelf<Timeout>,
    bulkheads: Shelf<Bulkhead>,
    rate_limiters: Shelf<RateLimiter>,
    fallbacks: Shelf<Fallback>,
    /// Composite policies: `registry/pipelines.rs`.
    pipelines: pipelines::Pipelines,
    /// Health monitors: `registry/health_monitors.rs`.
    health_monitors: health_monitors::HealthMonitors,
    /// Supervisors: `registry/supervisors.rs`.
    supervisors: supervisors::Supervisors,
    /// Retry budgets: `registry/retry_budgets.rs`.
    retry_budgets: retry_budgets::RetryBudgets,
    /// Chaos policies: `registry/chaos.rs`.
    chaos: chaos::ChaosPolicies,
    /// Hedges: `registry/hedges.rs`.
    hedges: hedges::Hedges,
    /// See [`Registry::strict_names`].
    strict_names: AtomicBool,
    /// The configuration in force: see [`Registry::apply`].
    pub(crate) config: RwLock<Arc<Config>>,
    /// What the last refused configuration said, until one is applied.
    pub(crate) config_error: RwLock<Option<ConfigError>>,
    /// One `apply` at a time.
    pub(crate) applying: Mutex<()>,
    /// The user's health checks.
    pub(crate) checks: crate::health::Checks,
    /// The last health status computed, as its gauge level: see [`Registry::health`].
    pub(crate) last_health: std::sync::atomic::AtomicU8,
    /// The store shared policies use: see [`Registry::set_store`].
    pub(crate) store: RwLock<Option<Arc<crate::store::StoreHandle>>>,
}

pub(crate) struct Entry<P: RegisteredPolicy> {
    pub(crate) policy: Arc<P>,
    /// The registration whose settings the policy has, below and above the file's: the first
    /// that gave any (a name-only site's builder gives none, and gives way to the next).
    pub(crate) code: P::Builder,
    /// Whether `code` came from an attribute or a builder in code.
    pub(crate) code_source: Source,
    /// The settings in effect, each with where it came from.
    pub(crate) effective: Layer,
    /// Keys another site set to a different value than this policy's configuration.
    pub(crate) conflicts: Vec<&'static str>,
    /// Registered, with the defaults, by a site that gave only the name while names were strict
    /// and nothing had given the name settings: see [`Registry::strict_names`].
    pub(crate) missing: bool,
}

type Map<P> = HashMap<Arc<str>, Entry<P>>;

pub(crate) struct Shelf<P: RegisteredPolicy> {
    map: Named<Entry<P>>,
    /// Policies taken out by [`Registry::unregister_policy`], for the next registration.
    retired: Retired<P>,
}

impl<P: RegisteredPolicy> Default for Shelf<P> {
    fn default() -> Self {
        Shelf {
            map: Named::default(),
            retired: Retired::default(),
        }
    }
}

/// The builder for a policy's settings in effect under `config`: the file's defaults and base,
/// then the code's settings, then the file's section.
pub(crate) fn layered<P: Layered>(
    config: &Config,
    code: &P::Builder,
    code_source: Source,
) -> (Layer, P::Builder) {
    let Some(attribute) = P::ATTRIBUTE else {
        return (Layer::default(), code.clone());
    };
    let (below, above) = config.layers(attribute, P::builder_name(code));
    let mut effective = below.with_source(Source::File);
    effective.stack(attribute, &P::code_layer(code, code_source));
    effective.stack(attribute, &above.with_source(Source::File));
    let builder = P::layered(code, &effective);
    (effective, builder)
}

impl<P: Layered> Shelf<P> {
    pub(crate) fn read(&self) -> RwLockReadGuard<'_, Map<P>> {
        self.map.read()
    }

    pub(crate) fn write(&self) -> RwLockWriteGuard<'_, Map<P>> {
        self.map.write()
    }

    fn get(&self, name: &str) -> Option<Arc<P>> {
        self.read().get(name).map(|entry| Arc::clone(&entry.policy))
    }

    /// [`get_or_insert`](Self::get_or_insert) for a site that gives only the name: under
    /// strict names, a name nothing has given settings is registered with the defaults, marked
    /// missing, and reported.
    fn get_or_register_name_only(
        &self,
        config: &RwLock<Arc<Config>>,
        builder: P::Builder,
        strict: bool,
    ) -> Result<Arc<P>, ConfigError> {
        let given = {
            let config = read_config(config);
            P::ATTRIBUTE.is_some_and(|attribute| {
                config
                    .section(attribute, P::builder_name(&builder))
                    .is_some()
            })
        };
        if !strict || given || self.get(P::builder_name(&builder)).is_some() {
            return self.get_or_insert(config, builder, Source::Attribute, false);
        }
        let name = Arc::clone(P::builder_name(&builder));
        let policy = self.get_or_insert(config, builder, Source::Attribute, true)?;
        events::emit(|| Event::PolicyMissing {
            kind: P::KIND,
            name,
        });
        Ok(policy)
    }

    /// The policy named by the builder, built with the settings in effect (the file's layers
    /// around the builder's) and registered if there is none yet. When there is one: a builder
    /// with settings takes the place of a name-only registration's (the policy is reconfigured
    /// in place), and otherwise its explicit settings that differ are recorded as a conflict.
    pub(crate) fn get_or_insert(
        &self,
        config: &RwLock<Arc<Config>>,
        builder: P::Builder,
        source: Source,
        missing: bool,
    ) -> Result<Arc<P>, ConfigError> {
        let name = Arc::clone(P::builder_name(&builder));
        let gives_settings = !P::code_layer(&builder, source).is_empty();
        {
            let map = self.read();
            if let Some(entry) = map.get(&*name) {
                let settled = !gives_settings || !P::code_layer(&entry.code, source).is_empty();
                if settled {
                    let conflicts = self.conflicts(&builder, entry);
                    let existing = Arc::clone(&entry.policy);
                    drop(map);
                    self.note_conflicts(&name, conflicts);
                    return Ok(existing);
                }
            }
        }
        // Built under the write lock, with the configuration read under it: an `apply` either
        // swapped its configuration in before (and this reads it) or reconfigures this entry
        // after.
        let mut map = self.write();
        let config = read_config(config);
        if let Some(entry) = map.get_mut(&*name) {
            if gives_settings && P::code_layer(&entry.code, entry.code_source).is_empty() {
                // A name-only registration gives way to the first with settings.
                let (effective, layered) = build_layered::<P>(&config, &builder, source, &name)?;
                entry.policy.reconfigure_from(layered);
                entry.code = builder;
                entry.code_source = source;
                entry.effective = effective;
                entry.missing = false;
                return Ok(Arc::clone(&entry.policy));
            }
            let conflicts = self.conflicts(&builder, entry);
            let existing = Arc::clone(&entry.policy);
            drop(map);
            self.note_conflicts(&name, conflicts);
            return Ok(existing);
        }
        let (effective, built) = build_layered::<P>(&config, &builder, source, &name)?;
        let policy = match self.retired.revive(&name) {
            Some(policy) => {
                policy.reconfigure_from(built);
                policy.reset();
                policy
            }
            None => Arc::new(built),
        };
        map.insert(
            Arc::clone(&name),
            Entry {
                policy: Arc::clone(&policy),
                code: builder,
                code_source: source,
                effective,
                conflicts: Vec::new(),
                missing,
            },
        );
        Ok(policy)
    }

    /// The keys `builder` sets to other values than the registration in effect gave (the file
    /// aside: a file's override is not a disagreement between sites). When that registration
    /// cannot stand alone (a bulkhead whose `max` only the file gives), the policy as it runs
    /// is the reference.
    fn conflicts(&self, builder: &P::Builder, entry: &Entry<P>) -> Vec<&'static str> {
        if P::code_layer(builder, entry.code_source).is_empty() {
            return Vec::new();
        }
        match P::build(entry.code.clone()) {
            Ok(code) => P::conflicts(builder, &code),
            Err(_) => P::conflicts(builder, &entry.policy),
        }
    }

    fn note_conflicts(&self, name: &Arc<str>, keys: Vec<&'static str>) {
        if keys.is_empty() {
            return;
        }
        if let Some(entry) = self.write().get_mut(&**name) {
            for key in &keys {
                if !entry.conflicts.contains(key) {
                    entry.conflicts.push(key);
                }
            }
        }
        events::emit(|| Event::ConfigConflict {
            kind: P::KIND,
            name: Arc::clone(name),
            keys,
        });
    }

    fn reset(&self, name: &str) -> bool {
        self.get(name).map(|policy| policy.reset()).is_some()
    }

    /// Takes the policy named `name` out of every listing; the next registration under the
    /// name revives it, fresh.
    pub(crate) fn unregister(&self, name: &str) -> bool {
        self.map.retire(name, &self.retired, |entry| entry.policy)
    }

    pub(crate) fn names(&self, names: &mut Vec<String>) {
        self.map.names(names);
    }

    /// The snapshot of the policy named `name`, if there is one.
    fn snapshot_named(&self, name: &str, rows: &mut Vec<PolicySnapshot>) {
        if let Some((name, entry)) = self.read().get_key_value(name) {
            rows.push(PolicySnapshot::of(name, entry));
        }
    }

    fn snapshots(&self, rows: &mut Vec<PolicySnapshot>) {
        rows.extend(
            self.read()
                .iter()
                .map(|(name, entry)| PolicySnapshot::of(name, entry)),
        );
    }
}

/// The policy for `builder` with the file's settings stacked around its own. When the stack
/// breaks a rule that the builder alone does not (the file was checked against the policies
/// registered when it was applied, not against this one), the policy runs on the builder's
/// settings and the refusal is reported as [`Event::ConfigRejected`].
fn build_layered<P: Layered>(
    config: &Config,
    builder: &P::Builder,
    source: Source,
    name: &Arc<str>,
) -> Result<(Layer, P), ConfigError> {
    let (effective, layered_builder) = layered::<P>(config, builder, source);
    match P::build(layered_builder) {
        Ok(built) => Ok((effective, built)),
        Err(error) => {
            let (own, _) = layered::<P>(&Config::empty(), builder, source);
            let built = P::build(builder.clone())?;
            events::emit(|| Event::ConfigRejected {
                error: ConfigError::Invalid(ConfigProblems(vec![config::apply_problem(
                    config,
                    P::ATTRIBUTE,
                    name,
                    &error.to_string(),
                )])),
            });
            Ok((own, built))
        }
    }
}

pub(crate) fn read_config(config: &RwLock<Arc<Config>>) -> Arc<Config> {
    Arc::clone(&config.read().unwrap_or_else(PoisonError::into_inner))
}

impl Registry {
    /// The circuit breaker named `name`, if one is registered.
    pub fn circuit_breaker(&self, name: &str) -> Option<Arc<CircuitBreaker>> {
        self.circuit_breakers.get(name)
    }

    /// The retry policy named `name`, if one is registered.
    pub fn retry(&self, name: &str) -> Option<Arc<Retry>> {
        self.retries.get(name)
    }

    /// The timeout named `name`, if one is registered.
    pub fn timeout(&self, name: &str) -> Option<Arc<Timeout>> {
        self.timeouts.get(name)
    }

    /// The bulkhead named `name`, if one is registered.
    pub fn bulkhead(&self, name: &str) -> Option<Arc<Bulkhead>> {
        self.bulkheads.get(name)
    }

    /// The fallback named `name`, if one is registered.
    pub fn fallback(&self, name: &str) -> Option<Arc<Fallback>> {
        self.fallbacks.get(name)
    }

    /// The rate limiter named `name`, if one is registered.
    pub fn rate_limiter(&self, name: &str) -> Option<Arc<RateLimiter>> {
        self.rate_limiters.get(name)
    }

    /// The circuit breaker named by the builder, built and registered if there is none yet.
    ///
    /// When one exists, it is returned as it is (the first registration wins); settings the builder
    /// gave explicitly that differ from it are recorded as a conflict in the snapshot and sent as an
    /// [`Event::ConfigConflict`].
    pub fn circuit_breaker_or_register(
        &self,
        builder: CircuitBreakerBuilder,
    ) -> Result<Arc<CircuitBreaker>, ConfigError> {
        self.circuit_breakers
            .get_or_insert(&self.config, builder, Source::Code, false)
    }

    /// The retry policy named by the builder, registered if there is none yet; see
    /// [`circuit_breaker_or_register`](Self::circuit_breaker_or_register).
    pub fn retry_or_register(&self, builder: RetryBuilder) -> Result<Arc<Retry>, ConfigError> {
        self.retries
            .get_or_insert(&self.config, builder, Source::Code, false)
    }

    /// The timeout named by the builder, registered if there is none yet; see
    /// [`circuit_breaker_or_register`](Self::circuit_breaker_or_register).
    pub fn timeout_or_register(
        &self,
        builder: TimeoutBuilder,
    ) -> Result<Arc<Timeout>, ConfigError> {
        self.timeouts
            .get_or_insert(&self.config, builder, Source::Code, false)
    }

    /// The bulkhead named by the builder, registered if there is none yet; see
    /// [`circuit_breaker_or_register`](Self::circuit_breaker_or_register).
    pub fn bulkhead_or_register(
        &self,
        builder: BulkheadBuilder,
    ) -> Result<Arc<Bulkhead>, ConfigError> {
        self.bulkheads
            .get_or_insert(&self.config, builder, Source::Code, false)
    }

    /// The rate limiter named by the builder, registered if there is none yet; see
    /// [`circuit_breaker_or_register`](Self::circuit_breaker_or_register).
    ///
    /// ```
    /// use resilience::{registry, RateLimiter};
    /// use std::time::Duration;
    ///
    /// let limiter = registry()
    ///     .rate_limiter_or_register(RateLimiter::builder("doc-registry-limiter").rate(2))
    ///     .unwrap();
    /// assert!(limiter.try_acquire().is_ok());
    /// assert_eq!(registry().rate_limiter("doc-registry-limiter").unwrap().stats().available, 1);
    /// ```
    pub fn rate_limiter_or_register(
        &self,
        builder: RateLimiterBuilder,
    ) -> Result<Arc<RateLimiter>, ConfigError> {
        self.rate_limiters
            .get_or_insert(&self.config, builder, Source::Code, false)
    }

    /// The fallback named by the builder, registered if there is none yet; see
    /// [`circuit_breaker_or_register`](Self::circuit_breaker_or_register).
    pub fn fallback_or_register(
        &self,
        builder: FallbackBuilder,
    ) -> Result<Arc<Fallback>, ConfigError> {
        self.fallbacks
            .get_or_insert(&self.config, builder, Source::Code, false)
    }

    /// Registers the policy of any kind (the macros' path).
    pub(crate) fn register<P: Layered>(&self, builder: P::Builder) -> Result<Arc<P>, ConfigError> {
        P::shelf(self).get_or_insert(&self.config, builder, Source::Attribute, false)
    }

    /// Registers the policy of a site that gives only a name (the macros' path): see
    /// [`strict_names`](Self::strict_names).
    pub(crate) fn register_name_only<P: Layered>(
        &self,
        builder: P::Builder,
    ) -> Result<Arc<P>, ConfigError> {
        P::shelf(self).get_or_register_name_only(&self.config, builder, self.is_strict_names())
    }

    /// Strict names: a site that gives only a `name` (`#[circuit_breaker(name = "payments")]`)
    /// expects the name's settings from elsewhere, a site with settings or a registration at
    /// startup. With strict names on, when nothing has given the name settings by that site's
    /// first call, the policy it gets is registered with the defaults but marked missing: the
    /// snapshot shows it (`PolicySnapshot::missing`, `MISSING` in the table) and
    /// [`Event::PolicyMissing`] reports it, so a typo in a shared name, or a startup
    /// registration that never ran, is seen instead of silently running on defaults. Off by
    /// default.
    ///
    /// ```
    /// use resilience::{circuit_breaker, registry};
    ///
    /// #[circuit_breaker(name = "doc-strict-paymnets")] // a typo of "doc-strict-payments"
    /// async fn charge() -> Result<(), std::io::Error> {
    ///     Ok(())
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// registry().strict_names(true);
    /// charge().await.unwrap();
    /// let row = registry()
    ///     .policies()
    ///     .into_iter()
    ///     .find(|p| p.name() == "doc-strict-paymnets")
    ///     .unwrap();
    /// assert!(row.missing());
    /// # }
    /// ```
    pub fn strict_names(&self, strict: bool) {
        self.strict_names.store(strict, Ordering::Relaxed);
    }

    /// Whether [`strict_names`](Self::strict_names) is on.
    pub fn is_strict_names(&self) -> bool {
        self.strict_names.load(Ordering::Relaxed)
    }

    /// Subscribes to every policy's [`Event`]s from now on.
    ///
    /// A subscriber that falls more than 1024 events behind loses the oldest
    /// ([`RecvError::Lagged`](tokio::sync::broadcast::error::RecvError::Lagged)).
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Event> {
        events::subscribe()
    }

    /// Resets every policy named `name`: a breaker closes with fresh counts, a rate limiter's
    /// bucket fills up, and every policy's counters go back to zero. Returns whether any policy has that name.
    ///
    /// With the `metrics` feature, what the policies counted since the last
    /// [`record_metrics`](Self::record_metrics) is kept for the next one: the exported counters
    /// lose nothing to a reset.
    pub fn reset(&self, name: &str) -> bool {
        crate::metrics::around_reset(self, name, || {
            // Every kind is reset: no short-circuit.
            [
                self.circuit_breakers.reset(name),
                self.retries.reset(name),
                self.timeouts.reset(name),
                self.bulkheads.reset(name),
                self.rate_limiters.reset(name),
                self.fallbacks.reset(name),
                self.pipelines.reset(name),
                self.health_monitors.reset(name),
                self.retry_budgets.reset(name),
                self.chaos.reset(name),
                self.hedges.reset(name),
            ]
            .contains(&true)
        })
    }

    /// Every registered policy named `name`, one per kind at most.
    #[cfg_attr(not(feature = "metrics"), allow(dead_code))]
    pub(crate) fn policies_named(&self, name: &str) -> Vec<PolicySnapshot> {
        let mut rows = Vec::new();
        self.circuit_breakers.snapshot_named(name, &mut rows);
        self.retries.snapshot_named(name, &mut rows);
        self.timeouts.snapshot_named(name, &mut rows);
        self.bulkheads.snapshot_named(name, &mut rows);
        self.rate_limiters.snapshot_named(name, &mut rows);
        self.fallbacks.snapshot_named(name, &mut rows);
        self.pipelines.snapshot_named(name, &mut rows);
        self.health_monitors.snapshot_named(name, &mut rows);
        self.supervisors.snapshot_named(name, &mut rows);
        self.retry_budgets.snapshot_named(name, &mut rows);
        self.chaos.snapshot_named(name, &mut rows);
        self.hedges.snapshot_named(name, &mut rows);
        rows
    }

    /// Every registered policy, sorted by name then kind.
    pub fn policies(&self) -> Vec<PolicySnapshot> {
        let mut rows = Vec::new();
        self.circuit_breakers.snapshots(&mut rows);
        self.retries.snapshots(&mut rows);
        self.timeouts.snapshots(&mut rows);
        self.bulkheads.snapshots(&mut rows);
        self.rate_limiters.snapshots(&mut rows);
        self.fallbacks.snapshots(&mut rows);
        self.pipelines.snapshots(&mut rows);
        self.health_monitors.snapshots(&mut rows);
        self.supervisors.snapshots(&mut rows);
        self.retry_budgets.snapshots(&mut rows);
        self.chaos.snapshots(&mut rows);
        self.hedges.snapshots(&mut rows);
        rows.sort_by(|a, b| a.name.cmp(&b.name).then(a.kind.cmp(&b.kind)));
        rows
    }

    /// A snapshot of every policy, printable as a table.
    pub fn snapshot(&self) -> RegistrySnapshot {
        RegistrySnapshot {
            policies: self.policies(),
            health: self.health_now(),
        }
    }
}
