//! Kinds and names taken from a request's path: checked before anything is looked up.

use axum::extract::rejection::PathRejection;
use axum::extract::Path;
use resilience::PolicyKind;

use crate::error::ApiError;

/// The longest policy name a path may carry, in bytes.
pub const MAX_NAME_BYTES: usize = 256;

/// Every kind, as the paths spell them ([`PolicyKind::as_str`]).
const KINDS: [PolicyKind; 12] = [
    PolicyKind::CircuitBreaker,
    PolicyKind::Retry,
    PolicyKind::Timeout,
    PolicyKind::Bulkhead,
    PolicyKind::RateLimiter,
    PolicyKind::Fallback,
    PolicyKind::Pipeline,
    PolicyKind::HealthMonitor,
    PolicyKind::Supervisor,
    PolicyKind::RetryBudget,
    PolicyKind::Hedge,
    PolicyKind::Chaos,
];

/// The path's segments, percent-decoded: 400 `BAD_REQUEST` when one is not valid UTF-8 once
/// decoded (or the path does not fit the route, which the router already rules out).
pub(crate) fn segments<T>(path: Result<Path<T>, PathRejection>) -> Result<T, ApiError> {
    path.map(|Path(segments)| segments)
        .map_err(|rejection| ApiError::bad_request(format!("malformed path: {rejection}")))
}

/// The kind a path names: 404 `NOT_FOUND` for a word that is no kind.
pub(crate) fn kind(text: &str) -> Result<PolicyKind, ApiError> {
    KINDS
        .into_iter()
        .find(|kind| kind.as_str() == text)
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "no policy kind `{}`; kinds: {}",
                shown(text),
                KINDS.map(PolicyKind::as_str).join(", ")
            ))
        })
}

/// A policy name from a path: 400 `BAD_REQUEST` when empty, longer than [`MAX_NAME_BYTES`], or
/// holding a control character (a name no policy can have been given on purpose).
pub(crate) fn name(text: &str) -> Result<&str, ApiError> {
    if text.is_empty() {
        return Err(ApiError::bad_request("empty policy name"));
    }
    if text.len() > MAX_NAME_BYTES {
        return Err(ApiError::bad_request(format!(
            "policy name longer than {MAX_NAME_BYTES} bytes"
        )));
    }
    if text.chars().any(char::is_control) {
        return Err(ApiError::bad_request(
            "policy name with a control character",
        ));
    }
    Ok(text)
}

/// `text` for a message: short, and with control characters escaped.
pub(crate) fn shown(text: &str) -> String {
    let mut shown: String = text
        .chars()
        .take(64)
        .flat_map(char::escape_default)
        .collect();
    if text.chars().count() > 64 {
        shown.push('…');
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_reads_back() {
        for kind in KINDS {
            assert_eq!(super::kind(kind.as_str()).unwrap(), kind);
        }
        assert!(super::kind("breaker").is_err());
        assert!(super::kind("").is_err());
    }

    #[test]
    fn names_are_checked() {
        assert_eq!(name("billing::charge").unwrap(), "billing::charge");
        assert_eq!(name("a/b c").unwrap(), "a/b c");
        assert!(name("").is_err());
        assert!(name("a\nb").is_err());
        assert!(name("\u{0}").is_err());
        assert!(name(&"x".repeat(MAX_NAME_BYTES + 1)).is_err());
        assert!(name(&"x".repeat(MAX_NAME_BYTES)).is_ok());
    }
}
