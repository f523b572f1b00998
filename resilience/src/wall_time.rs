//! A wall-clock time as people read it: for the stats' "when" fields.

use std::fmt;
use std::time::SystemTime;

/// A moment on the wall clock, printed (`Display`, `Debug`) and serialized as RFC 3339 in UTC
/// with milliseconds: `2026-11-30T12:05:43.123Z`.
///
/// The policies' own timing uses `tokio::time`; these times are for people reading stats and
/// logs, so they come from [`SystemTime`], which [`system_time`](Self::system_time) gives back.
///
/// ```
/// use resilience::WallTime;
/// use std::time::{Duration, UNIX_EPOCH};
///
/// let time = WallTime::from(UNIX_EPOCH + Duration::from_millis(1_718_000_000_250));
/// assert_eq!(time.to_string(), "2024-06-10T06:13:20.250Z");
/// assert_eq!(format!("{time:?}"), "2024-06-10T06:13:20.250Z");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct WallTime(SystemTime);

impl WallTime {
    /// The time as a [`SystemTime`].
    pub fn system_time(self) -> SystemTime {
        self.0
    }
}

impl From<SystemTime> for WallTime {
    fn from(time: SystemTime) -> Self {
        WallTime(time)
    }
}

impl From<WallTime> for SystemTime {
    fn from(time: WallTime) -> Self {
        time.0
    }
}

impl fmt::Display for WallTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Times before the epoch cannot come from the breaker's marks; say so rather than panic.
        match self.0.duration_since(SystemTime::UNIX_EPOCH) {
            Ok(_) => write!(f, "{}", humantime::format_rfc3339_millis(self.0)),
            Err(_) => f.write_str("(before 1970)"),
        }
    }
}

impl fmt::Debug for WallTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for WallTime {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}
