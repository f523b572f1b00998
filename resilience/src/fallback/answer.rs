//! How `#[fallback(path)]` answers: when the layers below fail, the fallback function is called
//! and its result is the call's.
//!
//! The fallback is called with the original arguments and the error, and returns the
//! function's own `Result<T, E>`, either directly (a sync `fn`) or as a future (an `async fn`).
//! A path alone does not say which, so the generated code wraps the fallback's return value in
//! [`FallbackOutput`] and calls `into_fallback_future` on it: an inherent method when the value
//! is a `Result` (method resolution prefers it), the [`AsyncFallback`] trait's otherwise.

use std::future::{ready, Future, Ready};

use crate::{Error, Failure};

/// A fallback function's return value, before the layer awaits it.
pub struct FallbackOutput<R>(pub R);

impl<T, E> FallbackOutput<Result<T, E>> {
    /// A sync fallback's result, ready at once.
    #[inline]
    pub fn into_fallback_future(self) -> Ready<Result<T, E>> {
        ready(self.0)
    }
}

/// An async fallback's future, awaited as it is.
pub trait AsyncFallback {
    /// The future the fallback returned.
    type Future: Future;
    /// The fallback's future.
    fn into_fallback_future(self) -> Self::Future;
}

impl<F: Future> AsyncFallback for FallbackOutput<F> {
    type Future = F;
    #[inline]
    fn into_fallback_future(self) -> F {
        self.0
    }
}

/// A fallback's answer, checked to be the annotated function's own return type `R`: a mismatch
/// is reported in the user's types, not in those of the expansion.
#[diagnostic::on_unimplemented(
    message = "the fallback returns `{Self}`, but the annotated function returns `{R}`",
    label = "this fallback must return the function's own `{R}`",
    note = "a fallback answers for the call, so it returns what the function returns (an `async fn` fallback: as its output)"
)]
pub trait FallbackAnswer<R> {
    /// The answer as the function's result.
    fn into_answer(self) -> R;
}

impl<R> FallbackAnswer<R> for R {
    #[inline]
    fn into_answer(self) -> R {
        self
    }
}

/// The fallback's answer as the function's result `R`.
#[inline]
pub fn fallback_answer<R, A: FallbackAnswer<R>>(answer: A) -> R {
    answer.into_answer()
}

/// An owned argument of a function with a fallback: the body consumes it, so the fallback gets
/// a clone taken before the body runs.
#[diagnostic::on_unimplemented(
    message = "`#[fallback]` passes the arguments to the fallback too, so the owned argument of type `{Self}` must be `Clone`",
    label = "this argument is moved into the body",
    note = "take the argument by reference (`&{Self}`), or make its type `Clone`"
)]
pub trait FallbackArg: Sized {
    /// The copy the fallback gets.
    fn clone_for_fallback(&self) -> Self;
}

impl<T: Clone> FallbackArg for T {
    #[inline]
    fn clone_for_fallback(&self) -> Self {
        self.clone()
    }
}

/// The fallback's copy of an owned argument.
#[inline]
pub fn clone_for_fallback<T: FallbackArg>(value: &T) -> T {
    value.clone_for_fallback()
}

/// An owned `impl Trait` argument of a function with a fallback: the fix is a bound.
#[diagnostic::on_unimplemented(
    message = "`#[fallback]` passes the arguments to the fallback too, so the owned argument of type `{Self}` must be `Clone`",
    label = "this argument is moved into the body",
    note = "add `Clone` to its bounds (`{Self} + Clone`), or take it by reference"
)]
pub trait FallbackImplArg: Sized {
    /// The copy the fallback gets.
    fn clone_for_fallback(&self) -> Self;
}

impl<T: Clone> FallbackImplArg for T {
    #[inline]
    fn clone_for_fallback(&self) -> Self {
        self.clone()
    }
}

/// The fallback's copy of an owned `impl Trait` argument.
#[inline]
pub fn clone_impl_for_fallback<T: FallbackImplArg>(value: &T) -> T {
    value.clone_for_fallback()
}

/// The `#[fallback]` layer's decision over layers that can reject a call: `Ok(error)` when the
/// fallback answers for this failure, `Err(failure)` to pass it up unchanged.
///
/// `fallback_if` sees the failure as the function's `E` (a rejection converted with
/// `From<resilience::Error>`). When it refuses, the failure goes up as it was, a rejection
/// still typed, so an outer `#[retry]` still tells an open circuit from a timeout. (Over layers
/// that cannot reject, the expansion asks `fallback_if` about the operation's error directly.)
#[inline]
pub fn fallback_error<E: From<Error>>(
    failure: Failure<E>,
    fallback_if: impl Fn(&E) -> bool,
) -> Result<E, Failure<E>> {
    match failure {
        Failure::Operation(error) if fallback_if(&error) => Ok(error),
        Failure::Operation(error) => Err(Failure::Operation(error)),
        Failure::Policy(rejection) => {
            // Cloning the rejection (two words and a reference count) keeps it for the case
            // where the fallback does not apply.
            let error = E::from(rejection.clone());
            if fallback_if(&error) {
                Ok(error)
            } else {
                Err(Failure::Policy(rejection))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;

    #[derive(Debug, Clone, PartialEq)]
    enum AppError {
        Down,
        Policy(Error),
    }

    impl From<Error> for AppError {
        fn from(err: Error) -> Self {
            AppError::Policy(err)
        }
    }

    fn open() -> Error {
        Error::CircuitOpen {
            name: Arc::from("api"),
            retry_after: Some(Duration::from_secs(1)),
        }
    }

    fn cached_sync(id: u32, error: AppError) -> Result<String, AppError> {
        Ok(format!("cached {id} after {error:?}"))
    }

    async fn cached_async(id: u32, _error: AppError) -> Result<String, AppError> {
        Ok(format!("cached {id}"))
    }

    fn only_rejections(error: &AppError) -> bool {
        matches!(error, AppError::Policy(_))
    }

    #[tokio::test]
    async fn a_sync_or_an_async_fallback_is_awaited_alike() {
        let sync = FallbackOutput(cached_sync(clone_for_fallback(&7), AppError::Down))
            .into_fallback_future()
            .await;
        assert_eq!(sync, Ok(format!("cached 7 after {:?}", AppError::Down)));
        let async_ = FallbackOutput(cached_async(7, AppError::Down))
            .into_fallback_future()
            .await;
        assert_eq!(async_, Ok("cached 7".to_owned()));
    }

    #[test]
    fn a_rejection_reaches_fallback_if_as_the_functions_error() {
        let answered = fallback_error(Failure::<AppError>::Policy(open()), only_rejections);
        assert_eq!(answered, Ok(AppError::Policy(open())));
        let answered = fallback_error(Failure::Operation(AppError::Down), |_| true);
        assert_eq!(answered, Ok(AppError::Down));
    }

    #[test]
    fn a_refused_failure_goes_up_unchanged_and_typed() {
        let refused = fallback_error(Failure::Operation(AppError::Down), only_rejections);
        assert_eq!(refused, Err(Failure::Operation(AppError::Down)));
        let refused = fallback_error(Failure::<AppError>::Policy(open()), |_| false);
        assert_eq!(refused, Err(Failure::Policy(open())));
    }
}
