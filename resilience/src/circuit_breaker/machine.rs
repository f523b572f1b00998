//! The state machine: admitting calls, recording their outcomes, changing state.
//!
//! Closed-state admission and the consecutive-failure rule run on atomics alone, settings
//! included (`atomic_settings.rs`). Everything else that changes state (every transition,
//! half-open probe slots, the failure-rate window, a new configuration) happens under the
//! breaker's one lock, which also makes each transition a single step: the fresh counts are in
//! place before the new state word is published.

use std::collections::VecDeque;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use std::sync::PoisonError;
use std::time::Duration;

use tokio::time::Instant;

use super::permit::{CallPermit, Ticket};
use super::state_word::{Phase, StateWord};
use super::window::FailureWindow;
use super::{
    CallOutcome, CircuitBreaker, CircuitBreakerConfig, CircuitState, TransitionCause, TripRule,
};
use crate::events::{self, Event};
use crate::registry::PolicyKind;
use crate::sync::MutexGuard;
use crate::Error;

/// What the breaker keeps under its lock.
#[derive(Debug)]
pub(super) struct Machine {
    /// The configuration in force. The settings the lock-free paths read are copied into the
    /// breaker's `AtomicSettings`; the others (probe limits, the half-open timeout, the rate
    /// rule's parameters) are read here, on paths that hold the lock anyway.
    config: CircuitBreakerConfig,
    /// When each probe admitted and not yet finished in the current half-open period was
    /// admitted, on the breaker's clock, oldest first (admissions happen under the lock, in
    /// time order): its length is the probe slots taken, its front the probe nearest its
    /// `half_open_timeout`. At most `half_open_max_calls` long, except after a reconfiguration
    /// lowered that limit under probes in flight (no probe is admitted until they are fewer);
    /// its buffer is kept across periods, so it allocates only when a breaker first has that
    /// many probes at once.
    probes: VecDeque<u64>,
    /// Probe successes in the current half-open period.
    probe_successes: u32,
    /// The failure-rate rule's window; `None` under the consecutive-failure rule.
    window: Option<FailureWindow>,
    /// A shared breaker that followed its fleet into half-open without making that transition
    /// itself admits no probe (`Some(0)`): the instance that made it probes for the fleet
    /// (`fleet.rs`). `None` otherwise; every transition clears it.
    pub(super) probe_cap: Option<u32>,
}

impl Machine {
    pub(super) fn new(config: CircuitBreakerConfig) -> Self {
        Machine {
            probes: VecDeque::new(),
            probe_successes: 0,
            window: Self::window_for(config.trip),
            probe_cap: None,
            config,
        }
    }

    /// A fresh window for `trip`'s rule; `None` for the consecutive-failure rule, which needs
    /// none.
    fn window_for(trip: TripRule) -> Option<FailureWindow> {
        match trip {
            TripRule::ConsecutiveFailures(_) => None,
            TripRule::FailureRate { window, .. } => Some(FailureWindow::new(window)),
        }
    }

    /// The configuration in force.
    pub(super) fn config(&self) -> &CircuitBreakerConfig {
        &self.config
    }

    /// Puts `config` in force; with `fresh_window`, its rule's window starts empty, else the
    /// current one is kept (the rule is the same).
    pub(super) fn set_config(&mut self, config: CircuitBreakerConfig, fresh_window: bool) {
        if fresh_window {
            self.window = Self::window_for(config.trip);
        }
        self.config = config;
    }

    /// Gives back the probe slot of the probe admitted at `admitted_at`.
    fn release_probe(&mut self, admitted_at: u64) {
        // Probes admitted at the same instant are interchangeable here.
        if let Some(index) = self.probes.iter().position(|&at| at == admitted_at) {
            self.probes.remove(index);
        }
    }
}

/// A state change, announced once the lock is released.
#[derive(Debug)]
pub(super) struct Transition {
    from: CircuitState,
    to: CircuitState,
    cause: TransitionCause,
}

impl CircuitBreaker {
    #[inline]
    pub(super) fn load_state(&self) -> StateWord {
        StateWord::from_bits(self.state.load(Acquire))
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, Machine> {
        // Nothing panics while the lock is held; should something, the machine is still whole.
        self.machine.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// `now` in nanoseconds since the breaker was built, the unit its atomics store time in.
    pub(super) fn clock(&self, now: Instant) -> u64 {
        let since = now.saturating_duration_since(self.clock_origin);
        u64::try_from(since.as_nanos()).unwrap_or(u64::MAX)
    }

    /// Time until an open circuit lets a probe through, at `now` on the breaker's clock; zero
    /// once `reset_timeout` has elapsed (which a rejection never advertises: the call is
    /// admitted instead). The `reset_timeout` in force now counts from the moment the circuit
    /// opened, also when a reconfiguration changed it since.
    pub(super) fn open_time_left(&self, now: u64) -> Duration {
        let open_for = now.saturating_sub(self.opened_at.load(Relaxed));
        self.settings
            .reset_timeout()
            .saturating_sub(Duration::from_nanos(open_for))
    }

    /// Admits a call when the circuit is not closed (the closed case is one load, inlined in
    /// [`try_acquire`](CircuitBreaker::try_acquire)); a half-open permit holds a probe slot.
    #[inline(never)]
    pub(super) fn admit_unless_closed(&self, word: StateWord) -> Result<CallPermit<'_>, Error> {
        match word.phase() {
            Phase::Closed => return Ok(CallPermit::new(self, word)),
            // Held open until `reset`, which no clock can predict.
            Phase::ForcedOpen => return Err(self.reject(None)),
            Phase::Open => {
                let left = self.open_time_left(self.clock(Instant::now()));
                if !left.is_zero() {
                    return Err(self.reject(Some(left)));
                }
            }
            Phase::HalfOpen => {}
        }
        let (word, now) = self.admit_locked()?;
        Ok(CallPermit::admitted_at(self, word, now))
    }

    /// Admission that may take a probe slot, move the circuit to half-open, or re-open a
    /// half-open circuit whose oldest probe outlived `half_open_timeout`. Returns the word the
    /// call runs under and the time it was admitted at, on the breaker's clock.
    fn admit_locked(&self) -> Result<(StateWord, u64), Error> {
        let mut machine = self.lock();
        let now = self.clock(Instant::now());
        // The word cannot change while the lock is held, but by the transitions made here.
        let mut word = self.load_state();
        let mut changes = [None, None];
        if let Some((reopened, change)) = self.expire_probes(&mut machine, word, now) {
            // The late probe counts as failed; this call is judged by the new open period
            // (admitted at once, as its first probe, if `reset_timeout` is zero).
            word = reopened;
            changes[0] = Some(change);
        }
        let admitted = match word.phase() {
            Phase::Closed => Ok(word),
            Phase::ForcedOpen => Err(None),
            Phase::Open => {
                let left = self.open_time_left(now);
                if left.is_zero() && self.fleet_joined() {
                    // A shared breaker whose store answers goes half-open when its fleet does
                    // (`fleet.rs`), so that probes are bounded fleet-wide.
                    Err(None)
                } else if left.is_zero() {
                    let (half_open, change) = self.transition(
                        &mut machine,
                        word,
                        Phase::HalfOpen,
                        TransitionCause::ResetTimeoutElapsed,
                    );
                    changes[1] = Some(change);
                    // The call that noticed the timeout is the first probe.
                    machine.probes.push_back(now);
                    Ok(half_open)
                } else {
                    Err(Some(left))
                }
            }
            Phase::HalfOpen => {
                let max = machine
                    .probe_cap
                    .map_or(machine.config.half_open_max_calls, |cap| {
                        cap.min(machine.config.half_open_max_calls)
                    });
                let max = usize::try_from(max).unwrap_or(usize::MAX);
                if machine.probes.len() < max {
                    machine.probes.push_back(now);
                    Ok(word)
                } else {
                    // A slot frees when a probe finishes, which no clock can predict.
                    Err(None)
                }
            }
        };
        drop(machine);
        for change in changes {
            self.announce(change);
        }
        match admitted {
            Ok(word) => Ok((word, now)),
            Err(retry_after) => Err(self.reject(retry_after)),
        }
    }

    /// Re-opens a half-open circuit (`word`, the current one) when a probe has been running
    /// `half_open_timeout` (`>=`) at `now`: that probe counts as failed. Returns the new word and
    /// the transition to announce. Checked lazily, under the lock, on the half-open paths only
    /// (admission and probe outcomes), so no timer is needed and the closed path never sees it.
    fn expire_probes(
        &self,
        machine: &mut Machine,
        word: StateWord,
        now: u64,
    ) -> Option<(StateWord, Transition)> {
        if word.phase() != Phase::HalfOpen {
            return None;
        }
        let oldest = *machine.probes.front()?;
        let running_for = Duration::from_nanos(now.saturating_sub(oldest));
        if running_for < machine.config.effective_half_open_timeout() {
            return None;
        }
        let cause = TransitionCause::ProbeTimedOut;
        Some(self.transition(machine, word, Phase::Open, cause))
    }

    /// Half-open probe slots taken now: the tests and loom models check that none is ever
    /// leaked.
    #[cfg(test)]
    pub(super) fn probes_in_flight(&self) -> usize {
        self.lock().probes.len()
    }

    /// `retry_after` is `None` when the wait is unknown, else longer than zero.
    fn reject(&self, retry_after: Option<Duration>) -> Error {
        self.counters.count_rejection();
        let error = Error::CircuitOpen {
            name: self.name.clone(),
            retry_after,
        };
        events::emit(|| Event::CallRejected {
            kind: PolicyKind::CircuitBreaker,
            error: error.clone(),
            key: None,
        });
        error
    }

    /// Whether a success admitted under `word` needs nothing beyond
    /// [`count_success`](Self::count_success): the circuit was closed, the consecutive-failure
    /// rule applies and no `slow_call` limit needs the clock.
    #[inline(always)]
    pub(super) fn closed_success_is_quick(&self, word: StateWord) -> bool {
        self.settings.quick_successes() && word.phase() == Phase::Closed
    }

    /// A success counted, and the failure streak of `word`'s generation (usually already zero,
    /// then only read) ended. In a closed circuit under the consecutive-failure rule with no
    /// `slow_call` limit, this is all a success does.
    #[inline(always)]
    pub(super) fn count_success(&self, word: StateWord) {
        self.counters.count(CallOutcome::Success);
        if self.streak.success(word.generation()) {
            self.marks.last_success.set_now();
        }
    }

    /// Records a call's outcome against the state it was admitted in.
    pub(super) fn settle(&self, ticket: Ticket, outcome: CallOutcome) {
        if outcome == CallOutcome::Success {
            self.count_success(ticket.word);
            // A closed circuit's success under the consecutive rule has nothing more to do.
            if ticket.word.phase() == Phase::Closed && self.settings.failure_threshold().is_some() {
                return;
            }
        } else {
            self.counters.count(outcome);
        }
        self.settle_rest(ticket, outcome);
    }

    #[inline(never)]
    fn settle_rest(&self, ticket: Ticket, outcome: CallOutcome) {
        let streak = if outcome == CallOutcome::Failure {
            self.marks.last_failure.set_now();
            self.successes_at_break
                .store(self.counters.successes(), Relaxed);
            self.streak.failure(ticket.word.generation())
        } else {
            None
        };
        match ticket.word.phase() {
            // A reconfiguration that changes the rule of a closed circuit starts a new generation:
            // an outcome admitted before it finds its streak or window gone, whichever rule it
            // reads here.
            Phase::Closed => match self.settings.failure_threshold() {
                Some(threshold) => {
                    if streak.is_some_and(|failures| failures >= threshold) {
                        self.trip(ticket.word, TransitionCause::FailureThreshold);
                    }
                }
                None => {
                    if outcome != CallOutcome::Ignored {
                        self.judge_rate(ticket.word, outcome == CallOutcome::Failure);
                    }
                }
            },
            Phase::HalfOpen => self.settle_probe(ticket, outcome),
            // Only `record_success`/`record_failure` get here (a permit is admitted closed or
            // half-open): an open circuit has no calls for an outcome to count against.
            Phase::Open | Phase::ForcedOpen => {}
        }
    }

    /// Adds a closed-state outcome to the failure-rate window and trips when the rate is reached.
    fn judge_rate(&self, admitted: StateWord, failed: bool) {
        let mut machine = self.lock();
        if self.load_state() != admitted {
            return;
        }
        let TripRule::FailureRate {
            rate, min_calls, ..
        } = machine.config.trip
        else {
            return;
        };
        let Some(window) = machine.window.as_mut() else {
            return;
        };
        let tally = window.record(failed, || self.clock(Instant::now()));
        let trips = tally.calls >= u64::from(min_calls)
            && tally
                .failure_rate()
                .is_some_and(|failures| failures >= rate);
        if trips {
            let (_, change) = self.transition(
                &mut machine,
                admitted,
                Phase::Open,
                TransitionCause::FailureRate,
            );
            drop(machine);
            self.announce(Some(change));
        }
    }

    /// Records a half-open outcome: enough successes close the circuit, any failure re-opens it.
    fn settle_probe(&self, ticket: Ticket, outcome: CallOutcome) {
        let mut machine = self.lock();
        let word = self.load_state();
        if word != ticket.word {
            // The half-open period this probe belonged to is over; its slot went with it.
            return;
        }
        let now = self.clock(Instant::now());
        if let Some((_, change)) = self.expire_probes(&mut machine, word, now) {
            // A probe of this period (this one, or one still in flight) ran `half_open_timeout`
            // before this outcome arrived: the circuit re-opened then, so this outcome, of the
            // period that ended, changes nothing more.
            drop(machine);
            self.announce(Some(change));
            return;
        }
        if let Some(admitted_at) = ticket.probe_admitted_at {
            machine.release_probe(admitted_at);
        }
        let change = match outcome {
            CallOutcome::Success => {
                machine.probe_successes = machine.probe_successes.saturating_add(1);
                (machine.probe_successes >= machine.config.success_threshold).then(|| {
                    let cause = TransitionCause::ProbesSucceeded;
                    self.transition(&mut machine, word, Phase::Closed, cause).1
                })
            }
            CallOutcome::Failure => {
                let cause = TransitionCause::ProbeFailed;
                Some(self.transition(&mut machine, word, Phase::Open, cause).1)
            }
            CallOutcome::Ignored => None,
        };
        drop(machine);
        self.announce(change);
    }

    /// Opens a closed circuit, unless it changed since `admitted`.
    fn trip(&self, admitted: StateWord, cause: TransitionCause) {
        let mut machine = self.lock();
        if self.load_state() != admitted {
            return;
        }
        let (_, change) = self.transition(&mut machine, admitted, Phase::Open, cause);
        drop(machine);
        self.announce(Some(change));
    }

    /// Moves to `to` whatever the current state (a manual `reset` or `force_open`).
    pub(super) fn transition_now(&self, to: Phase, cause: TransitionCause) {
        let mut machine = self.lock();
        let word = self.load_state();
        if to == Phase::ForcedOpen && word.phase() == Phase::ForcedOpen {
            return;
        }
        let (_, change) = self.transition(&mut machine, word, to, cause);
        drop(machine);
        self.announce(Some(change));
    }

    /// Moves from `from` (the current word) to `to` with fresh counts; returns the new word.
    pub(super) fn transition(
        &self,
        machine: &mut Machine,
        from: StateWord,
        to: Phase,
        cause: TransitionCause,
    ) -> (StateWord, Transition) {
        let next = from.next(to);
        self.streak.restart(next.generation());
        self.successes_at_break
            .store(self.counters.successes(), Relaxed);
        machine.probes.clear();
        machine.probe_successes = 0;
        machine.probe_cap = None;
        if let Some(window) = machine.window.as_mut() {
            window.clear();
        }
        if matches!(to, Phase::Open | Phase::ForcedOpen) {
            self.opened_at.store(self.clock(Instant::now()), Relaxed);
            self.marks.opened.set_now();
        }
        // Publishes the fresh counts above along with the new state (Release/Acquire pairs with
        // `load_state`).
        self.state.store(next.bits(), Release);
        let change = Transition {
            from: from.phase().state(),
            to: to.state(),
            cause,
        };
        (next, change)
    }

    /// Emits a transition's event, outside the lock so that a subscriber or a `tracing` layer
    /// that looks at the breaker cannot deadlock it. A change within one state (a reset of a
    /// closed circuit, forcing open an open one) starts fresh counts but sends no event.
    pub(super) fn announce(&self, change: Option<Transition>) {
        let Some(change) = change else {
            return;
        };
        if change.from == change.to {
            return;
        }
        events::emit(|| Event::CircuitTransition {
            name: self.name.clone(),
            from: change.from,
            to: change.to,
            cause: change.cause,
        });
    }

    /// The failure rate of the failure-rate rule's current window.
    pub(super) fn window_failure_rate(&self) -> Option<f64> {
        if self.settings.failure_threshold().is_some() {
            return None;
        }
        let mut machine = self.lock();
        let now = || self.clock(Instant::now());
        machine.window.as_mut()?.tally(now).failure_rate()
    }
}
