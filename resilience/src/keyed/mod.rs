//! Keyed policies: one policy state per key value (per client, per user, per host) under one
//! registered name, with bounded memory.
//!
//! A keyed site (`#[rate_limit(rate = 10, key = user_id)]`, or
//! [`RateLimiter::try_acquire_key`](crate::RateLimiter::try_acquire_key) in code) resolves its
//! named policy once, as every site does, and then finds its key's state with one hash lookup
//! in a sharded concurrent map ([`dashmap`], chosen for being the map governor's keyed limiter
//! uses too, so the two are compared on the same footing): no global lock on the call path. A
//! key's state is created on its first call with the policy's settings; two sites naming the
//! same keyed policy share the per-key states, as they share an unkeyed policy.
//!
//! **Keys.** Any type that is [`PolicyKey`]: `Hash + Eq + Clone + Debug + Send + Sync +
//! 'static` (`u64`, `String`, `IpAddr`, a tuple of them, a type of your own deriving those).
//! The key expression is evaluated by reference from the function's arguments before the call,
//! so it never moves an argument; a borrowed `&str` argument is not `'static`: write
//! `key = name.to_owned()`. The sites that name one keyed policy must use one key type: a site
//! whose key type differs from the first site's is limited by the policy's unkeyed state
//! instead (documented on each keyed method; nothing panics).
//!
//! **Local.** A keyed policy's keys live in this process: `shared` with `key` in one attribute
//! is a compile error, and a limiter that a file makes `shared` keeps its keyed calls on local
//! per-key buckets (its unkeyed calls go through the store).
//!
//! **Memory.** Two settings bound it (attribute, builder or file: `[rate_limit.api]
//! key_idle = "10m"`, `max_keys = 10000`):
//!
//! - `key_idle`: a key idle for this long is evicted. For a rate limiter, idle means its bucket
//!   has been full for that long, so evicting it loses nothing: it would start full again.
//!   Default: three periods (`3 × per`), at least the time a bucket takes to refill.
//!   A breaker's or bulkhead's call reads no clock (a clock read was a third of a keyed
//!   breaker's call), so their keys are dated by sweeps instead: a key goes at the first sweep
//!   that finds it not called since the sweep before, which began `key_idle` or more ago; so
//!   between `key_idle` and two sweep intervals after its last call.
//! - `max_keys` (default 100 000): when a new key makes more than this many, the least
//!   recently active keys are evicted in one sweep, down to seven eighths of the cap, so that
//!   a sweep's cost is spread over the eighth of the cap's new keys that made it necessary.
//!   For a rate limiter, least recently active means the fullest buckets (the latest time at
//!   which each is full again comes first): an approximation of least recently used that loses
//!   the least, since an evicted limiter key starts full again, which is safe. Keys created by
//!   other threads while a sweep runs may pass the cap by that many until the next sweep.
//!
//! Sweeps run on the path that creates a key (an idle sweep at most once per `key_idle`), so a
//! program whose keys stop changing does no eviction work at all, and no state is ever evicted
//! while a call reads it: a call holds its key's shard (shared) while it decides, a sweep needs
//! it exclusively. A limiter key is its GCRA word and the key, in a hash table slot: with a
//! `u64` key, 16 bytes and a control byte; measured with the table's spare room, 22 bytes a key
//! while keys are added, and at most 75 bytes a key held at the cap under constant churn
//! (a slot freed in a full group stays a tombstone until the table is rehashed):
//! `tests/keyed_memory.rs` measures both, a million distinct keys through a cap of 10 000.

mod table;

use std::fmt::{self, Write as _};
use std::hash::Hash;
use std::sync::Arc;

pub(crate) use table::{Bounds, KeyTable, KeyValue};

/// The bounds of a policy key: what a keyed policy needs of the key expression's type.
///
/// Implemented for every type that is `Hash + Eq + Clone + Debug + Send + Sync + 'static`:
/// `Hash + Eq` to find the key's state, `Clone` to store the key on its first call, `Debug`
/// for events and snapshots, `Send + Sync + 'static` because states live in the global
/// registry.
///
/// ```
/// fn is_key<K: resilience::PolicyKey>(_: &K) {}
/// is_key(&42_u64);
/// is_key(&"client".to_owned());
/// is_key(&std::net::IpAddr::from([127, 0, 0, 1]));
/// is_key(&("tenant".to_owned(), 7_u32));
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a policy key",
    label = "the `key = ..` expression has type `{Self}`",
    note = "a key must be `Hash + Eq + Clone + Debug + Send + Sync + 'static`; for a borrowed `&str` write `key = name.to_owned()`"
)]
pub trait PolicyKey: Hash + Eq + Clone + fmt::Debug + Send + Sync + 'static {}

impl<K: Hash + Eq + Clone + fmt::Debug + Send + Sync + 'static> PolicyKey for K {}

/// The longest a key's `Debug` text gets in events and snapshots; longer texts are cut and end
/// with `…`.
pub const MAX_KEY_TEXT: usize = 64;

/// A key's `Debug` text, cut to [`MAX_KEY_TEXT`] characters.
pub(crate) fn key_text<K: fmt::Debug>(key: &K) -> Arc<str> {
    struct Capped(String);
    impl fmt::Write for Capped {
        fn write_str(&mut self, s: &str) -> fmt::Result {
            for c in s.chars() {
                if self.0.chars().count() >= MAX_KEY_TEXT {
                    return Err(fmt::Error);
                }
                self.0.push(c);
            }
            Ok(())
        }
    }
    let mut text = Capped(String::new());
    if write!(text, "{key:?}").is_err() {
        text.0.push('…');
    }
    text.0.into()
}

/// One key of a keyed policy as a snapshot shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct KeySnapshot {
    /// The key's `Debug` text, cut to [`MAX_KEY_TEXT`] characters.
    pub key: String,
    /// For a rate limiter: the cells free in the key's bucket now (0 for a breaker's key).
    pub available: u32,
    /// For a circuit breaker: the key's circuit state (`None` for a limiter's key).
    pub state: Option<crate::CircuitState>,
    /// For a circuit breaker: the key's consecutive failures while closed (0 otherwise).
    pub failures: u32,
}

impl KeySnapshot {
    /// A rate limiter's key with `available` free cells.
    pub(crate) fn bucket<K: fmt::Debug>(key: &K, available: u32) -> Self {
        KeySnapshot {
            key: key_text(key).to_string(),
            available,
            state: None,
            failures: 0,
        }
    }

    /// A circuit breaker's key.
    pub(crate) fn circuit<K: fmt::Debug>(
        key: &K,
        state: crate::CircuitState,
        failures: u32,
    ) -> Self {
        KeySnapshot {
            key: key_text(key).to_string(),
            available: 0,
            state: Some(state),
            failures,
        }
    }
}

/// The keys of a keyed policy, in its snapshot row.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct KeyedStats {
    /// Keys held now.
    pub keys: u64,
    /// The most keys held at once (`max_keys`).
    pub max_keys: u32,
    /// Keys evicted so far (idle, or over `max_keys`).
    pub evicted: u64,
    /// The hottest keys, at most [`TOP_KEYS`]: for a rate limiter, those with the fewest free
    /// cells, fewest first; for a circuit breaker, open keys first, then half-open ones, then
    /// the longest failure streaks.
    pub hottest: Vec<KeySnapshot>,
    /// The keys rejecting now, at most [`TOP_KEYS`]: for a rate limiter, those whose bucket is
    /// empty, so that their next call is rejected; for a circuit breaker, the open and
    /// half-open keys.
    pub rejecting: Vec<KeySnapshot>,
}

/// How many keys a snapshot lists as hottest and as rejecting.
pub const TOP_KEYS: usize = 5;
