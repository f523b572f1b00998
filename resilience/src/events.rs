//! Events: what the policies did, delivered to subscribers and (feature `tracing`) to `tracing`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::sync::broadcast;

use crate::circuit_breaker::{CircuitState, TransitionCause};
use crate::metrics;
use crate::registry::PolicyKind;
use crate::Error;

/// Events a slow subscriber may fall behind by before it starts losing the oldest.
const CHANNEL_CAPACITY: usize = 1024;

/// Something a policy did that an operator may want to know.
///
/// Receive them with [`Registry::subscribe`](crate::Registry::subscribe).
///
/// ```
/// use resilience::{CircuitState, Event};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let mut events = resilience::registry().subscribe();
/// let breaker = resilience::registry().circuit_breaker_or_register(
///     resilience::CircuitBreaker::builder("doc-events").failure_threshold(1),
/// )?;
/// breaker.record_failure();
/// match events.recv().await.unwrap() {
///     Event::CircuitTransition { name, to, .. } => {
///         assert_eq!(&*name, "doc-events");
///         assert_eq!(to, CircuitState::Open);
///     }
///     other => panic!("unexpected {other}"),
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Event {
    /// A circuit breaker changed state.
    #[non_exhaustive]
    CircuitTransition {
        /// The breaker's name.
        name: Arc<str>,
        /// The state it left.
        from: CircuitState,
        /// The state it entered.
        to: CircuitState,
        /// Why it changed.
        cause: TransitionCause,
    },
    /// One key's circuit of a keyed circuit breaker changed state (the breaker's own state,
    /// that of its unkeyed calls, did not).
    #[non_exhaustive]
    KeyTransition {
        /// The breaker's name.
        name: Arc<str>,
        /// The key's `Debug` text, cut to [`MAX_KEY_TEXT`](crate::keyed::MAX_KEY_TEXT)
        /// characters.
        key: Arc<str>,
        /// The state the key left.
        from: CircuitState,
        /// The state it entered.
        to: CircuitState,
        /// Why it changed.
        cause: TransitionCause,
    },
    /// A policy rejected a call (an open circuit, a full bulkhead).
    #[non_exhaustive]
    CallRejected {
        /// The kind of policy that rejected it.
        kind: PolicyKind,
        /// The rejection, with the policy's name.
        error: Error,
        /// For a keyed policy, the key whose state rejected it: its `Debug` text, cut to
        /// [`MAX_KEY_TEXT`](crate::keyed::MAX_KEY_TEXT) characters. `None` for an unkeyed one.
        key: Option<Arc<str>>,
    },
    /// A retry is about to sleep before its next attempt.
    #[non_exhaustive]
    RetryAttempt {
        /// The retry's name.
        name: Arc<str>,
        /// The attempt that just failed, counting from 1.
        attempt: u32,
        /// The sleep before the next attempt.
        delay: Duration,
        /// The failure, as its `Display` text.
        error: String,
    },
    /// A retry gave up: attempts exhausted, `max_elapsed` reached or the error is not retryable.
    #[non_exhaustive]
    RetriesExhausted {
        /// The retry's name.
        name: Arc<str>,
        /// Attempts made.
        attempts: u32,
        /// The last failure, as its `Display` text.
        error: String,
    },
    /// A timeout fired and dropped the call.
    #[non_exhaustive]
    TimedOut {
        /// The timeout's name.
        name: Arc<str>,
        /// The configured limit.
        after: Duration,
    },
    /// Two sites gave one policy name different settings; the first registration won.
    #[non_exhaustive]
    ConfigConflict {
        /// The policy's kind.
        kind: PolicyKind,
        /// The policy's name.
        name: Arc<str>,
        /// The keys whose explicit values differ from the registered policy's.
        keys: Vec<&'static str>,
    },
    /// Under strict names, a site that gives only a name registered it with the defaults:
    /// nothing had given that name settings ([`Registry::strict_names`](crate::Registry::strict_names)).
    /// Or, of kind [`PolicyKind::Pipeline`], a composite policy was called by name
    /// (`#[resilient(policy = "NAME")]`, [`Registry::execute`](crate::Registry::execute)) before
    /// anything defined it: its calls run unprotected until it is defined. Sent once per name.
    #[non_exhaustive]
    PolicyMissing {
        /// The policy's kind.
        kind: PolicyKind,
        /// The policy's name.
        name: Arc<str>,
    },
    /// A call site's settings could not be built, so the site runs with the kind's default
    /// settings instead, unregistered. The attributes check their settings at compile time
    /// against the same table the builders use, so this reports a bug rather than a typo.
    #[non_exhaustive]
    SettingsRejected {
        /// The policy's kind.
        kind: PolicyKind,
        /// The policy's name.
        name: Arc<str>,
        /// Why the settings were refused.
        error: crate::ConfigError,
    },
    /// A configuration was put in force ([`Registry::apply`](crate::Registry::apply), a
    /// reload of a watched file).
    #[non_exhaustive]
    ConfigApplied {
        /// Every registered policy whose settings changed, with the keys.
        changed: Vec<crate::registry::PolicyChange>,
    },
    /// The program's health changed, as [`Registry::health`](crate::Registry::health) computed
    /// it.
    #[non_exhaustive]
    HealthChanged {
        /// The status before.
        from: crate::HealthStatus,
        /// The status now.
        to: crate::HealthStatus,
    },
    /// A configuration was refused, and the one in force stays: a file that does not read, or
    /// settings that break a rule once stacked on a policy's code.
    #[non_exhaustive]
    ConfigRejected {
        /// Every problem.
        error: crate::ConfigError,
    },
    /// A [`Supervisor`](crate::Supervisor) restarted a child that ended (with the siblings its
    /// strategy takes).
    #[non_exhaustive]
    ChildRestarted {
        /// The supervisor's name.
        supervisor: Arc<str>,
        /// The child that ended.
        child: Arc<str>,
        /// How it ended: `"failed: …"`, `"panicked: …"`, `"exited normally"`.
        reason: String,
        /// The restarts within the supervisor's period, this one included.
        restarts: u32,
    },
    /// A [`Supervisor`](crate::Supervisor) had more restarts asked of it within its period
    /// than it allows: it stopped every child and its run failed.
    #[non_exhaustive]
    SupervisorGaveUp {
        /// The supervisor's name.
        supervisor: Arc<str>,
        /// The child whose end asked for the restart refused.
        child: Arc<str>,
        /// The restarts asked for within the period, the refused one included.
        restarts: u32,
    },
    /// A [`RetryBudget`](crate::RetryBudget) refused a retry (or a hedged attempt): the call
    /// ended with its last error (a hedge waits for the attempts it has).
    #[non_exhaustive]
    RetryBudgetExhausted {
        /// The budget's name.
        name: Arc<str>,
        /// The kind of policy that asked: [`PolicyKind::Retry`] or [`PolicyKind::Hedge`].
        policy_kind: PolicyKind,
        /// The name of the retry or hedge that asked.
        policy: Arc<str>,
    },
    /// A [`Hedge`](crate::Hedge) started an extra attempt beside the ones running.
    #[non_exhaustive]
    Hedged {
        /// The hedge's name.
        name: Arc<str>,
        /// The attempt started, from 2.
        attempt: u32,
    },
    /// An enabled [`Chaos`](crate::Chaos) policy delayed a call, failed it, or both.
    #[non_exhaustive]
    ChaosInjected {
        /// The chaos policy's name.
        name: Arc<str>,
        /// The delay added, if any.
        delay: Option<Duration>,
        /// Whether the call was failed with an injected error.
        fault: bool,
    },
    /// The registry's [`SharedStore`](crate::SharedStore) failed an operation after answering
    /// (or at its first): shared policies run on their local state until it answers again.
    /// Sent once per outage.
    #[non_exhaustive]
    StoreUnavailable {
        /// The store, as it [describes](crate::SharedStore::describe) itself.
        store: Arc<str>,
        /// What went wrong.
        error: crate::store::StoreError,
    },
    /// The registry's store answered again after [`Event::StoreUnavailable`]: shared policies
    /// re-join the fleet (a breaker at its next sync).
    #[non_exhaustive]
    StoreRejoined {
        /// The store, as it [describes](crate::SharedStore::describe) itself.
        store: Arc<str>,
    },
}

impl Event {
    /// The kind of policy the event is about; `None` for an event about the configuration as
    /// a whole ([`Event::ConfigApplied`], [`Event::ConfigRejected`]).
    ///
    /// ```
    /// use resilience::{Error, PolicyKind, Timeout};
    /// use std::time::Duration;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let mut events = resilience::registry().subscribe();
    /// let timeout = Timeout::new("db", Duration::from_millis(10)).unwrap();
    /// let slow = async {
    ///     tokio::time::sleep(Duration::from_secs(1)).await;
    ///     Ok::<_, Error>(())
    /// };
    /// assert!(timeout.call(slow).await.is_err());
    ///
    /// let event = events.recv().await.unwrap();
    /// assert_eq!(event.kind(), Some(PolicyKind::Timeout));
    /// assert_eq!(event.name(), Some("db"));
    /// # }
    /// ```
    pub fn kind(&self) -> Option<PolicyKind> {
        Some(match self {
            Event::CircuitTransition { .. } | Event::KeyTransition { .. } => {
                PolicyKind::CircuitBreaker
            }
            Event::CallRejected { kind, .. }
            | Event::ConfigConflict { kind, .. }
            | Event::SettingsRejected { kind, .. }
            | Event::PolicyMissing { kind, .. } => *kind,
            Event::RetryAttempt { .. } | Event::RetriesExhausted { .. } => PolicyKind::Retry,
            Event::TimedOut { .. } => PolicyKind::Timeout,
            Event::ChildRestarted { .. } | Event::SupervisorGaveUp { .. } => PolicyKind::Supervisor,
            Event::RetryBudgetExhausted { .. } => PolicyKind::RetryBudget,
            Event::Hedged { .. } => PolicyKind::Hedge,
            Event::ChaosInjected { .. } => PolicyKind::Chaos,
            Event::ConfigApplied { .. }
            | Event::ConfigRejected { .. }
            | Event::HealthChanged { .. }
            | Event::StoreUnavailable { .. }
            | Event::StoreRejoined { .. } => return None,
        })
    }

    /// The registry name of the policy the event is about; `None` for an event about the
    /// configuration as a whole.
    pub fn name(&self) -> Option<&str> {
        self.name_arc().map(|name| &**name)
    }

    /// The name, shared, so that a consumer such as the metrics layer can keep it without
    /// copying it.
    pub(crate) fn name_arc(&self) -> Option<&Arc<str>> {
        Some(match self {
            Event::CircuitTransition { name, .. }
            | Event::KeyTransition { name, .. }
            | Event::RetryAttempt { name, .. }
            | Event::RetriesExhausted { name, .. }
            | Event::TimedOut { name, .. }
            | Event::ConfigConflict { name, .. }
            | Event::SettingsRejected { name, .. }
            | Event::PolicyMissing { name, .. }
            | Event::RetryBudgetExhausted { name, .. }
            | Event::Hedged { name, .. }
            | Event::ChaosInjected { name, .. } => name,
            Event::ChildRestarted { supervisor, .. }
            | Event::SupervisorGaveUp { supervisor, .. } => supervisor,
            Event::CallRejected { error, .. } => match error {
                Error::CircuitOpen { name, .. }
                | Error::Timeout { name, .. }
                | Error::BulkheadFull { name, .. }
                | Error::RateLimited { name, .. }
                | Error::ShuttingDown { name }
                | Error::Injected { name } => name,
            },
            Event::ConfigApplied { .. }
            | Event::ConfigRejected { .. }
            | Event::HealthChanged { .. }
            | Event::StoreUnavailable { .. }
            | Event::StoreRejoined { .. } => return None,
        })
    }
}

impl std::fmt::Display for Event {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Event::CircuitTransition {
                name,
                from,
                to,
                cause,
            } => write!(f, "circuit breaker `{name}`: {from} -> {to} ({cause})"),
            Event::KeyTransition {
                name,
                key,
                from,
                to,
                cause,
            } => write!(
                f,
                "circuit breaker `{name}`, key {key}: {from} -> {to} ({cause})"
            ),
            Event::CallRejected {
                kind,
                error,
                key: None,
            } => write!(f, "{kind} rejected a call: {error}"),
            Event::CallRejected {
                kind,
                error,
                key: Some(key),
            } => write!(f, "{kind} rejected a call for key {key}: {error}"),
            Event::RetryAttempt {
                name,
                attempt,
                delay,
                error,
            } => write!(
                f,
                "retry `{name}`: attempt {attempt} failed ({error}); next in {delay:?}"
            ),
            Event::RetriesExhausted {
                name,
                attempts,
                error,
            } => write!(
                f,
                "retry `{name}`: gave up after {attempts} attempt(s) ({error})"
            ),
            Event::TimedOut { name, after } => {
                write!(f, "timeout `{name}`: call dropped after {after:?}")
            }
            Event::ConfigConflict { kind, name, keys } => write!(
                f,
                "{kind} `{name}` is configured differently at another site ({}); the first registration is in effect",
                keys.join(", ")
            ),
            Event::PolicyMissing {
                kind: PolicyKind::Pipeline,
                name,
            } => write!(
                f,
                "composite policy `{name}` is called but nothing defined it: its calls run unprotected until it is defined"
            ),
            Event::PolicyMissing { kind, name } => write!(
                f,
                "{kind} `{name}` is named at a site that gives no settings, and nothing else gave any: it runs with the defaults"
            ),
            Event::SettingsRejected { kind, name, error } => write!(
                f,
                "{kind} `{name}`: the call site's settings were refused ({error}); it runs with the default settings"
            ),
            Event::ConfigApplied { changed } => {
                write!(f, "configuration applied")?;
                if changed.is_empty() {
                    return write!(f, "; no registered policy changed");
                }
                for (i, change) in changed.iter().enumerate() {
                    let sep = if i == 0 { ": " } else { "; " };
                    write!(
                        f,
                        "{sep}{} `{}` ({})",
                        change.kind,
                        change.name,
                        change.keys.join(", ")
                    )?;
                }
                Ok(())
            }
            Event::ConfigRejected { error } => {
                write!(f, "configuration refused, the one in force stays: {error}")
            }
            Event::HealthChanged { from, to } => write!(f, "health: {from} -> {to}"),
            Event::ChildRestarted {
                supervisor,
                child,
                reason,
                restarts,
            } => write!(
                f,
                "supervisor `{supervisor}`: child `{child}` {reason}; restarted ({restarts} restart(s) in the period)"
            ),
            Event::SupervisorGaveUp {
                supervisor,
                child,
                restarts,
            } => write!(
                f,
                "supervisor `{supervisor}` gave up: child `{child}` asked for restart {restarts} within the period; every child stopped"
            ),
            Event::RetryBudgetExhausted {
                name,
                policy_kind,
                policy,
            } => write!(
                f,
                "retry budget `{name}` is spent: {policy_kind} `{policy}` may not try again"
            ),
            Event::Hedged { name, attempt } => {
                write!(f, "hedge `{name}`: attempt {attempt} started beside the others")
            }
            Event::ChaosInjected { name, delay, fault } => {
                write!(f, "chaos `{name}`:")?;
                if let Some(delay) = delay {
                    write!(f, " delayed the call {delay:?}")?;
                }
                if *fault {
                    let and = if delay.is_some() { " and" } else { "" };
                    write!(f, "{and} failed the call")?;
                }
                Ok(())
            }
            Event::StoreUnavailable { store, error } => write!(
                f,
                "store `{store}` unavailable ({error}): shared policies run on their local state"
            ),
            Event::StoreRejoined { store } => {
                write!(f, "store `{store}` answers again: shared policies re-join the fleet")
            }
        }
    }
}

struct Bus {
    sender: broadcast::Sender<Event>,
    /// Set by the first `subscribe`: until then `emit` looks at nothing else.
    subscribed: AtomicBool,
}

fn bus() -> &'static Bus {
    static BUS: OnceLock<Bus> = OnceLock::new();
    BUS.get_or_init(|| Bus {
        sender: broadcast::channel(CHANNEL_CAPACITY).0,
        subscribed: AtomicBool::new(false),
    })
}

impl Bus {
    /// Whether a receiver is alive. The flag keeps a program that never subscribes to one
    /// atomic load; the count (a short lock) makes events free again once every receiver is
    /// dropped. Neither is on a call's success path: only rejections, retries, timeouts,
    /// transitions and conflicts emit.
    fn listening(&self) -> bool {
        self.subscribed.load(Ordering::Acquire) && self.sender.receiver_count() > 0
    }
}

pub(crate) fn subscribe() -> broadcast::Receiver<Event> {
    let bus = bus();
    let receiver = bus.sender.subscribe();
    bus.subscribed.store(true, Ordering::Release);
    receiver
}

/// Publishes an event to subscribers, `tracing` (feature `tracing`) and the metrics facade
/// (feature `metrics`). `make` runs only when one of them listens, so an event costs nothing
/// (no allocation, no formatting) in a program that never subscribes and has neither feature.
pub(crate) fn emit(make: impl FnOnce() -> Event) {
    let listening = bus().listening();
    if !listening && !tracing_enabled() && !metrics::ENABLED {
        return;
    }
    let event = make();
    #[cfg(feature = "tracing")]
    trace(&event);
    metrics::record_event(&event);
    if listening {
        // An error only means every receiver is gone; events are best-effort.
        let _ = bus().sender.send(event);
    }
}

#[cfg(feature = "tracing")]
fn tracing_enabled() -> bool {
    tracing::enabled!(target: "resilience", tracing::Level::ERROR)
}

#[cfg(not(feature = "tracing"))]
fn tracing_enabled() -> bool {
    false
}

#[cfg(feature = "tracing")]
fn trace(event: &Event) {
    // Besides `policy` and `name`, each event's own values are fields, for log queries.
    match event {
        Event::CircuitTransition {
            name,
            from,
            to,
            cause,
        } if *to == CircuitState::Open => tracing::warn!(
            target: "resilience", policy = "circuit_breaker", name = &**name,
            from = from.as_str(), to = to.as_str(), cause = cause.as_str(), "{event}"
        ),
        Event::CircuitTransition {
            name,
            from,
            to,
            cause,
        } => tracing::info!(
            target: "resilience", policy = "circuit_breaker", name = &**name,
            from = from.as_str(), to = to.as_str(), cause = cause.as_str(), "{event}"
        ),
        Event::KeyTransition {
            name,
            key,
            from,
            to,
            cause,
        } => tracing::info!(
            target: "resilience", policy = "circuit_breaker", name = &**name, key = &**key,
            from = from.as_str(), to = to.as_str(), cause = cause.as_str(), "{event}"
        ),
        Event::CallRejected { kind, error, .. } => tracing::debug!(
            target: "resilience", policy = kind.as_str(), name = error.policy_name(),
            code = error.code(), "{event}"
        ),
        Event::RetryAttempt {
            name,
            attempt,
            delay,
            error,
        } => tracing::debug!(
            target: "resilience", policy = "retry", name = &**name, attempt,
            delay = ?delay, error = error.as_str(), "{event}"
        ),
        // Giving up after retrying is news; giving up at once on an error that is not retried
        // (an open circuit below, already reported as a rejection) is not.
        Event::RetriesExhausted {
            name,
            attempts,
            error,
        } if *attempts > 1 => tracing::warn!(
            target: "resilience", policy = "retry", name = &**name, attempts,
            error = error.as_str(), "{event}"
        ),
        Event::RetriesExhausted {
            name,
            attempts,
            error,
        } => tracing::debug!(
            target: "resilience", policy = "retry", name = &**name, attempts,
            error = error.as_str(), "{event}"
        ),
        Event::TimedOut { name, after } => tracing::info!(
            target: "resilience", policy = "timeout", name = &**name, after = ?after, "{event}"
        ),
        Event::ConfigConflict { kind, name, keys } => tracing::warn!(
            target: "resilience", policy = kind.as_str(), name = &**name, keys = ?keys, "{event}"
        ),
        Event::PolicyMissing { kind, name } => tracing::warn!(
            target: "resilience", policy = kind.as_str(), name = &**name, "{event}"
        ),
        Event::SettingsRejected { kind, name, .. } => tracing::error!(
            target: "resilience", policy = kind.as_str(), name = &**name, "{event}"
        ),
        Event::ConfigApplied { changed } => tracing::info!(
            target: "resilience", changed = changed.len(), "{event}"
        ),
        Event::ConfigRejected { .. } => tracing::error!(target: "resilience", "{event}"),
        Event::HealthChanged { to, .. } if *to == crate::HealthStatus::Unhealthy => {
            tracing::error!(target: "resilience", to = to.as_str(), "{event}")
        }
        Event::HealthChanged { to, .. } => {
            tracing::info!(target: "resilience", to = to.as_str(), "{event}")
        }
        Event::ChildRestarted {
            supervisor,
            child,
            restarts,
            ..
        } => tracing::warn!(
            target: "resilience", policy = "supervisor", name = &**supervisor,
            child = &**child, restarts, "{event}"
        ),
        Event::SupervisorGaveUp {
            supervisor,
            child,
            restarts,
        } => tracing::error!(
            target: "resilience", policy = "supervisor", name = &**supervisor,
            child = &**child, restarts, "{event}"
        ),
        Event::RetryBudgetExhausted { name, policy, .. } => tracing::warn!(
            target: "resilience", policy = "retry_budget", name = &**name,
            asked_by = &**policy, "{event}"
        ),
        Event::Hedged { name, attempt } => tracing::debug!(
            target: "resilience", policy = "hedge", name = &**name, attempt, "{event}"
        ),
        Event::ChaosInjected { name, delay, fault } => tracing::info!(
            target: "resilience", policy = "chaos", name = &**name, delay = ?delay, fault,
            "{event}"
        ),
        Event::StoreUnavailable { store, .. } => {
            tracing::warn!(target: "resilience", store = &**store, "{event}")
        }
        Event::StoreRejoined { store } => {
            tracing::info!(target: "resilience", store = &**store, "{event}")
        }
    }
}
