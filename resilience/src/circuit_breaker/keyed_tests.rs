//! A keyed breaker: a circuit per key, eviction of closed idle keys only (open, half-open and
//! busy keys are kept, even over the cap), events naming the key, reset and force_open, and
//! threads racing to create, trip and evict the same keys.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::{CallOutcome, CircuitBreaker, CircuitState, TransitionCause};
use crate::{registry, Error, Event, PolicyKind};

fn breaker(name: &str) -> CircuitBreaker {
    CircuitBreaker::builder(name)
        .failure_threshold(2)
        .reset_timeout(Duration::from_secs(10))
        .key_idle(Duration::from_secs(60))
        .max_keys(4)
        .build()
        .expect("valid")
}

fn fail(breaker: &CircuitBreaker, key: u64) {
    if let Ok(permit) = breaker.try_acquire_key(&key) {
        permit.record(CallOutcome::Failure);
    }
}

fn succeed(breaker: &CircuitBreaker, key: u64) -> Result<(), Error> {
    breaker
        .try_acquire_key(&key)
        .map(|permit| permit.record(CallOutcome::Success))
}

fn keys(breaker: &CircuitBreaker) -> u64 {
    breaker.keyed_stats().map_or(0, |stats| stats.keys)
}

#[tokio::test(start_paused = true)]
async fn a_key_opens_alone_and_probes_after_the_reset_timeout() {
    let breaker = breaker("kb-unit-own");
    fail(&breaker, 1);
    fail(&breaker, 1);
    assert_eq!(breaker.key_state(&1_u64), Some(CircuitState::Open));
    assert!(matches!(
        breaker.try_acquire_key(&1_u64),
        Err(Error::CircuitOpen { retry_after: Some(after), .. }) if after == Duration::from_secs(10)
    ));
    assert_eq!(succeed(&breaker, 2), Ok(()), "another key is closed");
    tokio::time::advance(Duration::from_secs(10)).await;
    // The first call is the probe; a second is turned away while it runs (one slot).
    let probe = breaker.try_acquire_key(&1_u64).expect("a probe");
    assert_eq!(breaker.key_state(&1_u64), Some(CircuitState::HalfOpen));
    assert!(matches!(
        breaker.try_acquire_key(&1_u64),
        Err(Error::CircuitOpen {
            retry_after: None,
            ..
        })
    ));
    probe.record(CallOutcome::Success);
    assert_eq!(breaker.key_state(&1_u64), Some(CircuitState::Closed));
    assert_eq!(breaker.in_flight(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_dropped_probe_gives_its_slot_back_and_a_panicking_one_fails() {
    let breaker = breaker("kb-unit-drop");
    fail(&breaker, 1);
    fail(&breaker, 1);
    tokio::time::advance(Duration::from_secs(10)).await;
    drop(breaker.try_acquire_key(&1_u64).expect("a probe"));
    assert_eq!(breaker.key_state(&1_u64), Some(CircuitState::HalfOpen));
    assert_eq!(breaker.key_in_flight(&1_u64), 0);
    // The slot is free again: a second probe is admitted, and its failure re-opens the key.
    let probe = breaker.try_acquire_key(&1_u64).expect("the slot came back");
    probe.record(CallOutcome::Failure);
    assert_eq!(breaker.key_state(&1_u64), Some(CircuitState::Open));

    // A panic while the permit is held counts as a failure.
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _permit = breaker.try_acquire_key(&2_u64).unwrap();
        panic!("the call panicked");
    }));
    assert!(result.is_err());
    assert_eq!(breaker.keyed_stats().unwrap().hottest[1].failures, 1);
    // Two to open key 1, its second probe, and the panic.
    assert_eq!(breaker.stats().failures, 4);
}

#[tokio::test(start_paused = true)]
async fn a_probe_running_for_half_open_timeout_re_opens_the_key() {
    let breaker = CircuitBreaker::builder("kb-unit-hot")
        .failure_threshold(1)
        .reset_timeout(Duration::from_secs(1))
        .half_open_timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    fail(&breaker, 1);
    tokio::time::advance(Duration::from_secs(1)).await;
    let stuck = breaker.try_acquire_key(&1_u64).expect("a probe");
    tokio::time::advance(Duration::from_secs(5)).await;
    assert!(breaker.try_acquire_key(&1_u64).is_err());
    assert_eq!(breaker.key_state(&1_u64), Some(CircuitState::Open));
    // The stuck probe's late outcome belongs to a period that has ended.
    stuck.record(CallOutcome::Success);
    assert_eq!(breaker.key_state(&1_u64), Some(CircuitState::Open));
}

#[tokio::test(start_paused = true)]
async fn only_closed_idle_keys_are_evicted() {
    let breaker = breaker("kb-unit-idle");
    fail(&breaker, 1);
    fail(&breaker, 1); // open
    let busy = breaker.try_acquire_key(&2_u64).expect("closed"); // in flight
    assert_eq!(succeed(&breaker, 3), Ok(())); // closed, idle
    tokio::time::advance(Duration::from_secs(60)).await;
    // A new key's creation runs the idle sweep. Calls read no clock, so a key is dated by
    // sweeps: this first one cannot tell whether key 3 was called just now, and keeps it.
    assert_eq!(succeed(&breaker, 4), Ok(()));
    assert_eq!(breaker.key_state(&3_u64), Some(CircuitState::Closed));
    tokio::time::advance(Duration::from_secs(30)).await;
    assert_eq!(succeed(&breaker, 4), Ok(())); // seen since the first sweep
    tokio::time::advance(Duration::from_secs(30)).await;
    // The next sweep (a whole `key_idle` later) finds 3 not seen since the last one.
    assert_eq!(succeed(&breaker, 5), Ok(()));
    assert_eq!(breaker.key_state(&3_u64), None, "closed and idle: evicted");
    assert_eq!(
        breaker.key_state(&4_u64),
        Some(CircuitState::Closed),
        "called 30 s ago: kept"
    );
    assert_eq!(
        breaker.key_state(&1_u64),
        Some(CircuitState::Open),
        "open: kept"
    );
    assert_eq!(
        breaker.key_state(&2_u64),
        Some(CircuitState::Closed),
        "busy: kept"
    );
    assert_eq!(breaker.key_in_flight(&2_u64), 1);
    assert_eq!(
        breaker.in_flight(),
        1,
        "the breaker counts every key's calls"
    );
    busy.record(CallOutcome::Success);
    assert_eq!(breaker.in_flight(), 0);
    assert_eq!(breaker.keyed_stats().unwrap().evicted, 1);
}

#[tokio::test(start_paused = true)]
async fn over_the_cap_with_every_key_open_a_new_key_is_admitted_and_the_open_ones_kept() {
    let breaker = breaker("kb-unit-cap");
    for key in 0..4 {
        fail(&breaker, key);
        fail(&breaker, key);
    }
    assert_eq!(keys(&breaker), 4);
    // Past the cap with nothing evictable: the new key is admitted anyway.
    for key in 4..8 {
        assert_eq!(succeed(&breaker, key), Ok(()), "key {key} admitted");
    }
    for key in 0..4_u64 {
        assert_eq!(breaker.key_state(&key), Some(CircuitState::Open), "{key}");
    }
    assert!(keys(&breaker) > 4);
    // Closed keys over the cap go first: more new keys keep the table near the cap, and the
    // open keys are still there.
    for key in 8..40 {
        assert_eq!(succeed(&breaker, key), Ok(()));
    }
    for key in 0..4_u64 {
        assert_eq!(breaker.key_state(&key), Some(CircuitState::Open), "{key}");
    }
    // The four open keys, and at most a cap of closed ones.
    assert!(keys(&breaker) <= 4 + 4, "{}", keys(&breaker));
    let stats = breaker.keyed_stats().unwrap();
    assert_eq!(stats.rejecting.len(), 4);
    assert!(stats
        .hottest
        .iter()
        .take(4)
        .all(|key| key.state == Some(CircuitState::Open)));
}

#[tokio::test(start_paused = true)]
async fn events_name_the_key_and_reset_and_force_open_reach_every_key() {
    let mut events = registry().subscribe();
    let breaker = breaker("kb-unit-events");
    let host = "db-1".to_owned();
    for _ in 0..2 {
        let permit = breaker.try_acquire_key(&host).unwrap();
        permit.record(CallOutcome::Failure);
    }
    assert!(breaker.try_acquire_key(&host).is_err());
    let (mut opened, mut rejected) = (false, false);
    while let Ok(event) = events.try_recv() {
        match event {
            Event::KeyTransition {
                name,
                key,
                to,
                cause,
                ..
            } if &*name == "kb-unit-events" => {
                assert_eq!((&*key, to), ("\"db-1\"", CircuitState::Open));
                assert_eq!(cause, TransitionCause::FailureThreshold);
                opened = true;
            }
            Event::CallRejected { kind, error, key } if error.policy_name() == "kb-unit-events" => {
                assert_eq!(kind, PolicyKind::CircuitBreaker);
                assert_eq!(key.as_deref(), Some("\"db-1\""));
                rejected = true;
            }
            _ => {}
        }
    }
    assert!(opened && rejected);
    assert_eq!(
        breaker.state(),
        CircuitState::Closed,
        "the key's, not the breaker's"
    );

    breaker.reset();
    assert_eq!(breaker.key_state(&host), Some(CircuitState::Closed));
    breaker.force_open();
    assert!(breaker.try_acquire_key(&host).is_err());
    assert!(breaker.try_acquire_key(&"new".to_owned()).is_err());
    breaker.reset();
    assert!(breaker.try_acquire_key(&host).is_ok());
}

#[tokio::test(start_paused = true)]
async fn a_second_key_type_goes_through_the_unkeyed_circuit() {
    let breaker = breaker("kb-unit-types");
    assert_eq!(succeed(&breaker, 1), Ok(()));
    for _ in 0..2 {
        breaker
            .try_acquire_key(&"other")
            .unwrap()
            .record(CallOutcome::Failure);
    }
    assert_eq!(breaker.state(), CircuitState::Open);
    assert_eq!(breaker.key_state(&"other"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn threads_creating_tripping_and_evicting_the_same_keys_leak_nothing() {
    let breaker = Arc::new(
        CircuitBreaker::builder("kb-unit-race")
            .failure_threshold(2)
            .reset_timeout(Duration::ZERO)
            .half_open_max_calls(2)
            .max_keys(8)
            .key_idle(Duration::from_millis(1))
            .build()
            .unwrap(),
    );
    let admitted = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..4_u64)
        .map(|task| {
            let (breaker, admitted) = (Arc::clone(&breaker), Arc::clone(&admitted));
            tokio::spawn(async move {
                for i in 0..20_000_u64 {
                    let key = (i * 7 + task) % 64;
                    let Ok(permit) = breaker.try_acquire_key(&key) else {
                        continue;
                    };
                    admitted.fetch_add(1, Ordering::Relaxed);
                    match (i + task) % 4 {
                        0 | 1 => permit.record(CallOutcome::Failure),
                        2 => permit.record(CallOutcome::Success),
                        // Abandoned: a dropped call, a probe's slot given back.
                        _ => drop(permit),
                    }
                    if i % 64 == 0 {
                        tokio::task::yield_now().await;
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("no panic");
    }
    assert_eq!(breaker.in_flight(), 0, "every admitted call counted out");
    let stats = breaker.stats();
    assert_eq!(
        stats.calls,
        admitted.load(Ordering::Relaxed) as u64,
        "every admitted call recorded once"
    );
    assert!(breaker.keyed_stats().unwrap().evicted > 0);
    // No probe is stuck: with a zero reset timeout every key admits a call now, and a success
    // closes it.
    for key in 0..64_u64 {
        assert_eq!(breaker.key_in_flight(&key), 0, "key {key}");
        for _ in 0..2 {
            if let Ok(permit) = breaker.try_acquire_key(&key) {
                permit.record(CallOutcome::Success);
            }
        }
        assert!(
            matches!(breaker.key_state(&key), None | Some(CircuitState::Closed)),
            "key {key} is {:?}",
            breaker.key_state(&key)
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_keyed_call_slower_than_slow_call_fails_its_key_and_an_untimed_one_never_does() {
    let breaker = CircuitBreaker::builder("kb-unit-slow")
        .failure_threshold(1)
        .slow_call(Duration::from_millis(100))
        .build()
        .expect("valid");
    let quick = breaker.try_acquire_key(&1_u64).expect("closed");
    tokio::time::advance(Duration::from_millis(50)).await;
    quick.record(CallOutcome::Success);
    assert_eq!(breaker.key_state(&1_u64), Some(CircuitState::Closed));
    let slow = breaker.try_acquire_key(&1_u64).expect("closed");
    tokio::time::advance(Duration::from_millis(150)).await;
    slow.record(CallOutcome::Success);
    assert_eq!(
        breaker.key_state(&1_u64),
        Some(CircuitState::Open),
        "a success slower than slow_call is a failure"
    );

    // Admitted while the breaker had no limit: not timed, so never judged slow, even when a
    // reconfiguration adds a limit before it ends.
    let untimed = CircuitBreaker::builder("kb-unit-untimed")
        .failure_threshold(1)
        .build()
        .expect("valid");
    let call = untimed.try_acquire_key(&2_u64).expect("closed");
    let mut config = untimed.config();
    config.slow_call = Some(Duration::from_millis(1));
    untimed.reconfigure(config);
    tokio::time::advance(Duration::from_secs(5)).await;
    call.record(CallOutcome::Success);
    assert_eq!(untimed.key_state(&2_u64), Some(CircuitState::Closed));
    // The next call is timed under the new limit.
    let timed = untimed.try_acquire_key(&2_u64).expect("closed");
    tokio::time::advance(Duration::from_millis(5)).await;
    timed.record(CallOutcome::Success);
    assert_eq!(untimed.key_state(&2_u64), Some(CircuitState::Open));
}
