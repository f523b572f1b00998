//! What the attribute macros expand to. Not a public API: no stability promise.
//!
//! Generated code reaches the runtime only through this module (and the public policy types),
//! so a macro and a runtime of mismatched versions fail to compile instead of misbehaving.

use std::fmt::Display;
use std::future::Future;
use std::marker::PhantomData;
use std::sync::{Arc, OnceLock};

pub use crate::fallback::{
    clone_for_fallback, fallback_error, AsyncFallback, FallbackArg, FallbackOutput,
};
use crate::registry::RegisteredPolicy;
use crate::{
    registry, Bulkhead, BulkheadBuilder, CallOutcome, CircuitBreaker, CircuitBreakerBuilder, Error,
    Failure, FailureRef, Fallback, FallbackBuilder, RateLimiter, RateLimiterBuilder, Retry,
    RetryBuilder, RetryContext, Timeout, TimeoutBuilder,
};

/// One annotated call site's policy, resolved from the registry on the site's first call.
pub struct Site<P>(OnceLock<Arc<P>>);

impl<P> Site<P> {
    #[allow(clippy::new_without_default)]
    pub const fn new() -> Self {
        Site(OnceLock::new())
    }

    /// The policy; `register` runs once per site, on its first call.
    #[inline]
    pub fn get_or_init(&'static self, register: impl FnOnce() -> Arc<P>) -> &'static P {
        self.0.get_or_init(register)
    }
}

/// The settings come from the macro, which validated every value at compile time; a rejection
/// here would be a bug in the macro, so the site gets a policy that never rejects rather than
/// fail the user's call.
fn register<P: RegisteredPolicy>(builder: P::Builder) -> Arc<P> {
    let name = Arc::clone(P::builder_name(&builder));
    registry()
        .register::<P>(builder)
        .unwrap_or_else(|_| Arc::new(P::fallback(name)))
}

pub fn register_retry(builder: RetryBuilder) -> Arc<Retry> {
    register(builder)
}

pub fn register_circuit_breaker(builder: CircuitBreakerBuilder) -> Arc<CircuitBreaker> {
    register(builder)
}

pub fn register_timeout(builder: TimeoutBuilder) -> Arc<Timeout> {
    register(builder)
}

pub fn register_bulkhead(builder: BulkheadBuilder) -> Arc<Bulkhead> {
    register(builder)
}

pub fn register_rate_limiter(builder: RateLimiterBuilder) -> Arc<RateLimiter> {
    register(builder)
}

pub fn register_fallback(builder: FallbackBuilder) -> Arc<Fallback> {
    register(builder)
}

/// Default name of a method's policies: `path::to::Type::method`.
pub fn method_name(type_name: &str, method: &str) -> String {
    format!("{type_name}::{method}")
}

/// The return type of an annotated function.
#[diagnostic::on_unimplemented(
    message = "a resilience attribute needs the function to return `Result<T, E>`, not `{Self}`",
    label = "this must be `Result<T, E>` (or an alias of it)"
)]
pub trait IsResult {
    type Ok;
    type Err;
    fn into_result(self) -> Result<Self::Ok, Self::Err>;
}

impl<T, E> IsResult for Result<T, E> {
    type Ok = T;
    type Err = E;
    #[inline]
    fn into_result(self) -> Result<T, E> {
        self
    }
}

/// Pins the body's output to the declared return type, so `?` and `return` in the body infer
/// exactly as in the original function.
#[inline]
pub fn anchor<R: IsResult, F: Future<Output = R>>(body: F) -> F {
    body
}

/// The body's result as the innermost layer of a stack that can reject: its error becomes
/// [`Failure::Operation`].
#[inline]
pub fn operation_result<R: IsResult>(result: R) -> Result<R::Ok, Failure<R::Err>> {
    result.into_result().map_err(Failure::Operation)
}

/// How a breaker counts the result of the layers below it: see [`CircuitBreaker::run`].
#[inline]
pub fn breaker_outcome<T, E>(
    result: &Result<T, Failure<E>>,
    classify: impl Fn(&E) -> CallOutcome,
) -> CallOutcome {
    crate::circuit_breaker::layer_outcome(result, classify)
}

/// The declared return type of a function whose stack can reject calls: a `Result` whose error
/// type can carry a rejection.
#[diagnostic::on_unimplemented(
    message = "a resilience policy can reject the call, so `{Self}` must be `Result<T, E>` with `E: From<resilience::Error>`",
    label = "the error type of this `Result` must implement `From<resilience::Error>`",
    note = "implement `From<resilience::Error>` for the error type, or return `anyhow::Result<T>`, `std::io::Result<T>` or `Result<T, Box<dyn std::error::Error + Send + Sync>>`"
)]
pub trait FromRejection: IsResult {
    fn from_failure(result: Result<Self::Ok, Failure<Self::Err>>) -> Self;
}

impl<T, E: From<Error>> FromRejection for Result<T, E> {
    #[inline]
    fn from_failure(result: Result<T, Failure<E>>) -> Self {
        result.map_err(Failure::into_error)
    }
}

/// The outermost layer's conversion of a rejection into the function's error type. Called with
/// the declared return type as `R`, so an unsatisfied bound points at that type.
#[inline]
pub fn finish<R: FromRejection>(result: Result<R::Ok, Failure<R::Err>>) -> R {
    R::from_failure(result)
}

/// An owned argument of a retried function, cloned for each attempt.
#[diagnostic::on_unimplemented(
    message = "`#[retry]` re-runs the body, so the owned argument of type `{Self}` must be `Clone`",
    label = "this argument is moved into each attempt",
    note = "take the argument by reference (`&{Self}`), or make its type `Clone`"
)]
pub trait RetryArg: Sized {
    fn clone_for_retry(&self) -> Self;
}

impl<T: Clone> RetryArg for T {
    #[inline]
    fn clone_for_retry(&self) -> Self {
        self.clone()
    }
}

#[inline]
pub fn clone_for_retry<T: RetryArg>(value: &T) -> T {
    value.clone_for_retry()
}

/// How a retry sees an error of a stack with no rejecting policy: always the operation's.
#[inline]
pub fn view_operation<E>(error: &E) -> FailureRef<'_, E> {
    FailureRef::Operation(error)
}

#[inline]
pub fn always<E>(_: &E) -> bool {
    true
}

#[inline]
pub fn never<E>(_: &E) -> bool {
    false
}

#[inline]
pub fn ignore_retry<E>(_: &RetryContext<'_, E>) {}

/// A breaker's verdict on an operation error: `ignore_if` first, then `failure_if`.
#[inline]
pub fn classify<E>(
    error: &E,
    ignore_if: impl Fn(&E) -> bool,
    failure_if: impl Fn(&E) -> bool,
) -> CallOutcome {
    if ignore_if(error) {
        CallOutcome::Ignored
    } else if failure_if(error) {
        CallOutcome::Failure
    } else {
        CallOutcome::Success
    }
}

/// Picks how `#[retry]` describes an operation error in events: `Display` when `E` has it, its
/// type name otherwise (autoref specialization: the by-value impl wins when it applies).
pub struct DescribeError<E>(PhantomData<fn(&E)>);

impl<E> DescribeError<E> {
    #[allow(clippy::new_without_default)]
    pub const fn new() -> Self {
        DescribeError(PhantomData)
    }
}

pub trait DescribeByDisplay<E> {
    fn describer(&self) -> fn(&E) -> String;
}

impl<E: Display> DescribeByDisplay<E> for DescribeError<E> {
    #[inline]
    fn describer(&self) -> fn(&E) -> String {
        describe_by_display::<E>
    }
}

pub trait DescribeByTypeName<E> {
    fn describer(&self) -> fn(&E) -> String;
}

impl<E> DescribeByTypeName<E> for &DescribeError<E> {
    #[inline]
    fn describer(&self) -> fn(&E) -> String {
        describe_by_type_name::<E>
    }
}

pub fn describe_by_display<E: Display>(error: &E) -> String {
    error.to_string()
}

pub fn describe_by_type_name<E>(_: &E) -> String {
    std::any::type_name::<E>().to_owned()
}
