//! Model-based property tests of the circuit breaker: random sequences of calls admitted, calls
//! finishing (successes, failures, ignored errors, slow successes), calls dropped, manual
//! records, `force_open`/`reset` and clock advances, run against the real breaker on tokio's
//! paused clock and against [`Model`], a plain transcription of the state machine in DESIGN.md.
//! The two must agree on every admit/reject decision (and its `retry_after`, never a zero wait),
//! on the state after every step, and on the counters at the end. Half-open probes that outlive
//! `half_open_timeout` are in it: the clock advances in steps as long as the timeouts.

use std::time::Duration;

use proptest::prelude::*;
use resilience::{CallOutcome, CallPermit, CircuitBreaker, CircuitState, Error};

/// The settings a case runs with: one of the two trip rules, the rest drawn small enough that
/// every transition happens within a few dozen steps.
#[derive(Debug, Clone)]
struct Settings {
    rule: Rule,
    reset_timeout_ms: u64,
    /// `None`: the default (the reset timeout, or 30s when that is zero).
    half_open_timeout_ms: Option<u64>,
    half_open_max_calls: u32,
    success_threshold: u32,
    slow_call_ms: Option<u64>,
}

#[derive(Debug, Clone, Copy)]
enum Rule {
    Consecutive {
        threshold: u32,
    },
    Rate {
        rate: f64,
        window: u32,
        min_calls: u32,
    },
}

#[derive(Debug, Clone)]
enum Step {
    /// A call asks to be admitted; when admitted it stays in flight.
    Acquire,
    /// The in-flight call at this index (modulo their number) finishes.
    Finish(usize, Finish),
    /// The in-flight call at this index is dropped without an outcome (the caller gave up).
    Drop(usize),
    Advance(u64),
    RecordSuccess,
    RecordFailure,
    ForceOpen,
    Reset,
}

#[derive(Debug, Clone, Copy)]
enum Finish {
    Success,
    Failure,
    Ignored,
}

fn settings() -> impl Strategy<Value = Settings> {
    let consecutive = (1u32..=4).prop_map(|threshold| Rule::Consecutive { threshold });
    let rate = (1u32..=6, 1u32..=6, 1u32..=4).prop_map(|(window, min_calls, tenths)| Rule::Rate {
        // Rates a double represents exactly or not: 0.25, 0.3, 0.5, 0.75, 1.0...
        rate: [0.25, 0.3, 0.5, 0.75][(tenths - 1) as usize],
        window,
        min_calls: min_calls.min(window),
    });
    (
        prop_oneof![consecutive, rate],
        prop_oneof![Just(0u64), 1u64..=50],
        proptest::option::of(1u64..=60),
        1u32..=3,
        1u32..=3,
        proptest::option::of(1u64..=20),
    )
        .prop_map(
            |(
                rule,
                reset_timeout_ms,
                half_open_timeout_ms,
                half_open_max_calls,
                success_threshold,
                slow_call_ms,
            )| {
                Settings {
                    rule,
                    reset_timeout_ms,
                    half_open_timeout_ms,
                    half_open_max_calls,
                    success_threshold,
                    slow_call_ms,
                }
            },
        )
}

fn step() -> impl Strategy<Value = Step> {
    let finish = prop_oneof![
        3 => Just(Finish::Success),
        3 => Just(Finish::Failure),
        1 => Just(Finish::Ignored),
    ];
    prop_oneof![
        6 => Just(Step::Acquire),
        6 => (any::<usize>(), finish).prop_map(|(index, finish)| Step::Finish(index, finish)),
        2 => any::<usize>().prop_map(Step::Drop),
        3 => (0u64..=30).prop_map(Step::Advance),
        1 => Just(Step::RecordSuccess),
        1 => Just(Step::RecordFailure),
        1 => Just(Step::ForceOpen),
        1 => Just(Step::Reset),
    ]
}

/// The state machine, written for clarity rather than speed: no atomics, no generations packed
/// in words, a `Vec` for the window.
#[derive(Debug)]
struct Model {
    settings: Settings,
    now: u64,
    phase: Phase,
    /// Bumped by every transition; a call's outcome counts only in the generation it was
    /// admitted in.
    generation: u64,
    streak: u32,
    /// Outcomes of the current closed period, oldest first; `true` = failure.
    window: Vec<bool>,
    /// Admission times of the probes in flight in the current half-open period.
    probes: Vec<u64>,
    probe_successes: u32,
    opened_at: u64,
    /// Half-open periods ended by a probe outliving `half_open_timeout`.
    probe_timeouts: u32,
    successes: u64,
    failures: u64,
    ignored: u64,
    rejected: u64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Phase {
    Closed,
    Open,
    ForcedOpen,
    HalfOpen,
}

/// A call the model admitted.
#[derive(Debug, Clone, Copy)]
struct Admitted {
    generation: u64,
    phase: Phase,
    at: u64,
}

impl Model {
    fn new(settings: Settings) -> Self {
        Model {
            settings,
            now: 0,
            phase: Phase::Closed,
            generation: 0,
            streak: 0,
            window: Vec::new(),
            probes: Vec::new(),
            probe_successes: 0,
            opened_at: 0,
            probe_timeouts: 0,
            successes: 0,
            failures: 0,
            ignored: 0,
            rejected: 0,
        }
    }

    fn state(&self) -> CircuitState {
        match self.phase {
            Phase::Closed => CircuitState::Closed,
            Phase::Open | Phase::ForcedOpen => CircuitState::Open,
            Phase::HalfOpen => CircuitState::HalfOpen,
        }
    }

    fn transition(&mut self, to: Phase) {
        self.phase = to;
        self.generation += 1;
        self.streak = 0;
        self.window.clear();
        self.probes.clear();
        self.probe_successes = 0;
        if matches!(to, Phase::Open | Phase::ForcedOpen) {
            self.opened_at = self.now;
        }
    }

    fn half_open_timeout_ms(&self) -> u64 {
        match self.settings.half_open_timeout_ms {
            Some(timeout) => timeout,
            None if self.settings.reset_timeout_ms == 0 => 30_000,
            None => self.settings.reset_timeout_ms,
        }
    }

    /// A probe that has run `half_open_timeout` counts as failed, and the circuit re-opens
    /// (DESIGN.md; the time runs from each probe's admission). The breaker notices on admission
    /// and when an outcome of the half-open period arrives; returns whether it re-opened.
    fn expire_probes(&mut self) -> bool {
        let expired = self.phase == Phase::HalfOpen
            && self
                .probes
                .iter()
                .any(|&admitted| self.now - admitted >= self.half_open_timeout_ms());
        if expired {
            self.probe_timeouts += 1;
            self.transition(Phase::Open);
        }
        expired
    }

    /// `Ok` with the admitted call, or `Err(retry_after)`.
    fn acquire(&mut self) -> Result<Admitted, Option<Duration>> {
        self.expire_probes();
        let decision = match self.phase {
            Phase::Closed => Ok(()),
            Phase::ForcedOpen => Err(None),
            Phase::Open => {
                let open_for = self.now - self.opened_at;
                if open_for >= self.settings.reset_timeout_ms {
                    self.transition(Phase::HalfOpen);
                    self.probes.push(self.now);
                    Ok(())
                } else {
                    Err(Some(Duration::from_millis(
                        self.settings.reset_timeout_ms - open_for,
                    )))
                }
            }
            Phase::HalfOpen => {
                if self.probes.len() < self.settings.half_open_max_calls as usize {
                    self.probes.push(self.now);
                    Ok(())
                } else {
                    Err(None)
                }
            }
        };
        match decision {
            Ok(()) => Ok(Admitted {
                generation: self.generation,
                phase: self.phase,
                at: self.now,
            }),
            Err(retry_after) => {
                self.rejected += 1;
                Err(retry_after)
            }
        }
    }

    /// Settles an outcome; `call` is `None` for `record_success`/`record_failure`, which count
    /// in the current state and hold no probe slot.
    fn settle(&mut self, call: Option<Admitted>, outcome: CallOutcome) {
        let outcome = match (outcome, call, self.settings.slow_call_ms) {
            (CallOutcome::Success, Some(call), Some(limit)) if self.now - call.at > limit => {
                CallOutcome::Failure
            }
            _ => outcome,
        };
        match outcome {
            CallOutcome::Success => self.successes += 1,
            CallOutcome::Failure => self.failures += 1,
            CallOutcome::Ignored => self.ignored += 1,
        }
        let (generation, phase) = call.map_or((self.generation, self.phase), |call| {
            (call.generation, call.phase)
        });
        if generation != self.generation {
            // Admitted in a state the circuit has left: only the counters above see it.
            return;
        }
        match phase {
            Phase::Closed => self.settle_closed(outcome),
            Phase::HalfOpen => {
                if self.expire_probes() {
                    // The period this outcome belongs to ended as failed.
                    return;
                }
                if let Some(call) = call {
                    let slot = self.probes.iter().position(|&admitted| admitted == call.at);
                    self.probes
                        .swap_remove(slot.expect("an admitted probe holds a slot"));
                }
                match outcome {
                    CallOutcome::Success => {
                        self.probe_successes += 1;
                        if self.probe_successes >= self.settings.success_threshold {
                            self.transition(Phase::Closed);
                        }
                    }
                    CallOutcome::Failure => self.transition(Phase::Open),
                    CallOutcome::Ignored => {}
                }
            }
            Phase::Open | Phase::ForcedOpen => {}
        }
    }

    fn settle_closed(&mut self, outcome: CallOutcome) {
        match self.settings.rule {
            Rule::Consecutive { threshold } => match outcome {
                CallOutcome::Success => self.streak = 0,
                CallOutcome::Failure => {
                    self.streak += 1;
                    if self.streak >= threshold {
                        self.transition(Phase::Open);
                    }
                }
                CallOutcome::Ignored => {}
            },
            Rule::Rate {
                rate,
                window,
                min_calls,
            } => {
                if outcome == CallOutcome::Ignored {
                    return;
                }
                self.window.push(outcome == CallOutcome::Failure);
                if self.window.len() > window as usize {
                    self.window.remove(0);
                }
                let calls = self.window.len();
                let failures = self.window.iter().filter(|failed| **failed).count();
                if calls >= min_calls as usize && failures as f64 / calls as f64 >= rate {
                    self.transition(Phase::Open);
                }
            }
        }
    }

    fn force_open(&mut self) {
        if self.phase != Phase::ForcedOpen {
            self.transition(Phase::ForcedOpen);
        }
    }

    fn reset(&mut self) {
        self.transition(Phase::Closed);
    }
}

fn build(settings: &Settings) -> CircuitBreaker {
    let builder = CircuitBreaker::builder("model")
        .reset_timeout(Duration::from_millis(settings.reset_timeout_ms))
        .half_open_max_calls(settings.half_open_max_calls)
        .success_threshold(settings.success_threshold);
    let builder = match settings.half_open_timeout_ms {
        Some(timeout) => builder.half_open_timeout(Duration::from_millis(timeout)),
        None => builder,
    };
    let builder = match settings.rule {
        Rule::Consecutive { threshold } => builder.failure_threshold(threshold),
        Rule::Rate {
            rate,
            window,
            min_calls,
        } => builder
            .failure_rate(rate)
            .window_calls(window)
            .min_calls(min_calls),
    };
    let builder = match settings.slow_call_ms {
        Some(limit) => builder.slow_call(Duration::from_millis(limit)),
        None => builder,
    };
    builder.build().expect("the generated settings are valid")
}

/// Runs `steps` against the breaker and the model; fails on the first disagreement. Returns how
/// many half-open periods a late probe ended.
fn check(settings: Settings, steps: Vec<Step>) -> Result<u32, TestCaseError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .map_err(|error| TestCaseError::fail(error.to_string()))?;
    runtime.block_on(async move {
        let breaker = build(&settings);
        let mut model = Model::new(settings);
        let mut in_flight: Vec<(CallPermit<'_>, Admitted)> = Vec::new();
        for (index, step) in steps.into_iter().enumerate() {
            match step {
                Step::Acquire => match (breaker.try_acquire(), model.acquire()) {
                    (Ok(permit), Ok(admitted)) => in_flight.push((permit, admitted)),
                    (Err(Error::CircuitOpen { retry_after, .. }), Err(expected)) => {
                        prop_assert_eq!(retry_after, expected, "retry_after at step {}", index);
                        prop_assert_ne!(retry_after, Some(Duration::ZERO), "a zero wait");
                    }
                    (real, expected) => {
                        return Err(TestCaseError::fail(format!(
                            "step {index}: the breaker said {:?}, the model {expected:?}",
                            real.map(|_| "admitted")
                        )))
                    }
                },
                Step::Finish(pick, finish) if !in_flight.is_empty() => {
                    let (permit, admitted) = in_flight.swap_remove(pick % in_flight.len());
                    let outcome = match finish {
                        Finish::Success => CallOutcome::Success,
                        Finish::Failure => CallOutcome::Failure,
                        Finish::Ignored => CallOutcome::Ignored,
                    };
                    permit.record(outcome);
                    model.settle(Some(admitted), outcome);
                }
                Step::Drop(pick) if !in_flight.is_empty() => {
                    let (permit, admitted) = in_flight.swap_remove(pick % in_flight.len());
                    drop(permit);
                    model.settle(Some(admitted), CallOutcome::Ignored);
                }
                Step::Finish(..) | Step::Drop(_) => {}
                Step::Advance(ms) => {
                    tokio::time::advance(Duration::from_millis(ms)).await;
                    model.now += ms;
                }
                Step::RecordSuccess => {
                    breaker.record_success();
                    model.settle(None, CallOutcome::Success);
                }
                Step::RecordFailure => {
                    breaker.record_failure();
                    model.settle(None, CallOutcome::Failure);
                }
                Step::ForceOpen => {
                    breaker.force_open();
                    model.force_open();
                }
                Step::Reset => {
                    breaker.reset();
                    model.reset();
                }
            }
            prop_assert_eq!(breaker.state(), model.state(), "state after step {}", index);
        }
        for (permit, admitted) in in_flight.drain(..) {
            drop(permit);
            model.settle(Some(admitted), CallOutcome::Ignored);
        }
        let stats = breaker.stats();
        prop_assert_eq!(stats.state, model.state());
        prop_assert_eq!(
            (
                stats.successes,
                stats.failures,
                stats.ignored,
                stats.rejected
            ),
            (
                model.successes,
                model.failures,
                model.ignored,
                model.rejected
            )
        );
        prop_assert_eq!(
            stats.calls,
            model.successes + model.failures + model.ignored
        );
        if let Rule::Consecutive { .. } = model.settings.rule {
            if model.phase == Phase::Closed {
                prop_assert_eq!(stats.consecutive_failures, model.streak);
            }
        }
        Ok(model.probe_timeouts)
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn the_breaker_agrees_with_the_model(
        settings in settings(),
        steps in proptest::collection::vec(step(), 1..120),
    ) {
        check(settings, steps).map(drop)?;
    }
}

/// A long deterministic walk through every phase, so that a regression shows even if the
/// random cases happened to miss a branch.
#[test]
fn a_scripted_walk_through_every_phase_agrees_with_the_model() {
    let settings = Settings {
        rule: Rule::Consecutive { threshold: 2 },
        reset_timeout_ms: 10,
        half_open_timeout_ms: None,
        half_open_max_calls: 2,
        success_threshold: 2,
        slow_call_ms: Some(5),
    };
    let mut steps = vec![Step::Acquire, Step::Acquire];
    steps.extend([
        Step::Finish(0, Finish::Failure),
        Step::Finish(0, Finish::Failure),
        Step::Acquire,
        Step::Advance(10),
        Step::Acquire,
        Step::Acquire,
        Step::Acquire,
        Step::Drop(0),
        Step::Acquire,
        Step::Advance(6),
        Step::Finish(0, Finish::Success),
        Step::Finish(0, Finish::Success),
        Step::Acquire,
        Step::Advance(10),
        Step::Acquire,
        Step::Finish(0, Finish::Success),
        Step::Acquire,
        Step::Finish(0, Finish::Success),
        Step::ForceOpen,
        Step::Advance(100),
        Step::Acquire,
        Step::Reset,
        Step::Acquire,
        // Open again, then a half-open period whose probes outlive the half-open timeout (the
        // reset timeout, 10ms): one noticed by an admission, one by a late outcome.
        Step::Finish(0, Finish::Failure),
        Step::RecordFailure,
        Step::Advance(10),
        Step::Acquire,
        Step::Acquire,
        Step::Acquire,
        Step::Advance(10),
        Step::Acquire,
        Step::Finish(0, Finish::Success),
        Step::Finish(0, Finish::Failure),
        Step::Advance(10),
        Step::Acquire,
        Step::Advance(10),
        Step::Finish(0, Finish::Success),
        Step::Acquire,
    ]);
    match check(settings, steps) {
        Ok(probe_timeouts) => assert_eq!(probe_timeouts, 2, "the walk times out two probes"),
        Err(error) => panic!("{error}"),
    }
}
