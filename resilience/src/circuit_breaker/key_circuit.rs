//! One key's circuit in a keyed breaker: the state machine of `machine.rs`, cut down to what
//! one key needs, in a few atomics and a small lock.
//!
//! A key's closed path is as the breaker's: admission is one Acquire load of the key's state
//! word, and a success with no failure pending writes nothing but the key's in-flight count
//! (and its activity stamp, once per sweep interval). It reads no clock unless the breaker has
//! a `slow_call` limit: a key's activity is dated by the key table's sweeps
//! ([`KeyTable::epoch`](crate::keyed::KeyTable::epoch)). Transitions, and every step of an open
//! or half-open key, take the key's own lock (never the breaker's, never another key's).
//!
//! A key's table slot holds an `Arc` of its [`KeyEntry`] (the key and its circuit), and each
//! call admitted holds a clone until its outcome is recorded: so a call needs no second lookup
//! to record its outcome, and may let go of the key's value (the body may move the argument
//! the key came from), and the `Arc`'s count is the key's calls in flight. A call takes its
//! clone while it holds the key's shard (shared); eviction needs the shard exclusively and
//! takes only a closed key whose count says no call holds it.

use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use std::sync::atomic::{AtomicU32, AtomicU64};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::permit::Stamp;
use super::state_word::{Phase, StateWord};
use super::{CallOutcome, CircuitState, TransitionCause};
use crate::keyed::KeyValue;

/// The settings one key's circuit runs by, read from the breaker's atomics for each step that
/// needs them (`keyed.rs`).
#[derive(Debug, Clone, Copy)]
pub(super) struct KeyRules {
    /// Consecutive failures that open a key.
    pub(super) failure_threshold: u32,
    /// Nanoseconds open before a probe.
    pub(super) reset_timeout: u64,
    /// Nanoseconds a probe batch may run before it counts as failed.
    pub(super) half_open_timeout: u64,
    pub(super) half_open_max_calls: u32,
    pub(super) success_threshold: u32,
    /// Nanoseconds; 0 for no limit.
    pub(super) slow_call: u64,
}

/// A key and its circuit, behind an `Arc` in the key's table slot.
#[derive(Debug)]
pub(super) struct KeyEntry<K> {
    pub(super) key: K,
    pub(super) circuit: KeyCircuit,
}

/// One key's circuit: 40 bytes.
#[derive(Debug)]
pub(super) struct KeyCircuit {
    /// The key's [`StateWord`]: read on every admission, written only under `half`.
    word: AtomicU64,
    /// Consecutive failures in the current closed generation.
    failures: AtomicU32,
    /// At or before the last admission or outcome, on the breaker's clock: the key table's
    /// epoch when a call was admitted, the time when an outcome read the clock. What `key_idle`
    /// is measured from.
    last_active: AtomicU64,
    /// Open and half-open bookkeeping; held for every transition.
    half: Mutex<HalfOpen>,
}

#[derive(Debug, Default)]
struct HalfOpen {
    /// While open: when the key opened. While half-open: when the current batch of probes began.
    since: u64,
    /// Probes in flight in the current half-open period.
    probes: u32,
    /// Probe successes in the current half-open period.
    successes: u32,
}

/// A call admitted for a key: the word it was admitted under (a half-open one for a probe),
/// and when, as a [`Stamp`]: timed always for a probe, for a closed key's call only when the
/// breaker had a `slow_call` limit at admission. Two words, as the permit that carries it.
#[derive(Debug, Clone, Copy)]
pub(super) struct KeyTicket {
    pub(super) word: StateWord,
    pub(super) stamp: Stamp,
}

impl KeyTicket {
    fn probe(self) -> bool {
        self.word.phase() == Phase::HalfOpen
    }

    /// The admission time, 0 for a call admitted untimed (which `slow` never judges).
    fn admitted_at(self) -> u64 {
        self.stamp.time().unwrap_or(0)
    }
}

/// A key's state change, announced by the caller once the key's shard is released.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct KeyChange {
    pub(super) from: CircuitState,
    pub(super) to: CircuitState,
    pub(super) cause: TransitionCause,
}

impl<K: Send + Sync + 'static> KeyValue<K> for Arc<KeyEntry<K>>
where
    K: Clone,
{
    const DATED_BY_SWEEPS: bool = true;

    fn fresh(key: &K) -> Self {
        Arc::new(KeyEntry {
            key: key.clone(),
            circuit: KeyCircuit {
                word: AtomicU64::new(StateWord::INITIAL.bits()),
                failures: AtomicU32::new(0),
                last_active: AtomicU64::new(0),
                half: Mutex::new(HalfOpen::default()),
            },
        })
    }

    fn last_active(&self) -> u64 {
        self.circuit.last_active.load(Relaxed)
    }

    /// Only a closed key with no call in flight (no `Arc` but the table's): evicting an open key
    /// would let its host be called again before its open period ends, and evicting a half-open
    /// one would lose its probes' outcomes.
    fn evictable(&self) -> bool {
        self.circuit.load().phase() == Phase::Closed && Arc::strong_count(self) == 1
    }
}

impl KeyCircuit {
    fn load(&self) -> StateWord {
        StateWord::from_bits(self.word.load(Acquire))
    }

    fn lock(&self) -> MutexGuard<'_, HalfOpen> {
        self.half.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The key's state now.
    pub(super) fn state(&self) -> CircuitState {
        self.load().phase().state()
    }

    /// Consecutive failures of a closed key (0 otherwise).
    pub(super) fn failures(&self) -> u32 {
        if self.load().phase() == Phase::Closed {
            self.failures.load(Relaxed)
        } else {
            0
        }
    }

    /// The key's state word, for a call that is admitted if it is closed; otherwise the caller,
    /// having let go of the key's shard, asks [`admit`](Self::admit). `epoch` is the key
    /// table's ([`KeyTable::epoch`](crate::keyed::KeyTable::epoch)).
    ///
    /// One word out: with the entry's `Arc` beside it, the pair stays in registers past the
    /// shard's unlock (a wider result was spilled, and its copy stalled on store forwarding).
    #[inline]
    pub(super) fn admit_if_closed(&self, epoch: u64) -> StateWord {
        // Written once per sweep interval, not on every call: a key hit from two threads keeps
        // its cache line shared.
        if self.last_active.load(Relaxed) < epoch {
            self.last_active.store(epoch, Relaxed);
        }
        self.load()
    }

    /// Admits a call to a key found not closed, or rejects it with the nanoseconds until a
    /// probe may run (`None` when no clock can tell). A transition it made (open → half-open,
    /// or a timed-out probe batch re-opening the key) is returned beside. The caller holds a
    /// clone of the key's entry, so the key cannot be evicted meanwhile.
    #[cold]
    pub(super) fn admit(
        &self,
        now: u64,
        rules: KeyRules,
    ) -> (Result<KeyTicket, Option<u64>>, Option<KeyChange>) {
        self.last_active.store(now, Relaxed);
        self.admit_not_closed(now, rules)
    }

    fn admit_not_closed(
        &self,
        now: u64,
        rules: KeyRules,
    ) -> (Result<KeyTicket, Option<u64>>, Option<KeyChange>) {
        let mut half = self.lock();
        let word = self.load();
        let admitted = |word| {
            Ok(KeyTicket {
                word,
                stamp: Stamp::at(now),
            })
        };
        match word.phase() {
            // Closed since the first look.
            Phase::Closed => (admitted(word), None),
            Phase::ForcedOpen => (Err(None), None),
            Phase::Open => {
                let due = half.since.saturating_add(rules.reset_timeout);
                if now < due {
                    return (Err(Some(due - now)), None);
                }
                let next = word.next(Phase::HalfOpen);
                *half = HalfOpen {
                    since: now,
                    probes: 1,
                    successes: 0,
                };
                self.word.store(next.bits(), Release);
                let change = KeyChange {
                    from: CircuitState::Open,
                    to: CircuitState::HalfOpen,
                    cause: TransitionCause::ResetTimeoutElapsed,
                };
                (admitted(next), Some(change))
            }
            Phase::HalfOpen => {
                if half.probes > 0 && now >= half.since.saturating_add(rules.half_open_timeout) {
                    let change = self.open(&mut half, word, now, TransitionCause::ProbeTimedOut);
                    return (Err(Some(rules.reset_timeout.max(1))), Some(change));
                }
                if half.probes >= rules.half_open_max_calls {
                    return (Err(None), None);
                }
                if half.probes == 0 {
                    half.since = now;
                }
                half.probes += 1;
                (admitted(word), None)
            }
        }
    }

    /// Records the outcome of the call admitted with `ticket`, at `now`; returns the transition
    /// it made, if any. An outcome counts only against the state it was admitted in.
    /// A closed key's success when the breaker has no `slow_call` limit: settled without the
    /// clock, which the common case need not read (the key's activity stays dated at its
    /// admission; it cannot be evicted while the call held it anyway). `false`, having done
    /// nothing, when the outcome needs the clock: a probe, or a success that may be slow.
    #[inline]
    pub(super) fn settle_untimed_success(&self, ticket: KeyTicket) -> bool {
        if ticket.probe() || ticket.stamp.time().is_some() {
            return false;
        }
        // As `settle_closed` does for a quick success: a pending streak ends, if the key is
        // still in the state the call was admitted in.
        if self.failures.load(Relaxed) != 0 && self.load() == ticket.word {
            self.failures.store(0, Relaxed);
        }
        true
    }

    pub(super) fn settle(
        &self,
        ticket: KeyTicket,
        outcome: CallOutcome,
        now: u64,
        rules: impl FnOnce() -> KeyRules,
    ) -> Option<KeyChange> {
        self.last_active.store(now, Relaxed);
        if ticket.probe() {
            self.settle_probe(ticket, outcome, now, rules())
        } else {
            self.settle_closed(ticket, outcome, now, rules)
        }
    }

    #[inline]
    fn settle_closed(
        &self,
        ticket: KeyTicket,
        outcome: CallOutcome,
        now: u64,
        rules: impl FnOnce() -> KeyRules,
    ) -> Option<KeyChange> {
        match outcome {
            CallOutcome::Ignored => None,
            CallOutcome::Success if self.failures.load(Relaxed) == 0 => {
                // The common case: nothing pending, so nothing to write, unless the call was slow.
                let rules = rules();
                self.slow(ticket, now, rules)
                    .then(|| self.fail_closed(ticket, now, rules))
                    .flatten()
            }
            CallOutcome::Success => {
                let rules = rules();
                if self.slow(ticket, now, rules) {
                    self.fail_closed(ticket, now, rules)
                } else {
                    if self.load() == ticket.word {
                        self.failures.store(0, Relaxed);
                    }
                    None
                }
            }
            CallOutcome::Failure => self.fail_closed(ticket, now, rules()),
        }
    }

    fn slow(&self, ticket: KeyTicket, now: u64, rules: KeyRules) -> bool {
        // A call admitted untimed (no limit then) is never slow.
        ticket.stamp.time().is_some()
            && rules.slow_call != 0
            && now.saturating_sub(ticket.admitted_at()) > rules.slow_call
    }

    fn fail_closed(&self, ticket: KeyTicket, now: u64, rules: KeyRules) -> Option<KeyChange> {
        if self.load() != ticket.word {
            return None;
        }
        let failures = self.failures.fetch_add(1, Relaxed).saturating_add(1);
        if failures < rules.failure_threshold {
            return None;
        }
        let mut half = self.lock();
        // Another failure may have opened it already.
        (self.load() == ticket.word).then(|| {
            self.open(
                &mut half,
                ticket.word,
                now,
                TransitionCause::FailureThreshold,
            )
        })
    }

    fn settle_probe(
        &self,
        ticket: KeyTicket,
        outcome: CallOutcome,
        now: u64,
        rules: KeyRules,
    ) -> Option<KeyChange> {
        let mut half = self.lock();
        let word = self.load();
        if word != ticket.word {
            // The period it was a probe of has ended; its slot went with it.
            return None;
        }
        half.probes = half.probes.saturating_sub(1);
        let timed_out = now.saturating_sub(ticket.admitted_at()) >= rules.half_open_timeout;
        let outcome = match outcome {
            CallOutcome::Success if timed_out || self.slow(ticket, now, rules) => {
                CallOutcome::Failure
            }
            other => other,
        };
        match outcome {
            CallOutcome::Ignored => None,
            CallOutcome::Failure => {
                let cause = if timed_out {
                    TransitionCause::ProbeTimedOut
                } else {
                    TransitionCause::ProbeFailed
                };
                Some(self.open(&mut half, word, now, cause))
            }
            CallOutcome::Success => {
                half.successes += 1;
                (half.successes >= rules.success_threshold).then(|| {
                    self.failures.store(0, Relaxed);
                    self.word.store(word.next(Phase::Closed).bits(), Release);
                    KeyChange {
                        from: CircuitState::HalfOpen,
                        to: CircuitState::Closed,
                        cause: TransitionCause::ProbesSucceeded,
                    }
                })
            }
        }
    }

    /// Opens the key, from `word`, under its lock.
    fn open(
        &self,
        half: &mut HalfOpen,
        word: StateWord,
        now: u64,
        cause: TransitionCause,
    ) -> KeyChange {
        *half = HalfOpen {
            since: now,
            probes: 0,
            successes: 0,
        };
        self.failures.store(0, Relaxed);
        self.word.store(word.next(Phase::Open).bits(), Release);
        KeyChange {
            from: word.phase().state(),
            to: CircuitState::Open,
            cause,
        }
    }

    /// Moves the key to `phase` with fresh counts, whatever its state: the breaker's `reset`
    /// (closed) and `force_open` (held open). `None` when it was in that phase already.
    pub(super) fn force(&self, phase: Phase, now: u64) -> Option<KeyChange> {
        let mut half = self.lock();
        let word = self.load();
        if word.phase() == phase {
            return None;
        }
        *half = HalfOpen {
            since: now,
            probes: 0,
            successes: 0,
        };
        self.failures.store(0, Relaxed);
        self.word.store(word.next(phase).bits(), Release);
        let cause = if phase == Phase::Closed {
            TransitionCause::Reset
        } else {
            TransitionCause::ForcedOpen
        };
        Some(KeyChange {
            from: word.phase().state(),
            to: phase.state(),
            cause,
        })
    }
}
