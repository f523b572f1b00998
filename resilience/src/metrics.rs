//! Metrics through the [`metrics`](https://docs.rs/metrics) facade (feature `metrics`).
//!
//! Two sources feed the facade, so that a call's success path never touches it:
//!
//! - **Events**, as they happen: every [`Event`] increments a counter (and a transition sets the
//!   breaker's state gauge). Events come only from rejections, retries, timeouts, transitions and
//!   conflicts, never from a call that simply succeeds. These counters run for the life of the
//!   process; [`Registry::reset`](crate::Registry::reset) does not touch them.
//! - **The registry's counters**, when [`Registry::record_metrics`] runs (from an exporter's
//!   scrape hook or on an interval): `resilience_calls_total` by outcome, successes included,
//!   and the gauges of live state. Counting successes per call through the facade would cost a
//!   key lookup in the recorder (and an allocation for the labels) on every call, so they are
//!   read from the policies' own atomic counters instead. Each call adds what a stat gained
//!   since the previous call, so the exported counter only grows, as a counter must, and counts
//!   every outcome once however often `record_metrics` runs. Every stat exported this way counts
//!   outcomes as they complete, so it never goes down, except by a reset:
//!   [`Registry::reset`](crate::Registry::reset) first sets aside what the policy gained since
//!   the previous `record_metrics`, so the next one exports it with what follows the reset, and
//!   nothing is lost. A policy's own `reset_stats()` bypasses the registry: the exporter sees its
//!   stat drop and counts the new value as all new, so what happened between the previous
//!   `record_metrics` and that reset is not exported.
//!
//! Without the feature this module is a constant `false` and an empty inline function.
//!
//! | metric | type | labels | source |
//! |---|---|---|---|
//! | `resilience_calls_total` | counter | `kind`, `name`, `outcome` | `record_metrics` |
//! | `resilience_circuit_state` | gauge: 0 closed, 1 open, 2 half-open | `name` | transitions, `record_metrics` |
//! | `resilience_circuit_failure_rate` | gauge, 0.0–1.0 (rate rule only) | `name` | `record_metrics` |
//! | `resilience_bulkhead_in_flight` | gauge | `name` | `record_metrics` |
//! | `resilience_bulkhead_queued` | gauge | `name` | `record_metrics` |
//! | `resilience_bulkhead_available` | gauge | `name` | `record_metrics` |
//! | `resilience_rate_limiter_available` | gauge | `name` | `record_metrics` |
//! | `resilience_health_monitor_crashes_in_window` | gauge | `name` | `record_metrics` |
//! | `resilience_health_monitor_healthy` | gauge: 1 healthy, 0 not | `name` | `record_metrics` |
//! | `resilience_circuit_transitions_total` | counter | `name`, `from`, `to` | events |
//! | `resilience_rejections_total` | counter | `kind`, `name` | events |
//! | `resilience_retries_total` | counter | `name` | events |
//! | `resilience_retries_exhausted_total` | counter | `name` | events |
//! | `resilience_timeouts_total` | counter | `name` | events |
//! | `resilience_config_conflicts_total` | counter | `kind`, `name` | events |
//! | `resilience_health_status` | gauge: 0 healthy, 1 degraded, 2 unhealthy | | each [`Registry::health`](crate::Registry::health) |
//!
//! `outcome` of `resilience_calls_total`, by `kind`:
//! `circuit_breaker`: `success`, `failure`, `ignored`, `rejected`;
//! `retry`: `success` (first attempt), `recovered` (after a retry), `exhausted`, `not_retryable`;
//! `timeout`: `timed_out`, `in_time` (finished before the deadline; a call still running, or
//! dropped by its caller first, is neither);
//! `bulkhead`: `rejected` (admitted calls are not counted, see
//! [`BulkheadStats`](crate::BulkheadStats));
//! `rate_limiter`: `permitted` (those that waited included), `rejected`;
//! `policy` (a composite, [`Pipeline`](crate::Pipeline)): `unprotected` (calls run while it had
//! no member, its name not defined yet);
//! `health_monitor` ([`HealthMonitor`](crate::HealthMonitor)): `crash` (crashes recorded).

/// Whether events must be built for the metrics facade even when nobody subscribes.
pub(crate) const ENABLED: bool = cfg!(feature = "metrics");

#[cfg(not(feature = "metrics"))]
#[inline(always)]
pub(crate) fn record_event(_event: &crate::Event) {}

/// Runs a registry reset of the policies named `name`; without the feature, nothing more.
#[cfg(not(feature = "metrics"))]
#[inline(always)]
pub(crate) fn around_reset(
    _registry: &crate::Registry,
    _name: &str,
    reset: impl FnOnce() -> bool,
) -> bool {
    reset()
}

#[cfg(not(feature = "metrics"))]
#[inline(always)]
pub(crate) fn record_health(_status: crate::HealthStatus) {}

#[cfg(feature = "metrics")]
pub(crate) use enabled::{around_reset, record_event, record_health};

#[cfg(feature = "metrics")]
mod enabled {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};

    use metrics::{counter, describe_counter, describe_gauge, gauge, SharedString};

    use crate::registry::{PolicyKind, PolicyStats, Registry};
    use crate::{CircuitState, Event, PolicySnapshot};

    const CALLS: &str = "resilience_calls_total";
    const CIRCUIT_STATE: &str = "resilience_circuit_state";
    const CIRCUIT_FAILURE_RATE: &str = "resilience_circuit_failure_rate";
    const BULKHEAD_IN_FLIGHT: &str = "resilience_bulkhead_in_flight";
    const BULKHEAD_QUEUED: &str = "resilience_bulkhead_queued";
    const BULKHEAD_AVAILABLE: &str = "resilience_bulkhead_available";
    const RATE_LIMITER_AVAILABLE: &str = "resilience_rate_limiter_available";
    const MONITOR_IN_WINDOW: &str = "resilience_health_monitor_crashes_in_window";
    const MONITOR_HEALTHY: &str = "resilience_health_monitor_healthy";
    const TRANSITIONS: &str = "resilience_circuit_transitions_total";
    const REJECTIONS: &str = "resilience_rejections_total";
    const RETRIES: &str = "resilience_retries_total";
    const RETRIES_EXHAUSTED: &str = "resilience_retries_exhausted_total";
    const TIMEOUTS: &str = "resilience_timeouts_total";
    const CONFLICTS: &str = "resilience_config_conflicts_total";
    const HEALTH: &str = "resilience_health_status";

    /// Sets the health gauge.
    pub(crate) fn record_health(status: crate::HealthStatus) {
        describe();
        gauge!(HEALTH).set(f64::from(status.level()));
    }

    /// The value of `resilience_circuit_state`.
    fn state_value(state: CircuitState) -> f64 {
        match state {
            CircuitState::Closed => 0.0,
            CircuitState::Open => 1.0,
            CircuitState::HalfOpen => 2.0,
        }
    }

    /// A label value from the policy's shared name: a reference count, not a copy.
    fn shared(name: &Arc<str>) -> SharedString {
        SharedString::from(Arc::clone(name))
    }

    pub(crate) fn record_event(event: &Event) {
        let Some(name) = event.name_arc().map(shared) else {
            // The configuration as a whole: the policies' own metrics show its effect.
            return;
        };
        match event {
            Event::CircuitTransition { from, to, .. } => {
                counter!(TRANSITIONS, "name" => name.clone(), "from" => from.as_str(), "to" => to.as_str())
                    .increment(1);
                gauge!(CIRCUIT_STATE, "name" => name).set(state_value(*to));
            }
            // Counted with the breaker's transitions, without the key (one series per key would
            // grow without bound); the state gauge is the breaker's own circuit's.
            Event::KeyTransition { from, to, .. } => {
                counter!(TRANSITIONS, "name" => name, "from" => from.as_str(), "to" => to.as_str())
                    .increment(1);
            }
            Event::CallRejected { kind, .. } => {
                counter!(REJECTIONS, "kind" => kind.as_str(), "name" => name).increment(1);
            }
            Event::RetryAttempt { .. } => counter!(RETRIES, "name" => name).increment(1),
            Event::RetriesExhausted { .. } => {
                counter!(RETRIES_EXHAUSTED, "name" => name).increment(1);
            }
            Event::TimedOut { .. } => counter!(TIMEOUTS, "name" => name).increment(1),
            Event::ConfigConflict { kind, .. }
            | Event::SettingsRejected { kind, .. }
            | Event::PolicyMissing { kind, .. } => {
                counter!(CONFLICTS, "kind" => kind.as_str(), "name" => name).increment(1);
            }
            // The restarts are counted from the supervisor's stats (`outcome="restart"`).
            Event::ChildRestarted { .. }
            | Event::SupervisorGaveUp { .. }
            | Event::RetryBudgetExhausted { .. }
            | Event::Hedged { .. }
            | Event::ChaosInjected { .. } => {}
            Event::ConfigApplied { .. }
            | Event::ConfigRejected { .. }
            | Event::HealthChanged { .. }
            | Event::StoreUnavailable { .. }
            | Event::StoreRejoined { .. } => {}
        }
    }

    /// Names the metrics for the recorder (Prometheus' `# HELP` lines).
    fn describe() {
        describe_counter!(CALLS, "Calls through a resilience policy, by outcome.");
        describe_gauge!(
            CIRCUIT_STATE,
            "Circuit breaker state: 0 closed, 1 open, 2 half-open."
        );
        describe_gauge!(
            CIRCUIT_FAILURE_RATE,
            "Failure rate over a circuit breaker's current window (failure-rate rule)."
        );
        describe_gauge!(BULKHEAD_IN_FLIGHT, "Calls holding a bulkhead slot.");
        describe_gauge!(BULKHEAD_QUEUED, "Callers waiting for a bulkhead slot.");
        describe_gauge!(BULKHEAD_AVAILABLE, "Free bulkhead slots.");
        describe_gauge!(
            RATE_LIMITER_AVAILABLE,
            "Calls a rate limiter would admit at once now."
        );
        describe_gauge!(
            MONITOR_IN_WINDOW,
            "Crashes a health monitor counts in its window."
        );
        describe_gauge!(
            MONITOR_HEALTHY,
            "Whether a health monitor is within its crash limit: 1 healthy, 0 not."
        );
        describe_counter!(TRANSITIONS, "Circuit breaker state transitions.");
        describe_counter!(
            REJECTIONS,
            "Calls rejected by a policy without running (open circuit, full bulkhead)."
        );
        describe_counter!(RETRIES, "Retries: sleeps before another attempt.");
        describe_counter!(
            RETRIES_EXHAUSTED,
            "Retried calls that gave up: attempts or time spent, or an error not retried."
        );
        describe_counter!(TIMEOUTS, "Calls dropped by a timeout.");
        describe_counter!(
            CONFLICTS,
            "Registrations that gave a policy name settings different from the registered ones."
        );
        describe_gauge!(
            HEALTH,
            "The program's health as last computed: 0 healthy, 1 degraded, 2 unhealthy."
        );
    }

    impl Registry {
        /// Records every policy's counters and live state in the installed `metrics` recorder
        /// (feature `metrics`): `resilience_calls_total{kind,name,outcome}` and the gauges
        /// `resilience_circuit_state`, `resilience_circuit_failure_rate`,
        /// `resilience_bulkhead_{in_flight,queued,available}`, `resilience_rate_limiter_available`,
        /// `resilience_health_monitor_{crashes_in_window,healthy}`.
        ///
        /// Call it where the exporter collects (before a scrape) or on an interval: the success
        /// path of a call does not feed the facade, so the success counts reach it here. The
        /// counters driven by events (`resilience_rejections_total`,
        /// `resilience_retries_total`, …) need no call. Every metric is described in the
        /// [crate's feature docs](crate#features) and the README.
        ///
        /// ```
        /// use resilience::{registry, CircuitBreaker};
        ///
        /// let breaker = registry()
        ///     .circuit_breaker_or_register(CircuitBreaker::builder("doc-metrics"))
        ///     .unwrap();
        /// breaker.record_success();
        /// // With a recorder installed (`metrics_exporter_prometheus`, ...), this sets
        /// // resilience_calls_total{kind="circuit_breaker",name="doc-metrics",outcome="success"} 1
        /// registry().record_metrics();
        /// ```
        pub fn record_metrics(&self) {
            describe();
            // Held while the stats are read, not only while they are compared: two
            // `record_metrics` at once (or one and a reset) would otherwise compare stats read
            // at different moments, and take the older, lower one for a reset.
            let mut exported = exported();
            for policy in self.policies() {
                record_policy(&mut exported, &policy);
            }
        }
    }

    /// What was exported of one stat: `resilience_calls_total{kind,name,outcome}`.
    #[derive(Debug, Default)]
    struct Tally {
        /// The stat's value when it was last read.
        seen: u64,
        /// What the stat gained before a registry reset zeroed it, not exported yet.
        set_aside: u64,
    }

    impl Tally {
        /// What the stat adds since it was last read, now that it reads `now`. Every exported
        /// stat counts completed outcomes and only grows between resets, so a stat below the
        /// last reading was reset by the policy's own `reset_stats()` (a registry reset sets
        /// `seen` back to zero itself): all of it is new.
        fn gain(&mut self, now: u64) -> u64 {
            let gained = now.checked_sub(self.seen).unwrap_or(now);
            self.seen = now;
            gained
        }
    }

    /// Each exported stat by kind, name and outcome.
    type Exported = HashMap<(PolicyKind, String, &'static str), Tally>;

    fn exported() -> MutexGuard<'static, Exported> {
        static EXPORTED: OnceLock<Mutex<Exported>> = OnceLock::new();
        // The map holds plain numbers, valid whatever a panicking holder was doing.
        EXPORTED
            .get_or_init(Mutex::default)
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `reset`, a registry reset of the policies named `name`, keeping what they gained
    /// since the last `record_metrics` for the next one to export.
    pub(crate) fn around_reset(
        registry: &Registry,
        name: &str,
        reset: impl FnOnce() -> bool,
    ) -> bool {
        // Held across the reset: a `record_metrics` in between would read the zeroed stats and
        // take them for a reset it does not know of.
        let mut exported = exported();
        for policy in registry.policies_named(name) {
            for_each_outcome(&policy.stats, |outcome, now| {
                let key = (policy.kind, policy.name.clone(), outcome);
                let tally = exported.entry(key).or_default();
                let gained = tally.gain(now);
                tally.set_aside = tally.set_aside.saturating_add(gained);
                tally.seen = 0;
            });
        }
        reset()
    }

    /// Calls `outcome(label, stat)` for each `outcome` label of `resilience_calls_total` the
    /// policy exports, with the stat it is read from.
    fn for_each_outcome(stats: &PolicyStats, mut outcome: impl FnMut(&'static str, u64)) {
        match stats {
            PolicyStats::CircuitBreaker(s) => {
                outcome("success", s.successes);
                outcome("failure", s.failures);
                outcome("ignored", s.ignored);
                outcome("rejected", s.rejected);
            }
            PolicyStats::Retry(s) => {
                outcome("success", s.successes_without_retry);
                outcome("recovered", s.successes_after_retry);
                outcome("exhausted", s.exhausted);
                outcome("not_retryable", s.not_retryable);
            }
            PolicyStats::Timeout(s) => {
                outcome("timed_out", s.timeouts);
                outcome("in_time", s.in_time);
            }
            PolicyStats::Bulkhead(s) => outcome("rejected", s.rejected),
            PolicyStats::Fallback(s) => {
                outcome("answered", s.answered);
                outcome("passed", s.passed);
            }
            PolicyStats::RateLimiter(s) => {
                outcome("permitted", s.permitted);
                outcome("rejected", s.rejected);
            }
            PolicyStats::Pipeline(s) => outcome("unprotected", s.unprotected_calls),
            PolicyStats::HealthMonitor(s) => outcome("crash", s.total_crashes),
            PolicyStats::Supervisor(s) => outcome("restart", s.restarts),
            PolicyStats::RetryBudget(s) => {
                outcome("withdrawn", s.withdrawals);
                outcome("refused", s.refusals);
            }
            PolicyStats::Hedge(s) => {
                outcome("hedged", s.hedged);
                outcome("refused", s.refused);
            }
            PolicyStats::Chaos(s) => {
                outcome("fault", s.injected_faults);
                outcome("delay", s.injected_delays);
            }
        }
    }

    fn record_policy(exported: &mut Exported, policy: &PolicySnapshot) {
        let kind = policy.kind.as_str();
        let name = SharedString::from(policy.name.clone());
        for_each_outcome(&policy.stats, |outcome, now| {
            let key = (policy.kind, policy.name.clone(), outcome);
            let tally = exported.entry(key).or_default();
            let gained = tally
                .gain(now)
                .saturating_add(std::mem::take(&mut tally.set_aside));
            // Registered even when nothing was gained, so that a scrape shows every outcome.
            counter!(CALLS, "kind" => kind, "name" => name.clone(), "outcome" => outcome)
                .increment(gained);
        });
        match &policy.stats {
            PolicyStats::CircuitBreaker(s) => {
                gauge!(CIRCUIT_STATE, "name" => name.clone()).set(state_value(s.state));
                if let Some(rate) = s.failure_rate {
                    gauge!(CIRCUIT_FAILURE_RATE, "name" => name).set(rate);
                }
            }
            PolicyStats::Bulkhead(s) => {
                gauge!(BULKHEAD_IN_FLIGHT, "name" => name.clone()).set(s.in_flight);
                gauge!(BULKHEAD_QUEUED, "name" => name.clone()).set(s.queued);
                gauge!(BULKHEAD_AVAILABLE, "name" => name).set(s.available);
            }
            PolicyStats::RateLimiter(s) => {
                gauge!(RATE_LIMITER_AVAILABLE, "name" => name).set(s.available);
            }
            PolicyStats::HealthMonitor(s) => {
                // Exact up to 2^53 crashes in a window.
                gauge!(MONITOR_IN_WINDOW, "name" => name.clone()).set(s.crashes_in_window as f64);
                gauge!(MONITOR_HEALTHY, "name" => name).set(if s.healthy { 1.0 } else { 0.0 });
            }
            PolicyStats::Retry(_)
            | PolicyStats::Timeout(_)
            | PolicyStats::Fallback(_)
            | PolicyStats::Pipeline(_)
            | PolicyStats::Supervisor(_)
            | PolicyStats::RetryBudget(_)
            | PolicyStats::Hedge(_)
            | PolicyStats::Chaos(_) => {}
        }
    }
}
