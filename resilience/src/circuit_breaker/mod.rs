//! Circuit breaker: stop calling a dependency that keeps failing, and probe it now and then.
//!
//! [`CircuitBreaker`] holds the state machine and the counters. The closed circuit's success
//! path, the one every healthy call takes, is lock-free and allocation-free: admission is one
//! Acquire load of the packed state word (`state_word.rs`); the success is one relaxed load of
//! the failure streak (`streak.rs`), which writes nothing while no failure is pending, and one
//! relaxed add on the calling thread's stripe of the outcome counters (`counters.rs`). The rest
//! (transitions, probes, the failure-rate window) is in `machine.rs`; taking a new configuration
//! in place, in `reconfigure.rs`.

mod atomic_settings;
mod builder;
mod config;
mod counters;
mod fleet;
mod key_circuit;
mod keyed;
#[cfg(test)]
mod keyed_tests;
#[cfg(all(test, resilience_loom))]
mod loom_tests;
mod machine;
mod permit;
mod reconfigure;
mod state;
mod state_word;
mod stats;
mod streak;
#[cfg(test)]
mod tests;
mod window;

use std::future::{poll_fn, Future};
use std::pin::pin;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use tokio::time::Instant;

pub use builder::CircuitBreakerBuilder;
pub use config::{CircuitBreakerConfig, TripRule, Window};
pub(crate) use fleet::LocalView;
pub use keyed::KeyedCallPermit;
pub use permit::{CallOutcome, CallPermit};
pub use state::{CircuitState, TransitionCause};
pub use stats::CircuitBreakerStats;

use crate::lifecycle::InFlight;
use atomic_settings::AtomicSettings;
use counters::OutcomeCounters;
use machine::Machine;
use state_word::{Phase, StateWord};
use stats::WallClockMark;
use streak::FailureStreak;

use crate::registry::PolicyKind;
use crate::sync::{AtomicU64, Mutex};
use crate::{ConfigError, Error, Failure};

/// A circuit breaker: after too many failures it opens and rejects calls without running them,
/// until `reset_timeout` has passed; then it lets probe calls through, and closes again once
/// enough of them succeed.
///
/// Build one with [`CircuitBreaker::builder`], or let `#[circuit_breaker(...)]` register one under
/// its name in the [registry](crate::registry). A rejected call fails with
/// [`Error::CircuitOpen`], whose `retry_after` is the time left until the circuit lets a probe
/// through, never zero; it is `None` while [forced open](Self::force_open) or while every probe
/// slot is taken, when no clock can tell.
///
/// The state machine:
/// - **Closed**: calls run. The circuit opens after `failure_threshold` failures in a row, or,
///   with the failure-rate rule, when the failures reach `failure_rate` of the window's outcomes
///   (judged on every outcome once the window holds `min_calls`).
/// - **Open**: calls are rejected. The first call once `reset_timeout` has elapsed (`>=`) moves
///   the circuit to half-open and runs as its first probe; [`state`](Self::state) reports open
///   until that call arrives.
/// - **Half-open**: at most `half_open_max_calls` probes are in flight at once; a finished probe
///   gives its slot back, so probes are admitted batch after batch until `success_threshold` of
///   them succeed, which closes the circuit. Any probe failure re-opens it, and so does a probe
///   that has run for `half_open_timeout` (noticed when a call arrives or a probe finishes), so
///   a probe that never finishes cannot hold its slot forever.
///
/// Every transition starts fresh counts, and an outcome counts only against the state it was
/// admitted in: a call admitted while closed that fails after the circuit opened changes nothing.
///
/// A call's outcome: `Ok` is a success, and a success slower than `slow_call` a failure. An
/// operation's `Err` is classified by [`call_with`](Self::call_with) (by default, and in
/// [`call`](Self::call), every `Err` is a failure). A call dropped before it finishes is neutral
/// (a probe gives its slot back); a panic of the call is a failure, after which the panic goes on
/// (a call dropped because a future beside it panicked is neutral: see
/// [`CallPermit::poll_body`]).
///
/// Under `#[circuit_breaker]`, a rejection by a policy below the breaker counts by what it says
/// about the dependency: a `#[timeout]` that expired is a failure; a full bulkhead, a rate limit or
/// an inner breaker's open circuit was decided on this side and is ignored.
///
/// ```
/// use resilience::{CircuitBreaker, CircuitState, Error};
/// use std::time::Duration;
///
/// #[derive(Debug)]
/// enum ApiError {
///     Down,
///     Rejected(Error),
/// }
///
/// impl From<Error> for ApiError {
///     fn from(rejection: Error) -> Self {
///         ApiError::Rejected(rejection)
///     }
/// }
///
/// async fn fetch_stock(up: bool) -> Result<u32, ApiError> {
///     if up { Ok(7) } else { Err(ApiError::Down) }
/// }
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let breaker = CircuitBreaker::builder("inventory")
///     .failure_threshold(2)
///     .reset_timeout(Duration::from_secs(10))
///     .build()
///     .unwrap();
///
/// for _ in 0..2 {
///     assert!(matches!(breaker.call(fetch_stock(false)).await, Err(ApiError::Down)));
/// }
/// assert_eq!(breaker.state(), CircuitState::Open);
///
/// // Open: rejected without running the call.
/// match breaker.call(fetch_stock(true)).await {
///     Err(ApiError::Rejected(Error::CircuitOpen { retry_after, .. })) => {
///         assert_eq!(retry_after, Some(Duration::from_secs(10)));
///     }
///     other => panic!("expected a rejection, got {other:?}"),
/// }
///
/// // Once the reset timeout has passed a probe runs; its success closes the circuit.
/// tokio::time::advance(Duration::from_secs(10)).await;
/// assert_eq!(breaker.call(fetch_stock(true)).await.ok(), Some(7));
/// assert_eq!(breaker.state(), CircuitState::Closed);
/// # }
/// ```
pub struct CircuitBreaker {
    name: Arc<str>,
    /// The settings the lock-free paths read; the whole configuration is in the `machine`.
    settings: AtomicSettings,
    /// The [`StateWord`]: read on every admission, written only by transitions.
    state: AtomicU64,
    /// Consecutive failures of the current generation.
    streak: FailureStreak,
    /// When the circuit last opened, in nanoseconds since `clock_origin`.
    opened_at: AtomicU64,
    /// The `tokio::time` instant the breaker's own clock counts from, so that times fit atomics.
    clock_origin: Instant,
    machine: Mutex<Machine>,
    counters: OutcomeCounters,
    /// Calls admitted and not yet settled, for a shutdown to wait for.
    in_flight: InFlight,
    /// Total successes at the last failure or transition: `consecutive_successes` is the
    /// difference, which keeps a shared counter off the success path.
    successes_at_break: AtomicU64,
    marks: WallClockMarks,
    /// A shared breaker whose store answered its last sync: it goes half-open only with its
    /// fleet (`fleet.rs`). Read on the open path only.
    fleet_joined: std::sync::atomic::AtomicBool,
    /// A keyed breaker's circuits, one per key, made by the first keyed call: `keyed.rs`.
    keys: std::sync::OnceLock<Box<dyn keyed::BreakerKeys>>,
    /// The settings a key's steps read besides `settings`.
    key_settings: keyed::KeySettings,
}

#[derive(Debug, Default)]
struct WallClockMarks {
    last_success: WallClockMark,
    last_failure: WallClockMark,
    opened: WallClockMark,
}

impl CircuitBreaker {
    /// A builder for a breaker registered as `name`.
    pub fn builder(name: impl Into<Arc<str>>) -> CircuitBreakerBuilder {
        CircuitBreakerBuilder::new(name.into())
    }

    /// A breaker with `config`, checked as [`CircuitBreakerBuilder::build`] checks its settings.
    pub fn new(
        name: impl Into<Arc<str>>,
        config: CircuitBreakerConfig,
    ) -> Result<Self, ConfigError> {
        let name = name.into();
        ConfigError::check_name(&name)?;
        config.validate()?;
        Ok(Self::with_valid_config(name, config))
    }

    /// A breaker with the default settings: 5 consecutive failures open it for 30 seconds.
    pub fn with_defaults(name: impl Into<Arc<str>>) -> Self {
        Self::with_valid_config(name.into(), CircuitBreakerConfig::default())
    }

    fn with_valid_config(name: Arc<str>, config: CircuitBreakerConfig) -> Self {
        CircuitBreaker {
            name,
            settings: AtomicSettings::new(&config),
            key_settings: keyed::KeySettings::new(&config),
            keys: std::sync::OnceLock::new(),
            state: AtomicU64::new(StateWord::INITIAL.bits()),
            streak: FailureStreak::default(),
            opened_at: AtomicU64::new(0),
            clock_origin: Instant::now(),
            machine: Mutex::new(Machine::new(config)),
            counters: OutcomeCounters::default(),
            in_flight: InFlight::default(),
            successes_at_break: AtomicU64::new(0),
            marks: WallClockMarks::default(),
            fleet_joined: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// The breaker's registry name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The breaker's registry name, shared.
    pub fn name_arc(&self) -> &Arc<str> {
        &self.name
    }

    /// The settings the breaker runs with now: a copy, since a configuration reload may replace
    /// them in place (the registry's breakers live as long as the program, and take new
    /// settings without a new breaker).
    ///
    /// ```
    /// use resilience::{CircuitBreaker, TripRule};
    ///
    /// let breaker = CircuitBreaker::builder("doc-config-copy").failure_threshold(3).build().unwrap();
    /// assert_eq!(breaker.config().trip, TripRule::ConsecutiveFailures(3));
    /// ```
    pub fn config(&self) -> CircuitBreakerConfig {
        self.lock().config().clone()
    }

    /// Whether the breaker is [critical](CircuitBreakerBuilder::critical): an open or half-open
    /// circuit then makes the registry's health unhealthy rather than degraded. It reads one
    /// atomic, no lock, and follows a configuration reload.
    ///
    /// ```
    /// use resilience::CircuitBreaker;
    ///
    /// let breaker = CircuitBreaker::builder("doc-is-critical").critical(true).build().unwrap();
    /// assert!(breaker.is_critical());
    /// ```
    pub fn is_critical(&self) -> bool {
        self.settings.critical()
    }

    /// Whether the breaker is [shared](CircuitBreakerBuilder::shared) across the fleet through
    /// the registry's store. It reads one atomic, no lock, and follows a configuration reload.
    ///
    /// ```
    /// use resilience::CircuitBreaker;
    ///
    /// let breaker = CircuitBreaker::builder("doc-is-shared").shared(true).build().unwrap();
    /// assert!(breaker.is_shared());
    /// ```
    pub fn is_shared(&self) -> bool {
        self.settings.shared()
    }

    /// The circuit's state. An open circuit whose `reset_timeout` has elapsed reports open until a
    /// call arrives and becomes its first probe.
    pub fn state(&self) -> CircuitState {
        self.load_state().phase().state()
    }

    /// The breaker's state and counters; see [`CircuitBreakerStats`].
    pub fn stats(&self) -> CircuitBreakerStats {
        let word = self.load_state();
        let totals = self.counters.totals();
        CircuitBreakerStats {
            state: word.phase().state(),
            consecutive_failures: self.streak.failures(word.generation()),
            consecutive_successes: totals
                .successes
                .saturating_sub(self.successes_at_break.load(Relaxed)),
            calls: totals
                .successes
                .saturating_add(totals.failures)
                .saturating_add(totals.ignored),
            successes: totals.successes,
            failures: totals.failures,
            ignored: totals.ignored,
            rejected: totals.rejected,
            failure_rate: self.window_failure_rate(),
            last_success: self.marks.last_success.get(),
            last_failure: self.marks.last_failure.get(),
            opened_at: self.marks.opened.get(),
            keys: self.keyed_stats(),
        }
    }

    /// Sets the counters (calls, outcomes, rejections, consecutive successes) back to zero. The
    /// state, the failure streak, the window and the recorded times stay.
    pub fn reset_stats(&self) {
        self.counters.reset();
        self.successes_at_break.store(0, Relaxed);
    }

    /// Closes the circuit with fresh counts, whatever its state (cause
    /// [`Reset`](TransitionCause::Reset); no event when it was closed already). Outcomes of
    /// calls admitted before no longer count.
    ///
    /// A keyed breaker's keys are all closed too, each with an event of its own.
    pub fn reset(&self) {
        self.transition_now(Phase::Closed, TransitionCause::Reset);
        self.force_keys(Phase::Closed);
    }

    /// Opens the circuit and holds it open, whatever `reset_timeout`, until [`reset`](Self::reset)
    /// (cause [`ForcedOpen`](TransitionCause::ForcedOpen); no event when it was open already).
    /// Rejections then carry no `retry_after` (`None`): no clock can tell when it closes.
    /// A keyed breaker rejects every key's calls too while forced open.
    pub fn force_open(&self) {
        self.transition_now(Phase::ForcedOpen, TransitionCause::ForcedOpen);
    }

    /// Counts a success exactly as a call's in the current state (in half-open, as a probe's).
    /// Changes nothing but the stats while the circuit is open.
    pub fn record_success(&self) {
        self.record(CallOutcome::Success);
    }

    /// Counts a failure exactly as a call's in the current state (in half-open, as a probe's,
    /// which re-opens the circuit). Changes nothing but the stats while the circuit is open.
    pub fn record_failure(&self) {
        self.record(CallOutcome::Failure);
    }

    fn record(&self, outcome: CallOutcome) {
        let word = self.load_state();
        let ticket = permit::Ticket {
            word,
            probe_admitted_at: None,
        };
        self.settle(ticket, outcome);
    }

    /// The calls this breaker admitted that have not ended yet (their permits are alive): what
    /// a [shutdown](crate::Registry::shutdown) waits for. A keyed breaker's count includes
    /// every key's calls.
    pub fn in_flight(&self) -> u32 {
        self.in_flight.count()
    }

    /// Asks to make one call by hand; see [`CallPermit`]. Fails with [`Error::CircuitOpen`] when
    /// the circuit is open or every half-open probe slot is taken.
    #[inline]
    pub fn try_acquire(&self) -> Result<CallPermit<'_>, Error> {
        if crate::lifecycle::gate::is_closed() {
            return Err(crate::lifecycle::rejection(
                PolicyKind::CircuitBreaker,
                &self.name,
            ));
        }
        let word = self.load_state();
        if word.phase() == Phase::Closed {
            Ok(CallPermit::new(self, word))
        } else {
            self.admit_unless_closed(word)
        }
    }

    /// Runs `fut` through the breaker, counting every `Err` as a failure.
    ///
    /// While the circuit is open, returns `Err(Error::CircuitOpen { .. }.into())` without polling
    /// `fut`.
    pub async fn call<T, E, Fut>(&self, fut: Fut) -> Result<T, E>
    where
        Fut: Future<Output = Result<T, E>>,
        E: From<Error>,
    {
        self.call_with(fut, |_| CallOutcome::Failure).await
    }

    /// Runs `fut` through the breaker; `classify` tells how each `Err` counts.
    ///
    /// While the circuit is open, returns `Err(Error::CircuitOpen { .. }.into())` without polling
    /// `fut`.
    pub async fn call_with<T, E, Fut, C>(&self, fut: Fut, classify: C) -> Result<T, E>
    where
        Fut: Future<Output = Result<T, E>>,
        C: Fn(&E) -> CallOutcome,
        E: From<Error>,
    {
        // The same steps as `run`, written out rather than calling it: wrapping `fut` in another
        // async layer would cost the success path one more copy of the future.
        let mut permit = self.try_acquire()?;
        let result = {
            // The body and the permit's borrow move into the one closure, which keeps this
            // future as small as it can be.
            let (permit, mut body) = (&mut permit, pin!(fut));
            poll_fn(move |cx| permit.poll_body(body.as_mut(), cx)).await
        };
        permit.record(match &result {
            Ok(_) => CallOutcome::Success,
            Err(error) => classify(error),
        });
        result
    }

    /// The breaker as a layer of a stack of policies: what `#[circuit_breaker]` expands to. It
    /// takes the steps of [`call_with`](Self::call_with) (admission, then the outcome recorded on
    /// a [`CallPermit`]) on a future whose error is a [`Failure`].
    ///
    /// An operation error is classified by `classify`. A rejection from a policy below counts by
    /// what it says about the dependency: a [`Timeout`](Error::Timeout) is a failure (the
    /// dependency did not answer in time); any other (a full bulkhead, a rate limit, an inner
    /// breaker's open circuit) was decided on this side, says nothing about the dependency, and
    /// is ignored. The result passes through unchanged.
    #[doc(hidden)]
    pub async fn run<T, E, Fut, C>(&self, fut: Fut, classify: C) -> Result<T, Failure<E>>
    where
        Fut: Future<Output = Result<T, Failure<E>>>,
        C: Fn(&E) -> CallOutcome,
    {
        let mut permit = self.try_acquire().map_err(Failure::Policy)?;
        let result = {
            let (permit, mut body) = (&mut permit, pin!(fut));
            poll_fn(move |cx| permit.poll_body(body.as_mut(), cx)).await
        };
        permit.record(layer_outcome(&result, classify));
        result
    }
}

/// How a breaker counts the result of the layers below it (see [`CircuitBreaker::run`]): the
/// operation's error as `classify` says, a timeout as a failure, any other rejection as
/// ignored.
#[inline]
pub(crate) fn layer_outcome<T, E>(
    result: &Result<T, Failure<E>>,
    classify: impl Fn(&E) -> CallOutcome,
) -> CallOutcome {
    match result {
        Ok(_) => CallOutcome::Success,
        Err(Failure::Operation(error)) => classify(error),
        // An injected fault stands for the operation failing.
        Err(Failure::Policy(Error::Timeout { .. } | Error::Injected { .. })) => {
            CallOutcome::Failure
        }
        Err(Failure::Policy(_)) => CallOutcome::Ignored,
    }
}

impl std::fmt::Debug for CircuitBreaker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CircuitBreaker")
            .field("name", &self.name)
            .field("state", &self.state())
            .field("config", &self.config())
            .finish_non_exhaustive()
    }
}
