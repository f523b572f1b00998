//! Which children a crash restarts.

use std::fmt;
use std::ops::Range;

/// Which children are restarted when one of them is to be restarted (OTP's strategies).
///
/// Children run in the order they were added. The ones a restart takes are stopped in reverse
/// order, then started again in order; a [`Temporary`](crate::Restart::Temporary) one among
/// them is stopped and not started again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum Strategy {
    /// Only the child that ended is restarted: independent workers.
    #[default]
    OneForOne,
    /// Every child is restarted: children that cannot work without each other.
    OneForAll,
    /// The child that ended and every child added after it: each depends on those before it.
    RestForOne,
}

impl Strategy {
    /// `"one_for_one"`, `"one_for_all"` or `"rest_for_one"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Strategy::OneForOne => "one_for_one",
            Strategy::OneForAll => "one_for_all",
            Strategy::RestForOne => "rest_for_one",
        }
    }

    /// The children, by index, restarted when child `index` of `len` is.
    pub(crate) fn group(self, index: usize, len: usize) -> Range<usize> {
        match self {
            Strategy::OneForOne => index..index + 1,
            Strategy::OneForAll => 0..len,
            Strategy::RestForOne => index..len,
        }
    }
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups() {
        assert_eq!(Strategy::OneForOne.group(1, 3), 1..2);
        assert_eq!(Strategy::OneForAll.group(1, 3), 0..3);
        assert_eq!(Strategy::RestForOne.group(1, 3), 1..3);
        assert_eq!(Strategy::RestForOne.group(2, 3), 2..3);
    }
}
