//! `#[fallback(path, ...)]`: the fallback function comes first and is no key; its keys take no
//! value that a range could refuse.

use crate::{path, KeySpec, NAME};

/// `fallback_if = is_outage`.
pub const FALLBACK_IF: KeySpec = path(
    "fallback_if",
    "every `Err`",
    "is_outage",
    "a `fn(&E) -> bool` choosing the errors the fallback answers for",
);

/// Every `#[fallback]` key.
pub const KEYS: &[KeySpec] = &[FALLBACK_IF, NAME];

/// Names other libraries use, and ours.
pub const RENAMED: &[(&str, &str)] = &[
    ("when", "fallback_if"),
    ("on", "fallback_if"),
    ("handle", "fallback_if"),
    ("predicate", "fallback_if"),
    ("fallback_on", "fallback_if"),
    ("retry_if", "fallback_if"),
];
