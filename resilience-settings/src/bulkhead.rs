//! `#[bulkhead]`: keys, defaults and checks.

use std::time::Duration;

use crate::spec::LONGER_THAN_ZERO;
use crate::{collect, count_from_one, first, KeySpec, Problem, Rule, ValueKind, NAME};

/// Callers that may wait for a slot when `queue` is not given: none.
pub const DEFAULT_QUEUE: u32 = 0;
/// The longest wait in the queue when `queue_timeout` is not given.
pub const DEFAULT_QUEUE_TIMEOUT: Duration = Duration::from_secs(1);

/// `max = 10`.
pub const MAX: KeySpec = count_from_one(
    "max",
    "required",
    "10",
    "the number of calls allowed in flight at once",
);
/// `queue = 10`.
pub const QUEUE: KeySpec = KeySpec::new(
    "queue",
    ValueKind::Count { min: 0 },
    "a whole number from 0 to 4294967295",
    "0",
    "10",
    "callers allowed to wait for a slot; beyond them, calls are rejected at once",
);
/// `queue_timeout = "1s"`.
pub const QUEUE_TIMEOUT: KeySpec = KeySpec::new(
    "queue_timeout",
    ValueKind::Duration { positive: true },
    LONGER_THAN_ZERO,
    "1s when `queue` > 0",
    "\"1s\"",
    "the longest wait for a slot",
);
/// `queue_timeout_ms = 1000`.
pub const QUEUE_TIMEOUT_MS: KeySpec = QUEUE_TIMEOUT.in_milliseconds("queue_timeout_ms", "1000");

/// The most keys a keyed bulkhead holds when `max_keys` is not given (busy keys may pass it).
pub const DEFAULT_MAX_KEYS: u32 = crate::DEFAULT_MAX_KEYS;
/// How long a keyed bulkhead keeps a free key when `key_idle` is not given.
pub const DEFAULT_KEY_IDLE: Duration = Duration::from_secs(60);
/// `key_idle = "10m"`: how long a keyed bulkhead keeps a key with every slot free.
pub const KEY_IDLE: KeySpec = crate::key_idle(
    "1m",
    "how long a keyed bulkhead keeps a key with every slot free and nobody queued",
);
/// `key_idle_ms = 600000`.
pub const KEY_IDLE_MS: KeySpec = KEY_IDLE.in_milliseconds("key_idle_ms", "600000");
/// `max_keys = 100000`.
pub const MAX_KEYS: KeySpec =
    crate::max_keys("the most keys a keyed bulkhead holds at once (busy keys are never evicted)");

/// Every `#[bulkhead]` key, in the order messages list them.
pub const KEYS: &[KeySpec] = &[
    MAX,
    QUEUE,
    QUEUE_TIMEOUT,
    QUEUE_TIMEOUT_MS,
    KEY_IDLE,
    KEY_IDLE_MS,
    MAX_KEYS,
    NAME,
];

/// Names other libraries use, and ours.
pub const RENAMED: &[(&str, &str)] = &[
    ("max_concurrent", "max"),
    ("max_concurrent_calls", "max"),
    ("concurrency", "max"),
    ("limit", "max"),
    ("permits", "max"),
    ("size", "max"),
    ("queue_size", "queue"),
    ("max_queue", "queue"),
    ("max_wait", "queue_timeout"),
    ("max_wait_duration", "queue_timeout"),
    ("wait", "queue_timeout"),
];

/// `#[bulkhead]`'s settings as plain values, by key; `None` means not given.
///
/// ```
/// use resilience_settings::bulkhead::{BulkheadSettings, Resolved};
/// use std::time::Duration;
///
/// let settings = BulkheadSettings { max: Some(4), queue: Some(8), ..BulkheadSettings::default() };
/// assert_eq!(
///     settings.resolve(),
///     Ok(Resolved { max: 4, queue: 8, queue_timeout: Duration::from_secs(1) }),
/// );
/// // A queue timeout with no queue bounds a wait that never happens.
/// let settings = BulkheadSettings { max: Some(4), queue_timeout: Some(Duration::from_secs(2)), ..BulkheadSettings::default() };
/// assert_eq!(settings.check().unwrap_err().key(), "queue_timeout");
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BulkheadSettings {
    /// `max`: required.
    pub max: Option<u32>,
    /// `queue`.
    pub queue: Option<u32>,
    /// `queue_timeout` / `queue_timeout_ms`.
    pub queue_timeout: Option<Duration>,
}

/// A bulkhead's checked settings, defaults filled in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resolved {
    /// Calls in flight at once.
    pub max: u32,
    /// Callers that may wait.
    pub queue: u32,
    /// The longest wait.
    pub queue_timeout: Duration,
}

impl BulkheadSettings {
    /// The settings given, by name.
    pub fn given(&self) -> Vec<&'static str> {
        [
            (self.max.is_some(), &MAX),
            (self.queue.is_some(), &QUEUE),
            (self.queue_timeout.is_some(), &QUEUE_TIMEOUT),
        ]
        .into_iter()
        .filter_map(|(given, spec)| given.then_some(spec.setting))
        .collect()
    }

    /// Every problem of these settings, in the order of the keys; empty when they are valid.
    pub fn problems(&self) -> Vec<Problem> {
        let mut problems = Vec::new();
        match self.max {
            Some(max) => {
                collect(&mut problems, MAX.check_count(max.into()));
            }
            None => problems.push(Problem::new(&MAX, "not set".to_owned(), Rule::Required)),
        }
        if let Some(queue) = self.queue {
            collect(&mut problems, QUEUE.check_count(queue.into()));
        }
        if let Some(queue_timeout) = self.queue_timeout {
            collect(&mut problems, QUEUE_TIMEOUT.check_duration(queue_timeout));
            if self.queue.unwrap_or(DEFAULT_QUEUE) == 0 {
                problems.push(Problem::new(
                    &QUEUE_TIMEOUT,
                    format!("{queue_timeout:?}"),
                    Rule::NeedsQueue,
                ));
            }
        }
        problems
    }

    /// The first problem, if any: what a builder reports.
    pub fn check(&self) -> Result<(), Problem> {
        first(self.problems())
    }

    /// The checked settings with their defaults.
    pub fn resolve(&self) -> Result<Resolved, Problem> {
        self.check()?;
        match self.max {
            Some(max) => Ok(Resolved {
                max,
                queue: self.queue.unwrap_or(DEFAULT_QUEUE),
                queue_timeout: self.queue_timeout.unwrap_or(DEFAULT_QUEUE_TIMEOUT),
            }),
            // `check` refuses a missing `max`; kept total rather than unwrapped.
            None => Err(Problem::new(&MAX, "not set".to_owned(), Rule::Required)),
        }
    }
}
