//! What a policy in a stack sees when the layer below it fails.

use crate::Error;

/// The failure of a layer in a stack of policies: the operation's own error, or a rejection by
/// a policy below (a timeout, a full bulkhead, an open circuit).
///
/// Inside a stack rejections stay typed, so an outer `#[retry]` can retry a timeout but not an
/// open circuit; the outermost layer turns a rejection into the function's own error type `E`
/// through `E: From<resilience::Error>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure<E> {
    /// The operation itself returned `Err`.
    Operation(E),
    /// A policy rejected the call or cut it short.
    Policy(Error),
}

impl<E> Failure<E> {
    /// Borrows the failure.
    pub fn as_ref(&self) -> FailureRef<'_, E> {
        match self {
            Failure::Operation(e) => FailureRef::Operation(e),
            Failure::Policy(p) => FailureRef::Policy(p),
        }
    }

    /// Turns the failure into the operation's error type, converting a rejection with `From`.
    pub fn into_error(self) -> E
    where
        E: From<Error>,
    {
        match self {
            Failure::Operation(e) => e,
            Failure::Policy(p) => E::from(p),
        }
    }
}

impl<E> From<Error> for Failure<E> {
    fn from(err: Error) -> Self {
        Failure::Policy(err)
    }
}

impl<E: std::fmt::Display> std::fmt::Display for Failure<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Operation(e) => e.fmt(f),
            Failure::Policy(p) => p.fmt(f),
        }
    }
}

/// A borrowed [`Failure`]: the operation's error, or a policy's rejection.
#[derive(Debug, PartialEq, Eq)]
pub enum FailureRef<'a, E> {
    /// The operation itself returned `Err`.
    Operation(&'a E),
    /// A policy rejected the call or cut it short.
    Policy(&'a Error),
}

impl<E> Clone for FailureRef<'_, E> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<E> Copy for FailureRef<'_, E> {}

impl<'a, E> FailureRef<'a, E> {
    /// The operation's error, if the operation failed.
    pub fn operation(self) -> Option<&'a E> {
        match self {
            FailureRef::Operation(e) => Some(e),
            FailureRef::Policy(_) => None,
        }
    }

    /// The rejection, if a policy rejected the call.
    pub fn policy(self) -> Option<&'a Error> {
        match self {
            FailureRef::Operation(_) => None,
            FailureRef::Policy(p) => Some(p),
        }
    }
}

impl<E: std::fmt::Display> std::fmt::Display for FailureRef<'_, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FailureRef::Operation(e) => e.fmt(f),
            FailureRef::Policy(p) => p.fmt(f),
        }
    }
}
