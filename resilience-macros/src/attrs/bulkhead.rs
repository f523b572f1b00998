//! `#[bulkhead(...)]` arguments.

use std::time::Duration;

use super::ArgSet;

pub(crate) const KEYS: &[&str] = &["max", "queue", "queue_timeout", "queue_timeout_ms", "name"];

/// Names other libraries use, and ours.
pub(crate) const RENAMED: &[(&str, &str)] = &[
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

/// Validated `#[bulkhead]` settings.
pub(crate) struct BulkheadArgs {
    pub(crate) name: Option<String>,
    pub(crate) max: u32,
    pub(crate) queue: Option<u32>,
    pub(crate) queue_timeout: Option<Duration>,
}

pub(crate) fn parse(set: &mut ArgSet<'_>) -> Option<BulkheadArgs> {
    let name = set.name();
    let max = set.u32_at_least("max", 1, "10").map(|(max, _)| max);
    if set.get("max").is_none() {
        set.missing(
            &["max"],
            "`#[bulkhead]` needs `max`, the number of calls allowed in flight at once: `#[bulkhead(max = 10)]`",
        );
    }
    let queue = set.u32_at_least("queue", 0, "10");
    let queue_timeout = set.positive_duration("queue_timeout", "queue_timeout_ms");
    if let Some((_, timeout_span)) = queue_timeout {
        if queue.map_or(true, |(queue, _)| queue == 0) {
            set.errors.at(
                timeout_span,
                "`queue_timeout` bounds the wait in the queue; it needs `queue` of at least 1, like `queue = 10`",
            );
        }
    }
    Some(BulkheadArgs {
        name,
        max: max?,
        queue: queue.map(|(queue, _)| queue),
        queue_timeout: queue_timeout.map(|(d, _)| d),
    })
}
