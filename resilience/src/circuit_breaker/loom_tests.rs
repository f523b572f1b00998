//! Loom models of the breaker's concurrent state machine: every interleaving (up to a preemption
//! bound) of a few callers admitting calls and settling their outcomes, and of a configuration
//! reload racing them.
//!
//! Run with `RUSTFLAGS="--cfg resilience_loom" cargo test -p resilience --lib loom_tests`
//! (`.ci/run` does). The clock is never what decides a branch here: a `reset_timeout` of zero has
//! always elapsed, and one of an hour never does within a model's run, so every execution is
//! deterministic, as loom requires.

use std::time::Duration;

use loom::sync::{mpsc, Arc};
use loom::thread;

use super::{CallOutcome, CircuitBreaker, CircuitBreakerBuilder, CircuitState};

const NEVER: Duration = Duration::from_secs(3600);

/// Explores with at most three preemptions per execution, which keeps every model to seconds on
/// two cores while still reordering each caller's steps against the others'.
fn model(body: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    if builder.preemption_bound.is_none() {
        builder.preemption_bound = Some(3);
    }
    builder.check(body);
}

fn build(builder: CircuitBreakerBuilder) -> Arc<CircuitBreaker> {
    Arc::new(builder.build().expect("the model's settings are valid"))
}

fn generation(breaker: &CircuitBreaker) -> u64 {
    breaker.load_state().generation()
}

/// A caller that makes one call through the breaker and reports `outcome`; returns whether it
/// was admitted.
fn spawn_call(breaker: &Arc<CircuitBreaker>, outcome: CallOutcome) -> thread::JoinHandle<bool> {
    let breaker = Arc::clone(breaker);
    thread::spawn(move || match breaker.try_acquire() {
        Ok(permit) => {
            permit.record(outcome);
            true
        }
        Err(_) => false,
    })
}

#[test]
fn concurrent_failures_open_a_closed_circuit_exactly_once() {
    model(|| {
        let breaker = build(
            CircuitBreaker::builder("loom-trip")
                .failure_threshold(1)
                .reset_timeout(NEVER),
        );
        let callers = [
            spawn_call(&breaker, CallOutcome::Failure),
            spawn_call(&breaker, CallOutcome::Failure),
        ];
        let admitted = callers
            .into_iter()
            .map(|caller| caller.join().expect("caller panicked"))
            .filter(|admitted| *admitted)
            .count();
        assert!(admitted >= 1);
        assert_eq!(breaker.state(), CircuitState::Open);
        // The second failure, admitted while closed, lands after the trip: it must not open the
        // circuit a second time.
        assert_eq!(generation(&breaker), 1);
        let stats = breaker.stats();
        assert_eq!(stats.failures, admitted as u64);
        assert_eq!(stats.failures + stats.rejected, 2);
    });
}

#[test]
fn a_success_racing_failures_leaves_a_consistent_streak() {
    model(|| {
        let breaker = build(
            CircuitBreaker::builder("loom-streak")
                .failure_threshold(2)
                .reset_timeout(NEVER),
        );
        let callers = [
            spawn_call(&breaker, CallOutcome::Failure),
            spawn_call(&breaker, CallOutcome::Success),
            spawn_call(&breaker, CallOutcome::Failure),
        ];
        for caller in callers {
            caller.join().expect("caller panicked");
        }
        let stats = breaker.stats();
        match breaker.state() {
            // Two failures in a row: the one success came first or was rejected after the trip.
            CircuitState::Open => {
                assert_eq!(generation(&breaker), 1);
                assert_eq!(stats.failures, 2);
            }
            // The success split the failures: the streak is the failure after it, if any.
            CircuitState::Closed => {
                assert_eq!(generation(&breaker), 0);
                assert!(stats.consecutive_failures <= 1);
                assert_eq!((stats.successes, stats.failures), (1, 2));
            }
            CircuitState::HalfOpen => panic!("nothing should move the circuit to half-open"),
        }
        assert_eq!(stats.calls + stats.rejected, 3);
    });
}

#[test]
fn half_open_admits_exactly_half_open_max_calls_at_once() {
    model(|| {
        let breaker = build(
            CircuitBreaker::builder("loom-probes")
                .failure_threshold(1)
                .reset_timeout(Duration::ZERO)
                .half_open_max_calls(2),
        );
        breaker.record_failure();
        let (answers, asked) = mpsc::channel();
        let callers: Vec<_> = (0..3)
            .map(|_| {
                let (breaker, answers) = (Arc::clone(&breaker), answers.clone());
                let (release, released) = mpsc::channel::<()>();
                let caller = thread::spawn(move || {
                    let permit = breaker.try_acquire().ok();
                    answers.send(permit.is_some()).expect("the model listens");
                    // Hold the probe slot until every caller has asked for one (a blocking
                    // wait loom understands, unlike a spin).
                    let _ = released.recv();
                    drop(permit);
                });
                (caller, release)
            })
            .collect();
        let admitted = (0..3)
            .filter(|_| asked.recv().expect("every caller answers"))
            .count();
        assert_eq!(admitted, 2);
        for (caller, release) in callers {
            release.send(()).expect("the caller waits");
            caller.join().expect("caller panicked");
        }
        // Dropped probes are neutral and give their slots back.
        assert_eq!(breaker.state(), CircuitState::HalfOpen);
        assert_eq!(breaker.probes_in_flight(), 0);
        // Open → half-open happened once, by whichever caller came first.
        assert_eq!(generation(&breaker), 2);
    });
}

#[test]
fn probes_succeeding_together_close_the_circuit_once() {
    model(|| {
        let breaker = build(
            CircuitBreaker::builder("loom-close")
                .failure_threshold(1)
                .reset_timeout(Duration::ZERO)
                .half_open_max_calls(2)
                .success_threshold(2),
        );
        breaker.record_failure();
        let callers = [
            spawn_call(&breaker, CallOutcome::Success),
            spawn_call(&breaker, CallOutcome::Success),
        ];
        for caller in callers {
            assert!(caller.join().expect("caller panicked"), "a slot was free");
        }
        assert_eq!(breaker.state(), CircuitState::Closed);
        // Closed → open → half-open → closed, each step once.
        assert_eq!(generation(&breaker), 3);
        assert_eq!(breaker.probes_in_flight(), 0);
    });
}

#[test]
fn a_probe_failure_reopens_whatever_the_other_probe_does() {
    model(|| {
        let breaker = build(
            CircuitBreaker::builder("loom-reopen")
                .failure_threshold(1)
                .reset_timeout(Duration::ZERO)
                .half_open_max_calls(2)
                .success_threshold(2),
        );
        breaker.record_failure();
        let callers = [
            spawn_call(&breaker, CallOutcome::Success),
            spawn_call(&breaker, CallOutcome::Failure),
        ];
        for caller in callers {
            caller.join().expect("caller panicked");
        }
        // One success never reaches the threshold of two; the failure re-opened the circuit,
        // after which the success may have started a new half-open period of its own.
        assert_ne!(breaker.state(), CircuitState::Closed);
        assert_eq!(breaker.probes_in_flight(), 0);
        // Never stuck: with every caller gone, the next call is admitted as a probe.
        let permit = breaker.try_acquire().expect("a probe slot is free");
        assert_eq!(breaker.state(), CircuitState::HalfOpen);
        drop(permit);
    });
}

#[test]
fn a_dropped_probe_gives_its_slot_back() {
    model(|| {
        let breaker = build(
            CircuitBreaker::builder("loom-drop")
                .failure_threshold(1)
                .reset_timeout(Duration::ZERO)
                .half_open_max_calls(1),
        );
        breaker.record_failure();
        let abandoning = {
            let breaker = Arc::clone(&breaker);
            thread::spawn(move || drop(breaker.try_acquire()))
        };
        let succeeding = spawn_call(&breaker, CallOutcome::Success);
        abandoning.join().expect("caller panicked");
        let admitted = succeeding.join().expect("caller panicked");
        // The success closes the circuit if it got the slot; else the abandoned probe held it,
        // and gave it back.
        let expected = if admitted {
            CircuitState::Closed
        } else {
            CircuitState::HalfOpen
        };
        assert_eq!(breaker.state(), expected);
        assert_eq!(breaker.probes_in_flight(), 0);
        assert!(breaker.try_acquire().is_ok(), "the slot was leaked");
    });
}

#[test]
fn a_failure_rate_window_filled_concurrently_trips_once() {
    model(|| {
        let breaker = build(
            CircuitBreaker::builder("loom-rate")
                .failure_rate(0.5)
                .window_calls(2)
                .min_calls(2)
                .reset_timeout(NEVER),
        );
        let callers = [
            spawn_call(&breaker, CallOutcome::Failure),
            spawn_call(&breaker, CallOutcome::Success),
        ];
        for caller in callers {
            assert!(caller.join().expect("caller panicked"));
        }
        // Both outcomes were admitted while closed and both reach the window: 1 of 2 failed.
        assert_eq!(breaker.state(), CircuitState::Open);
        assert_eq!(generation(&breaker), 1);
    });
}

/// A thread that puts `builder`'s settings in force on `breaker` (the configuration a reload
/// would bring).
fn spawn_reconfigure(
    breaker: &Arc<CircuitBreaker>,
    builder: CircuitBreakerBuilder,
) -> thread::JoinHandle<()> {
    let breaker = Arc::clone(breaker);
    let config = builder
        .build()
        .expect("the model's settings are valid")
        .config();
    thread::spawn(move || {
        breaker.reconfigure(config);
    })
}

#[test]
fn a_reconfiguration_racing_a_probe_neither_loses_nor_leaks_its_slot() {
    model(|| {
        let breaker = build(
            CircuitBreaker::builder("loom-retune-probe")
                .failure_threshold(1)
                .reset_timeout(Duration::ZERO),
        );
        breaker.record_failure();
        let probe = spawn_call(&breaker, CallOutcome::Success);
        let retune = spawn_reconfigure(
            &breaker,
            CircuitBreaker::builder("loom-retune-probe")
                .failure_threshold(1)
                .reset_timeout(Duration::ZERO)
                .half_open_max_calls(2)
                .success_threshold(2),
        );
        retune.join().expect("reconfigure panicked");
        assert!(
            probe.join().expect("caller panicked"),
            "the circuit was open"
        );
        // The probe's success closed the circuit under the old threshold, or counted one of the
        // new two.
        let expected = if generation(&breaker) == 3 {
            CircuitState::Closed
        } else {
            CircuitState::HalfOpen
        };
        assert_eq!(breaker.state(), expected);
        assert_eq!(breaker.probes_in_flight(), 0);
        // Never stuck: the new limit admits two probes at once.
        let first = breaker.try_acquire().expect("a slot is free");
        if expected == CircuitState::HalfOpen {
            let second = breaker.try_acquire().expect("the new second slot");
            drop(second);
        }
        drop(first);
    });
}

#[test]
fn a_failure_racing_a_new_threshold_counts_under_one_rule_only() {
    model(|| {
        let breaker = build(
            CircuitBreaker::builder("loom-retune-streak")
                .failure_threshold(2)
                .reset_timeout(NEVER),
        );
        breaker.record_failure();
        let failing = spawn_call(&breaker, CallOutcome::Failure);
        let retune = spawn_reconfigure(
            &breaker,
            CircuitBreaker::builder("loom-retune-streak")
                .failure_threshold(3)
                .reset_timeout(NEVER),
        );
        retune.join().expect("reconfigure panicked");
        assert!(
            failing.join().expect("caller panicked"),
            "the circuit was closed"
        );
        // Either the second failure of the old rule opened the circuit (and the new rule waits
        // for it to close), or the new rule restarted the streak: a failure admitted before
        // that counts for nothing, one admitted after is the first of three.
        let stats = breaker.stats();
        match breaker.state() {
            CircuitState::Open => assert_eq!(stats.consecutive_failures, 0),
            CircuitState::Closed => assert!(stats.consecutive_failures <= 1),
            CircuitState::HalfOpen => panic!("nothing should move the circuit to half-open"),
        }
        // One generation step either way: the trip, or the new rule's fresh streak.
        assert_eq!(generation(&breaker), 1);
        assert_eq!(stats.failures, 2);
    });
}
