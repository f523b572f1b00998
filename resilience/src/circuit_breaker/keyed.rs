//! A keyed circuit breaker: one small circuit per key (`key_circuit.rs`), with the breaker's
//! settings, counters, in-flight count and shutdown gate shared by all of them.

use std::any::Any;
use std::future::Future;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::key_circuit::{KeyChange, KeyEntry, KeyRules, KeyTicket};
use super::permit::{BodyPoll, Stamp};
use super::state_word::{Phase, StateWord};
use super::{
    layer_outcome, CallOutcome, CallPermit, CircuitBreaker, CircuitBreakerConfig, CircuitState,
};
use crate::events::{self, Event};
use crate::keyed::{key_text, Bounds, KeySnapshot, KeyTable, KeyedStats, PolicyKey, TOP_KEYS};
use crate::lifecycle::gate;
use crate::registry::PolicyKind;
use crate::{Error, Failure};

type Circuits<K> = KeyTable<K, Arc<KeyEntry<K>>>;

/// The key table of a breaker, whatever its key type: what the breaker needs without knowing it.
pub(super) trait BreakerKeys: Send + Sync {
    fn as_any(&self) -> &dyn Any;
    fn stats(&self, max_keys: u32) -> KeyedStats;
    /// Moves every key to `phase` (the breaker's `reset`).
    fn force(&self, breaker: &CircuitBreaker, phase: Phase);
}

impl<K: PolicyKey> BreakerKeys for Circuits<K> {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn stats(&self, max_keys: u32) -> KeyedStats {
        // Hottest: open first, then half-open, then the longest failure streaks.
        let heat = |circuit: &super::key_circuit::KeyCircuit| match circuit.state() {
            CircuitState::Open => u64::MAX,
            CircuitState::HalfOpen => u64::MAX - 1,
            CircuitState::Closed => u64::from(circuit.failures()),
        };
        let mut hottest: Vec<(u64, KeySnapshot)> = Vec::with_capacity(TOP_KEYS + 1);
        let mut open = Vec::new();
        self.for_each(|key, entry| {
            let circuit = &entry.circuit;
            let h = heat(circuit);
            let snapshot = || KeySnapshot::circuit(key, circuit.state(), circuit.failures());
            if circuit.state() != CircuitState::Closed && open.len() < TOP_KEYS {
                open.push(snapshot());
            }
            if hottest.len() < TOP_KEYS || hottest.last().is_some_and(|(least, _)| h > *least) {
                let at = hottest.partition_point(|(other, _)| *other >= h);
                hottest.insert(at, (h, snapshot()));
                hottest.truncate(TOP_KEYS);
            }
        });
        KeyedStats {
            keys: self.len() as u64,
            max_keys,
            evicted: self.evicted(),
            hottest: hottest.into_iter().map(|(_, snapshot)| snapshot).collect(),
            rejecting: open,
        }
    }

    fn force(&self, breaker: &CircuitBreaker, phase: Phase) {
        let now = breaker.now();
        let mut changes = Vec::new();
        self.for_each(|key, entry| {
            if let Some(change) = entry.circuit.force(phase, now) {
                changes.push((key_text(key), change));
            }
        });
        for (key, change) in changes {
            breaker.announce_key(key, change);
        }
    }
}

/// What a keyed breaker keeps beside its key table: the settings a key's steps read, in
/// atomics, so that no key ever takes the breaker's lock.
#[derive(Debug)]
pub(super) struct KeySettings {
    idle_nanos: AtomicU64,
    max_keys: AtomicU32,
    half_open_timeout: AtomicU64,
    half_open_max_calls: AtomicU32,
    success_threshold: AtomicU32,
}

fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

impl KeySettings {
    pub(super) fn new(config: &CircuitBreakerConfig) -> Self {
        let settings = KeySettings {
            idle_nanos: AtomicU64::new(0),
            max_keys: AtomicU32::new(0),
            half_open_timeout: AtomicU64::new(0),
            half_open_max_calls: AtomicU32::new(0),
            success_threshold: AtomicU32::new(0),
        };
        settings.store(config);
        settings
    }

    /// Takes `config`'s values: at build, and on a reconfiguration.
    pub(super) fn store(&self, config: &CircuitBreakerConfig) {
        self.idle_nanos
            .store(nanos(config.effective_key_idle()), Relaxed);
        self.max_keys.store(config.max_keys, Relaxed);
        self.half_open_timeout
            .store(nanos(config.effective_half_open_timeout()), Relaxed);
        self.half_open_max_calls
            .store(config.half_open_max_calls, Relaxed);
        self.success_threshold
            .store(config.success_threshold, Relaxed);
    }
}

/// Permission to make one call through a keyed [`CircuitBreaker`], from
/// [`try_acquire_key`](CircuitBreaker::try_acquire_key): for integrations that cannot hand the
/// breaker a future.
///
/// Report the call's outcome with [`record`](Self::record). A permit dropped without one is a
/// neutral outcome (the call was abandoned), or a failure when the thread is panicking; either
/// way a half-open probe slot is given back. The permit holds the key's circuit (not the key's
/// value), so the key is never evicted while it lives.
///
/// ```
/// use resilience::{CallOutcome, CircuitBreaker, CircuitState};
///
/// let breaker = CircuitBreaker::builder("doc-key-permit").failure_threshold(1).build().unwrap();
/// let permit = breaker.try_acquire_key(&"db-1").unwrap();
/// assert_eq!(breaker.key_in_flight(&"db-1"), 1);
/// permit.record(CallOutcome::Failure);
/// assert_eq!(breaker.key_state(&"db-1"), Some(CircuitState::Open));
/// assert!(breaker.try_acquire_key(&"db-1").is_err());
/// ```
#[derive(Debug)]
#[must_use = "a permit dropped at once records nothing; report the call's outcome on it"]
pub struct KeyedCallPermit<'a, K: PolicyKey> {
    // Four words, as `CallPermit`'s three plus the key's circuit: the permit lives in the
    // caller's future across the call and is copied on the way in, and fields narrower than a
    // word (an enum's tag, a flag) made those copies stall on store forwarding (~30 ns a call).
    breaker: &'a CircuitBreaker,
    /// The key's circuit, which admitted the call; `None` when the breaker's unkeyed circuit
    /// did (`K` is not the key type of the breaker's first keyed call), and the other words
    /// are that call's [`CallPermit`].
    entry: Option<Arc<KeyEntry<K>>>,
    word: StateWord,
    stamp: Stamp,
}

impl<'a, K: PolicyKey> KeyedCallPermit<'a, K> {
    /// A call admitted by the breaker's unkeyed circuit.
    fn unkeyed(permit: CallPermit<'a>) -> Self {
        let (breaker, word, stamp) = permit.into_raw();
        KeyedCallPermit {
            breaker,
            entry: None,
            word,
            stamp,
        }
    }

    /// Polls the call's future, so that a panic of its own poll counts as a failure and a drop
    /// between polls (a future beside it panicked) as abandoned: as
    /// [`CallPermit::poll_body`].
    #[inline]
    pub fn poll_body<F: Future>(
        &mut self,
        body: std::pin::Pin<&mut F>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<F::Output> {
        self.stamp.set_body(BodyPoll::Polling);
        let poll = body.poll(cx);
        // Not reached when the poll panics.
        self.stamp.set_body(BodyPoll::Idle);
        poll
    }

    /// Records the call's outcome against the state its key's circuit admitted it in.
    #[inline]
    pub fn record(mut self, outcome: CallOutcome) {
        let entry = self.entry.take();
        let (breaker, word, stamp) = (self.breaker, self.word, self.stamp);
        // Nothing left to drop (the entry is taken), and the outcome is recorded below.
        std::mem::forget(self);
        match entry {
            Some(entry) => {
                breaker.in_flight.exit();
                breaker.settle_key(&entry, KeyTicket { word, stamp }, outcome);
            }
            None => CallPermit::from_raw(breaker, word, stamp).record(outcome),
        }
    }
}

impl<K: PolicyKey> Drop for KeyedCallPermit<'_, K> {
    fn drop(&mut self) {
        match self.entry.take() {
            Some(entry) => {
                let outcome = if self.stamp.panicked() {
                    CallOutcome::Failure
                } else {
                    CallOutcome::Ignored
                };
                self.breaker.in_flight.exit();
                let ticket = KeyTicket {
                    word: self.word,
                    stamp: self.stamp,
                };
                self.breaker.settle_key(&entry, ticket, outcome);
            }
            // Its own drop records the abandoned call.
            None => drop(CallPermit::from_raw(self.breaker, self.word, self.stamp)),
        }
    }
}

/// Keyed calls.
///
/// Each key has a circuit of its own with the breaker's settings, created closed on the key's
/// first call: one host failing opens its key only. The breaker's counters (calls, outcomes,
/// rejections), its in-flight count and the shutdown gate cover every key's calls; its own
/// state (`state()`) is that of its unkeyed calls, which share one circuit apart from every
/// key's, and health reads that one only (a host down is its key's business, not the
/// service's).
///
/// A key trips on `failure_threshold` consecutive failures. Under the failure-rate rule (which
/// `#[circuit_breaker]` refuses beside `key`, and a file could still set) keys trip on the
/// default threshold, 5: a window per key would cost kilobytes a key.
///
/// **Eviction** (`key_idle`, `max_keys`; see [the `keyed` module](crate::keyed)) takes only
/// closed keys with no call in flight: an open key is kept, so a host evicted mid-outage never
/// silently skips its open period, and a half-open key is kept, so no probe's outcome is lost.
/// When `max_keys` is reached and every key is open or busy, a new key is **admitted over the
/// cap** rather than refused: refusing would turn a healthy host away because others are down.
/// The keys over the cap go once they are closed and idle. An open key nobody calls again stays
/// open (and held) until a call finds its reset timeout elapsed, or [`reset`](Self::reset).
///
/// [`force_open`](Self::force_open) rejects every key's calls too, without touching the keys'
/// circuits; [`reset`](Self::reset) closes the breaker and every key's circuit with fresh
/// counts. [`record_success`](Self::record_success) and friends act on the unkeyed circuit.
impl CircuitBreaker {
    /// The key table for `K`, made by the first keyed call; `None` when an earlier call made it
    /// for another key type.
    #[inline]
    fn key_table<K: PolicyKey>(&self) -> Option<&Circuits<K>> {
        self.keys
            .get_or_init(|| Box::<Circuits<K>>::default())
            .as_any()
            .downcast_ref()
    }

    fn key_bounds(&self) -> Bounds {
        Bounds {
            idle_nanos: self.key_settings.idle_nanos.load(Relaxed),
            max_keys: usize::try_from(self.key_settings.max_keys.load(Relaxed))
                .unwrap_or(usize::MAX),
        }
    }

    fn key_rules(&self) -> KeyRules {
        KeyRules {
            failure_threshold: self
                .settings
                .failure_threshold()
                .unwrap_or(resilience_settings::circuit_breaker::DEFAULT_FAILURE_THRESHOLD),
            reset_timeout: nanos(self.settings.reset_timeout()),
            half_open_timeout: self.key_settings.half_open_timeout.load(Relaxed),
            half_open_max_calls: self.key_settings.half_open_max_calls.load(Relaxed),
            success_threshold: self.key_settings.success_threshold.load(Relaxed),
            slow_call: self.settings.slow_call().map_or(0, nanos),
        }
    }

    fn now(&self) -> u64 {
        self.clock(Instant::now())
    }

    /// Asks to make one call for `key` by hand; see [`KeyedCallPermit`]. One hash lookup in a
    /// sharded map; the key's circuit is created closed on its first call.
    ///
    /// The sites of one breaker must use one key type: with another type than the first keyed
    /// call's, the call goes through the breaker's unkeyed circuit.
    ///
    /// # Errors
    ///
    /// [`Error::CircuitOpen`] while `key`'s circuit is open, every probe slot of its half-open
    /// circuit is taken, or the breaker is [forced open](Self::force_open); its event names the
    /// key. [`Error::ShuttingDown`] once a shutdown began.
    #[inline]
    pub fn try_acquire_key<'a, K: PolicyKey>(
        &'a self,
        key: &K,
    ) -> Result<KeyedCallPermit<'a, K>, Error> {
        let Some(table) = self.key_table::<K>() else {
            return self.try_acquire().map(KeyedCallPermit::unkeyed);
        };
        if gate::is_closed() {
            return Err(crate::lifecycle::rejection(
                PolicyKind::CircuitBreaker,
                &self.name,
            ));
        }
        if self.load_state().phase() == Phase::ForcedOpen {
            // `force_open` holds every key's calls off too, until `reset`.
            return Err(self.reject_key(key, None));
        }
        // Counted in before the key admits it, so a shutdown never misses a call in between;
        // counted out by the permit, or below if the key rejects the call.
        self.in_flight.enter_unguarded();
        // The entry's clone is taken under the key's shard: see `key_circuit.rs`.
        let (entry, word) = table.with(
            key,
            || self.now(),
            || self.key_bounds(),
            |entry| {
                (
                    Arc::clone(entry),
                    entry.circuit.admit_if_closed(table.epoch()),
                )
            },
        );
        if word.phase() == Phase::Closed {
            // Timed only when the breaker has a `slow_call` limit, for the success to be judged.
            let stamp = if self.settings.times_calls() {
                Stamp::at(self.now())
            } else {
                Stamp::UNTIMED
            };
            return Ok(KeyedCallPermit {
                breaker: self,
                entry: Some(entry),
                word,
                stamp,
            });
        }
        self.admit_key(key, entry)
    }

    /// Admits a call to a key that was not closed when looked up; see `try_acquire_key`.
    #[cold]
    #[inline(never)]
    fn admit_key<'a, K: PolicyKey>(
        &'a self,
        key: &K,
        entry: Arc<KeyEntry<K>>,
    ) -> Result<KeyedCallPermit<'a, K>, Error> {
        let (admission, change) = entry.circuit.admit(self.now(), self.key_rules());
        if let Some(change) = change {
            self.announce_key(key_text(key), change);
        }
        match admission {
            Ok(ticket) => Ok(KeyedCallPermit {
                breaker: self,
                entry: Some(entry),
                word: ticket.word,
                stamp: ticket.stamp,
            }),
            Err(retry_after) => {
                drop(entry);
                self.in_flight.exit();
                Err(self.reject_key(key, retry_after))
            }
        }
    }

    /// Records a keyed call's outcome: inline for the common case (an untimed success in a
    /// closed key, which reads no clock), out of line for the rest.
    #[inline]
    fn settle_key<K: PolicyKey>(
        &self,
        entry: &KeyEntry<K>,
        ticket: KeyTicket,
        outcome: CallOutcome,
    ) {
        self.counters.count(outcome);
        if outcome == CallOutcome::Success && entry.circuit.settle_untimed_success(ticket) {
            return;
        }
        self.settle_key_rest(entry, ticket, outcome);
    }

    #[inline(never)]
    fn settle_key_rest<K: PolicyKey>(
        &self,
        entry: &KeyEntry<K>,
        ticket: KeyTicket,
        outcome: CallOutcome,
    ) {
        let now = self.now();
        if let Some(change) = entry
            .circuit
            .settle(ticket, outcome, now, || self.key_rules())
        {
            self.announce_key(key_text(&entry.key), change);
        }
    }

    #[cold]
    fn reject_key<K: PolicyKey>(&self, key: &K, retry_after: Option<u64>) -> Error {
        self.counters.count_rejection();
        let error = Error::CircuitOpen {
            name: self.name.clone(),
            retry_after: retry_after.map(Duration::from_nanos),
        };
        events::emit(|| Event::CallRejected {
            kind: PolicyKind::CircuitBreaker,
            error: error.clone(),
            key: Some(key_text(key)),
        });
        error
    }

    #[cold]
    fn announce_key(&self, key: Arc<str>, change: KeyChange) {
        events::emit(|| Event::KeyTransition {
            name: self.name.clone(),
            key,
            from: change.from,
            to: change.to,
            cause: change.cause,
        });
    }

    /// [`call`](Self::call) for `key`: runs `fut` through `key`'s own circuit, created closed on
    /// the key's first call, counting every `Err` as a failure. One hash lookup in a sharded map
    /// to admit, one to record; no global lock.
    ///
    /// The sites of one breaker must use one key type: with another type than the first keyed
    /// call's, the call goes through the breaker's unkeyed circuit.
    ///
    /// ```
    /// use resilience::{CircuitBreaker, CircuitState, Error};
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
    /// let breaker = CircuitBreaker::builder("doc-per-host").failure_threshold(1).build().unwrap();
    /// let (down, up) = ("db-1".to_owned(), "db-2".to_owned());
    /// let _ = breaker.call_key(&down, async { Err::<(), _>(Error::Injected { name: "x".into() }) }).await;
    /// assert_eq!(breaker.key_state(&down), Some(CircuitState::Open));
    /// // Another host has a circuit of its own.
    /// assert_eq!(breaker.call_key(&up, async { Ok::<_, Error>(7) }).await, Ok(7));
    /// assert_eq!(breaker.key_state(&up), Some(CircuitState::Closed));
    /// assert_eq!(breaker.state(), CircuitState::Closed);
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::CircuitOpen`] (converted into `E`) while `key`'s circuit is open, its event
    /// naming the key; else `fut`'s own error.
    pub async fn call_key<K, T, E, Fut>(&self, key: &K, fut: Fut) -> Result<T, E>
    where
        K: PolicyKey,
        Fut: Future<Output = Result<T, E>>,
        E: From<Error>,
    {
        self.call_key_with(key, fut, |_| CallOutcome::Failure).await
    }

    /// [`call_with`](Self::call_with) for `key`: `classify` tells how each `Err` counts.
    ///
    /// # Errors
    ///
    /// As [`call_key`](Self::call_key).
    pub async fn call_key_with<K, T, E, Fut, C>(
        &self,
        key: &K,
        fut: Fut,
        classify: C,
    ) -> Result<T, E>
    where
        K: PolicyKey,
        Fut: Future<Output = Result<T, E>>,
        C: Fn(&E) -> CallOutcome,
        E: From<Error>,
    {
        let permit = self.try_acquire_key(key)?;
        let result = fut.await;
        permit.record(match &result {
            Ok(_) => CallOutcome::Success,
            Err(error) => classify(error),
        });
        result
    }

    /// The layer the attribute macros call for a keyed site; see [`run`](Self::run).
    #[doc(hidden)]
    pub async fn run_key<K, T, E, Fut, C>(
        &self,
        key: &K,
        fut: Fut,
        classify: C,
    ) -> Result<T, Failure<E>>
    where
        K: PolicyKey,
        Fut: Future<Output = Result<T, Failure<E>>>,
        C: Fn(&E) -> CallOutcome,
    {
        let permit = self.try_acquire_key(key).map_err(Failure::Policy)?;
        let result = fut.await;
        permit.record(layer_outcome(&result, classify));
        result
    }

    /// `key`'s circuit state; `None` when the breaker holds no state for `key` (never used, or
    /// evicted while closed and idle: its next call finds a closed circuit).
    ///
    /// ```
    /// use resilience::CircuitBreaker;
    ///
    /// let breaker = CircuitBreaker::builder("doc-key-state").build().unwrap();
    /// assert_eq!(breaker.key_state(&42_u64), None);
    /// ```
    pub fn key_state<K: PolicyKey>(&self, key: &K) -> Option<CircuitState> {
        let table = self.keys.get()?.as_any().downcast_ref::<Circuits<K>>()?;
        table.get(key, |entry| entry.circuit.state())
    }

    /// The calls in flight for `key` (0 for a key not held). The breaker's
    /// [`in_flight`](Self::in_flight) counts every key's too.
    pub fn key_in_flight<K: PolicyKey>(&self, key: &K) -> u32 {
        self.keys
            .get()
            .and_then(|keys| keys.as_any().downcast_ref::<Circuits<K>>())
            .and_then(|table| table.get(key, |entry| Arc::strong_count(entry) - 1))
            .map_or(0, |calls| u32::try_from(calls).unwrap_or(u32::MAX))
    }

    /// The keys of a keyed breaker: how many, the hottest (open first, then half-open, then the
    /// longest failure streaks) and the open or half-open ones; `None` when no keyed call has
    /// used it.
    pub fn keyed_stats(&self) -> Option<KeyedStats> {
        let keys = self.keys.get()?;
        Some(keys.stats(self.key_settings.max_keys.load(Relaxed)))
    }

    /// Moves every key's circuit to `phase` (`reset` closes them all).
    pub(super) fn force_keys(&self, phase: Phase) {
        if let Some(keys) = self.keys.get() {
            keys.force(self, phase);
        }
    }
}
