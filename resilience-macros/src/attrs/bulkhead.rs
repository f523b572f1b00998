//! `#[bulkhead(...)]` arguments.

use std::time::Duration;

use proc_macro2::Span;

use super::ArgSet;
use crate::args::Arg;

const KEYS: &[&str] = &["max", "queue", "queue_timeout", "queue_timeout_ms", "name"];

/// Validated `#[bulkhead]` settings.
pub(crate) struct BulkheadArgs {
    pub(crate) name: Option<String>,
    pub(crate) max: u32,
    pub(crate) queue: Option<u32>,
    pub(crate) queue_timeout: Option<Duration>,
}

pub(crate) fn parse(args: &[Arg], span: Span) -> syn::Result<BulkheadArgs> {
    let mut set = ArgSet::new("bulkhead", args, KEYS);
    let name = set.name();
    let max = set.u32_at_least("max", 1, "10").map(|(max, _)| max);
    if set.get("max").is_none() {
        set.missing(
            span,
            "`#[bulkhead]` needs `max`, the number of calls allowed in flight at once: `#[bulkhead(max = 10)]`",
        );
    }
    let queue = set.get("queue").and_then(|arg| set.errors.take(arg.u32("10")));
    let queue_timeout = set.positive_duration("queue_timeout", "queue_timeout_ms");
    if let Some((_, timeout_span)) = queue_timeout {
        if queue.map_or(true, |(queue, _)| queue == 0) {
            set.errors.at(
                timeout_span,
                "`queue_timeout` bounds the wait in the queue; it needs `queue` of at least 1",
            );
        }
    }
    set.finish(())?;
    match max {
        Some(max) => Ok(BulkheadArgs {
            name,
            max,
            queue: queue.map(|(queue, _)| queue),
            queue_timeout: queue_timeout.map(|(d, _)| d),
        }),
        None => Err(syn::Error::new(span, "`#[bulkhead]` needs `max`")),
    }
}
