//! Which rejections of the policies below a retry are retried.

use std::fmt;
use std::ops::BitOr;

use crate::Error;

/// The rejections of the policies below a [`Retry`](crate::Retry) that it retries: a set of
/// [`Error`] kinds, `#[retry(retry_on = [..])]`'s value.
///
/// `retry_if` decides about the function's own errors; `retry_on` about the rejections of the
/// layers below, which `retry_if` never sees. The default retries the transient ones
/// ([`TIMEOUT`](Self::TIMEOUT), [`BULKHEAD_FULL`](Self::BULKHEAD_FULL),
/// [`RATE_LIMITED`](Self::RATE_LIMITED)), not an open circuit: the breaker has just said that the
/// dependency is down. [`NONE`](Self::NONE) suits a call that must not run twice, a payment
/// whose first attempt may have gone through before its timeout fired.
///
/// ```
/// use resilience::{Error, RetryOn};
/// use std::time::Duration;
///
/// let timeout = Error::Timeout { name: "db".into(), after: Duration::from_secs(1) };
/// assert!(RetryOn::default().retries(&timeout));
/// assert!(!RetryOn::NONE.retries(&timeout));
///
/// let with_open_circuits = RetryOn::default() | RetryOn::CIRCUIT_OPEN;
/// assert_eq!(with_open_circuits.to_string(), r#"["timeout", "bulkhead_full", "rate_limited", "circuit_open"]"#);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct RetryOn(u8);

impl RetryOn {
    /// No rejection is retried.
    pub const NONE: RetryOn = RetryOn(0);
    /// [`Error::Timeout`]: the attempt ran out of time.
    pub const TIMEOUT: RetryOn = RetryOn(1);
    /// [`Error::BulkheadFull`]: no slot was free.
    pub const BULKHEAD_FULL: RetryOn = RetryOn(1 << 1);
    /// [`Error::RateLimited`]: retried no sooner than its `retry_after`.
    pub const RATE_LIMITED: RetryOn = RetryOn(1 << 2);
    /// [`Error::CircuitOpen`]: retried on the retry's own schedule, which is worth it only when
    /// the schedule outlasts the breaker's `reset_timeout` (the attributes check it).
    pub const CIRCUIT_OPEN: RetryOn = RetryOn(1 << 3);

    /// Each kind with its name in `retry_on = [..]`, in the order they print.
    const NAMED: [(RetryOn, &'static str); 4] = [
        (RetryOn::TIMEOUT, "timeout"),
        (RetryOn::BULKHEAD_FULL, "bulkhead_full"),
        (RetryOn::RATE_LIMITED, "rate_limited"),
        (RetryOn::CIRCUIT_OPEN, "circuit_open"),
    ];

    /// Both sets' kinds.
    pub const fn union(self, other: RetryOn) -> RetryOn {
        RetryOn(self.0 | other.0)
    }

    /// Whether every kind of `other` is in this set.
    pub const fn contains(self, other: RetryOn) -> bool {
        self.0 & other.0 == other.0
    }

    /// The kind named as in `retry_on = [..]` (`"timeout"`, `"bulkhead_full"`,
    /// `"rate_limited"`, `"circuit_open"`), if it is one.
    pub fn from_name(name: &str) -> Option<RetryOn> {
        Self::NAMED
            .iter()
            .find(|(_, known)| *known == name)
            .map(|(kind, _)| *kind)
    }

    /// Whether a rejection of this kind is retried. [`Error::ShuttingDown`] never is, whatever
    /// the set.
    #[inline]
    pub fn retries(self, rejection: &Error) -> bool {
        let kind = match rejection {
            // The program is going away: another attempt would only be turned away again.
            Error::ShuttingDown { .. } => return false,
            // An injected fault stands for the operation failing: retried as its errors are.
            Error::Injected { .. } => return true,
            Error::Timeout { .. } => RetryOn::TIMEOUT,
            Error::BulkheadFull { .. } => RetryOn::BULKHEAD_FULL,
            Error::RateLimited { .. } => RetryOn::RATE_LIMITED,
            // No wildcard: `#[non_exhaustive]` binds other crates only, so a new kind of
            // rejection fails to compile here until someone decides whether it is retried.
            Error::CircuitOpen { .. } => RetryOn::CIRCUIT_OPEN,
        };
        self.contains(kind)
    }
}

impl Default for RetryOn {
    /// The transient rejections: a timeout, a full bulkhead, a rate limit.
    fn default() -> Self {
        RetryOn::TIMEOUT
            .union(RetryOn::BULKHEAD_FULL)
            .union(RetryOn::RATE_LIMITED)
    }
}

impl BitOr for RetryOn {
    type Output = RetryOn;

    fn bitor(self, other: RetryOn) -> RetryOn {
        self.union(other)
    }
}

/// As the attribute writes it: `["timeout", "rate_limited"]`, `[]`.
impl fmt::Display for RetryOn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut names = Self::NAMED
            .iter()
            .filter(|(kind, _)| self.contains(*kind))
            .map(|(_, name)| name);
        f.write_str("[")?;
        if let Some(first) = names.next() {
            write!(f, "{first:?}")?;
            for name in names {
                write!(f, ", {name:?}")?;
            }
        }
        f.write_str("]")
    }
}

impl fmt::Debug for RetryOn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RetryOn{self}")
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for RetryOn {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut seq = serializer.serialize_seq(None)?;
        for (kind, name) in Self::NAMED {
            if self.contains(kind) {
                seq.serialize_element(name)?;
            }
        }
        seq.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_the_attribute_table() {
        for name in resilience_settings::retry::REJECTIONS {
            assert!(RetryOn::from_name(name).is_some(), "{name}");
        }
        let default = resilience_settings::retry::DEFAULT_RETRY_ON
            .iter()
            .filter_map(|name| RetryOn::from_name(name))
            .fold(RetryOn::NONE, RetryOn::union);
        assert_eq!(default, RetryOn::default());
        assert_eq!(RetryOn::NONE.to_string(), "[]");
        assert_eq!(RetryOn::from_name("timeouts"), None);
    }

    #[test]
    fn each_rejection_is_its_own_kind() {
        let name: std::sync::Arc<str> = "x".into();
        let rejections = [
            Error::Timeout {
                name: name.clone(),
                after: std::time::Duration::ZERO,
            },
            Error::BulkheadFull {
                name: name.clone(),
                max_concurrent: 1,
            },
            Error::RateLimited {
                name: name.clone(),
                retry_after: std::time::Duration::ZERO,
            },
            Error::CircuitOpen {
                name,
                retry_after: None,
            },
        ];
        for (i, rejection) in rejections.iter().enumerate() {
            let (kind, _) = RetryOn::NAMED[i];
            assert!(kind.retries(rejection));
            for (other, _) in RetryOn::NAMED.iter().filter(|(other, _)| *other != kind) {
                assert!(!other.retries(rejection));
            }
        }
    }

    #[test]
    fn shutting_down_is_never_retried() {
        let closing = Error::ShuttingDown { name: "x".into() };
        let every = RetryOn::NAMED
            .iter()
            .fold(RetryOn::NONE, |set, (kind, _)| set.union(*kind));
        assert!(!every.retries(&closing));
        assert!(!RetryOn::default().retries(&closing));
    }
}
