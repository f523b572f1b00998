//! What the attribute macros expand to. Not a public API: no stability promise.
//!
//! Generated code reaches the runtime only through this module (and the public policy types),
//! so a macro and a runtime of mismatched versions fail to compile instead of misbehaving.

use std::fmt::Display;
use std::future::Future;
use std::marker::PhantomData;
use std::sync::{OnceLock, PoisonError, RwLock};

use crate::config::Layered;
pub use crate::fallback::{
    clone_for_fallback, clone_impl_for_fallback, fallback_answer, fallback_error, AsyncFallback,
    FallbackAnswer, FallbackArg, FallbackOutput,
};
pub use crate::pipeline::PipelineRun;
pub use polls::{poll_body, poll_keyed_body};
/// The `Arc` a stack's shared site holds its policies in (see `Site`).
pub use std::sync::Arc;

mod polls;
use crate::registry::RegisteredPolicy;
use crate::{
    registry, Bulkhead, BulkheadBuilder, CallOutcome, CircuitBreaker, CircuitBreakerBuilder, Error,
    Failure, FailureRef, Fallback, FallbackBuilder, Pipeline, RateLimiter, RateLimiterBuilder,
    Retry, RetryBuilder, RetryContext, Timeout, TimeoutBuilder,
};

/// One annotated call site's policy, resolved from the registry on the site's first call.
///
/// With the `test-util` feature, a call inside `testing::isolated` resolves the site in that
/// test's registry instead, leaving the `static` to the calls outside; without the feature, the
/// call path is the `OnceLock` alone.
pub struct Site<P>(OnceLock<Arc<P>>);

impl<P: Send + Sync + 'static> Site<P> {
    #[allow(clippy::new_without_default)]
    pub const fn new() -> Self {
        Site(OnceLock::new())
    }

    /// The policy; `register` runs once per site (and, with `test-util`, once per site and
    /// isolated registry).
    ///
    /// `register` is a function pointer, not a generic closure: the expansion's non-capturing
    /// closure coerces to it, so the `OnceLock` initialization below is compiled once per policy
    /// type instead of once per call site (issue 20: what a site adds to a build).
    #[inline]
    pub fn get_or_init(&'static self, register: fn() -> Arc<P>) -> &'static P {
        #[cfg(feature = "test-util")]
        if let Some(isolated) = crate::registry::isolation::current() {
            return isolated.site(std::ptr::from_ref(self) as usize, "", register);
        }
        match self.0.get() {
            Some(policy) => policy,
            None => self.init(register),
        }
    }

    #[cold]
    #[inline(never)]
    fn init(&'static self, register: fn() -> Arc<P>) -> &'static P {
        self.0.get_or_init(register)
    }
}

/// A call site whose default name depends on the concrete `Self`: a method of a generic impl or
/// a trait's default method, whose policy belongs to the type it runs for.
///
/// The first concrete type's policy is kept beside that type's name, so a site used with one type
/// (every non-generic impl) pays a comparison of two `&'static str` pointers per call. Any other
/// type's policy is found in a short list behind a lock.
pub struct SelfSite<P: 'static> {
    first: OnceLock<(&'static str, Arc<P>)>,
    /// Policies of the types after the first. Each is leaked once: a program has finitely many
    /// (site, type) pairs, fixed when it is compiled, so this is bounded like the statics are.
    others: RwLock<Vec<(&'static str, &'static P)>>,
}

impl<P: Send + Sync + 'static> SelfSite<P> {
    #[allow(clippy::new_without_default)]
    pub const fn new() -> Self {
        SelfSite {
            first: OnceLock::new(),
            others: RwLock::new(Vec::new()),
        }
    }

    /// The policy of `self_type` (`type_name::<Self>()`); `register` runs once per type.
    /// `register` is a function pointer for the reason given on [`Site::get_or_init`].
    #[inline]
    pub fn get_or_init(
        &'static self,
        self_type: &'static str,
        register: fn() -> Arc<P>,
    ) -> &'static P {
        #[cfg(feature = "test-util")]
        if let Some(isolated) = crate::registry::isolation::current() {
            return isolated.site(std::ptr::from_ref(self) as usize, self_type, register);
        }
        let (first_type, first) = self.first.get_or_init(|| (self_type, register()));
        if same_type(first_type, self_type) {
            first
        } else {
            self.other(self_type, register)
        }
    }

    #[cold]
    #[inline(never)]
    fn other(&'static self, self_type: &'static str, register: fn() -> Arc<P>) -> &'static P {
        let found = |others: &[(&'static str, &'static P)]| {
            others
                .iter()
                .find(|(ty, _)| same_type(ty, self_type))
                .map(|(_, policy)| *policy)
        };
        if let Some(policy) = found(&self.others.read().unwrap_or_else(PoisonError::into_inner)) {
            return policy;
        }
        let mut others = self.others.write().unwrap_or_else(PoisonError::into_inner);
        if let Some(policy) = found(&others) {
            return policy;
        }
        let policy: &'static Arc<P> = Box::leak(Box::new(register()));
        others.push((self_type, policy));
        policy
    }
}

/// Whether two type names are the same type's. The compiler usually gives one type one string,
/// but may duplicate it across codegen units: then the text decides.
#[inline]
fn same_type(a: &'static str, b: &'static str) -> bool {
    std::ptr::eq(a, b) || a == b
}

/// The settings come from the macro, which checked every value at compile time against the
/// table the builders use, so a refusal here is a bug. The site must not fail the user's call
/// for it, nor run unprotected silently: it gets the kind's default settings, and
/// [`Event::SettingsRejected`](crate::Event::SettingsRejected) says why (logged at `ERROR` with
/// the `tracing` feature).
fn register<P: Layered>(builder: P::Builder) -> Arc<P> {
    let name = Arc::clone(P::builder_name(&builder));
    resolved(name, registry().register::<P>(builder))
}

/// A site that gives only a name: see [`Registry::strict_names`](crate::Registry::strict_names).
fn register_name_only<P: Layered>(builder: P::Builder) -> Arc<P> {
    let name = Arc::clone(P::builder_name(&builder));
    resolved(name, registry().register_name_only::<P>(builder))
}

/// The registered policy, or, when the builder was refused, the defaults and the report.
fn resolved<P: RegisteredPolicy>(
    name: Arc<str>,
    registered: Result<Arc<P>, crate::ConfigError>,
) -> Arc<P> {
    registered.unwrap_or_else(|error| {
        crate::events::emit(|| crate::Event::SettingsRejected {
            kind: P::KIND,
            name: Arc::clone(&name),
            error,
        });
        Arc::new(P::fallback(name))
    })
}

pub fn register_retry(builder: RetryBuilder) -> Arc<Retry> {
    register(builder)
}

pub fn register_circuit_breaker(builder: CircuitBreakerBuilder) -> Arc<CircuitBreaker> {
    register(builder)
}

pub fn register_retry_name_only(builder: RetryBuilder) -> Arc<Retry> {
    register_name_only(builder)
}

pub fn register_circuit_breaker_name_only(builder: CircuitBreakerBuilder) -> Arc<CircuitBreaker> {
    register_name_only(builder)
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

/// A `#[chaos]` site's policy: registered (disabled), or, when the builder was refused, an
/// unregistered one with the defaults and the report (it can never be enabled by name then).
pub fn register_chaos(builder: crate::ChaosBuilder) -> Arc<crate::Chaos> {
    let name = Arc::clone(builder.name());
    registry().register_chaos(builder).unwrap_or_else(|error| {
        crate::events::emit(|| crate::Event::SettingsRejected {
            kind: crate::PolicyKind::Chaos,
            name: Arc::clone(&name),
            error,
        });
        Arc::new(crate::Chaos::builder(name).build_unchecked())
    })
}

/// A `#[hedge]` site's policy. A hedge has no registry entry of its own to configure (its
/// settings are the attribute's); it is listed through its budget, stats and events.
pub fn register_hedge(builder: crate::HedgeBuilder) -> Arc<crate::Hedge> {
    let name = Arc::clone(builder.name_ref());
    registry().register_hedge(builder).unwrap_or_else(|error| {
        crate::events::emit(|| crate::Event::SettingsRejected {
            kind: crate::PolicyKind::Hedge,
            name: Arc::clone(&name),
            error,
        });
        Arc::new(crate::Hedge::builder(name).build_unchecked())
    })
}

/// A `#[resilient(policy = "NAME")]` site's composite policy: the registered one, or an empty
/// one marked missing (reported once), which a later definition fills in place: see
/// [`Registry::execute`](crate::Registry::execute).
pub fn resolve_pipeline(name: &str) -> Arc<Pipeline> {
    registry().pipeline_or_missing(name)
}

/// Default name of a method's policies: `path::to::Type::method`, with the concrete `Self`.
pub fn method_name(type_name: &str, method: &str) -> String {
    format!("{type_name}::{method}")
}

/// Default name of the policies of a function without a receiver: the path of the function the
/// site is in, from `type_name_of_val` of an item nested in it (`path::to::Type::function::__site`
/// inside an impl, `path::to::outer::inner::__site` for a nested function), without the
/// compiler's `{{closure}}` segments for async bodies and without the marker item's own name.
pub fn site_name(marker_path: &str) -> String {
    let path = marker_path
        .rsplit_once("::")
        .map_or(marker_path, |(function, _marker)| function);
    path.replace("::{{closure}}", "")
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

/// How a breaker counts the result of the layers below it (see [`CircuitBreaker::run`]), an
/// operation error judged by `ignore_if` first, then `failure_if`: the expansion passes the
/// predicates (or [`never`] and [`always`]) as they are, so that no closure of its own is
/// compiled per site.
#[inline]
pub fn breaker_verdict<T, E>(
    result: &Result<T, Failure<E>>,
    ignore_if: impl Fn(&E) -> bool,
    failure_if: impl Fn(&E) -> bool,
) -> CallOutcome {
    crate::circuit_breaker::layer_outcome(result, |error| classify(error, &ignore_if, &failure_if))
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

/// `clone(value)`: the argument's copy for the body, with the clone function named apart.
#[inline]
pub fn cloned<T>(value: &T, clone: fn(&T) -> T) -> T {
    clone(value)
}

#[inline]
pub fn clone_for_retry<T: RetryArg>(value: &T) -> T {
    value.clone_for_retry()
}

/// An owned `impl Trait` argument of a retried function: the fix is a bound, not a borrow.
#[diagnostic::on_unimplemented(
    message = "`#[retry]` re-runs the body, so the owned argument of type `{Self}` must be `Clone`",
    label = "this argument is moved into each attempt",
    note = "add `Clone` to its bounds (`{Self} + Clone`), or take it by reference"
)]
pub trait RetryImplArg: Sized {
    fn clone_for_retry(&self) -> Self;
}

impl<T: Clone> RetryImplArg for T {
    #[inline]
    fn clone_for_retry(&self) -> Self {
        self.clone()
    }
}

#[inline]
pub fn clone_impl_for_retry<T: RetryImplArg>(value: &T) -> T {
    value.clone_for_retry()
}

/// `#[chaos(error = path)]`: the function's own error, built by `path`, typed by the declared
/// return type `R` so that a function of another type is an error at the path.
#[inline]
pub fn injected_error<R: IsResult>(error: fn() -> R::Err) -> R::Err {
    error()
}

/// An owned argument of a hedged function, cloned for each attempt.
#[diagnostic::on_unimplemented(
    message = "`#[hedge]` runs attempts at once, so the owned argument of type `{Self}` must be `Clone`",
    label = "each attempt gets its own clone of this argument",
    note = "implement or derive `Clone` for it, or take it by reference"
)]
pub trait HedgeArg: Sized {
    fn clone_for_hedge(&self) -> Self;
}

impl<T: Clone> HedgeArg for T {
    #[inline]
    fn clone_for_hedge(&self) -> Self {
        self.clone()
    }
}

#[inline]
pub fn clone_for_hedge<T: HedgeArg>(value: &T) -> T {
    value.clone_for_hedge()
}

/// An owned `impl Trait` argument of a hedged function: the fix is a bound.
#[diagnostic::on_unimplemented(
    message = "`#[hedge]` runs attempts at once, so the owned argument of type `{Self}` must be `Clone`",
    label = "each attempt gets its own clone of this argument",
    note = "add `Clone` to its bounds (`{Self} + Clone`), or take it by reference"
)]
pub trait HedgeImplArg: Sized {
    fn clone_for_hedge(&self) -> Self;
}

impl<T: Clone> HedgeImplArg for T {
    #[inline]
    fn clone_for_hedge(&self) -> Self {
        self.clone()
    }
}

#[inline]
pub fn clone_impl_for_hedge<T: HedgeImplArg>(value: &T) -> T {
    value.clone_for_hedge()
}

/// An owned argument of a `#[resilient]` function, cloned for each attempt of its composite.
#[diagnostic::on_unimplemented(
    message = "`#[resilient]` re-runs the body when its composite policy retries, so the owned argument of type `{Self}` must be `Clone`",
    label = "this argument is moved into each attempt",
    note = "take the argument by reference (`&{Self}`), or make its type `Clone`"
)]
pub trait ResilientArg: Sized {
    fn clone_for_resilient(&self) -> Self;
}

impl<T: Clone> ResilientArg for T {
    #[inline]
    fn clone_for_resilient(&self) -> Self {
        self.clone()
    }
}

#[inline]
pub fn clone_for_resilient<T: ResilientArg>(value: &T) -> T {
    value.clone_for_resilient()
}

/// An owned `impl Trait` argument of a `#[resilient]` function: the fix is a bound.
#[diagnostic::on_unimplemented(
    message = "`#[resilient]` re-runs the body when its composite policy retries, so the owned argument of type `{Self}` must be `Clone`",
    label = "this argument is moved into each attempt",
    note = "add `Clone` to its bounds (`{Self} + Clone`), or take it by reference"
)]
pub trait ResilientImplArg: Sized {
    fn clone_for_resilient(&self) -> Self;
}

impl<T: Clone> ResilientImplArg for T {
    #[inline]
    fn clone_for_resilient(&self) -> Self {
        self.clone()
    }
}

#[inline]
pub fn clone_impl_for_resilient<T: ResilientImplArg>(value: &T) -> T {
    value.clone_for_resilient()
}

/// An owned argument of a retried function, held across its attempts: each attempt but the last
/// gets a clone, and the last (the only one, with `max_attempts = 1`) gets the original itself.
pub struct Reusable<T>(Option<T>);

impl<T> Reusable<T> {
    #[inline(always)]
    pub fn new(value: T) -> Self {
        Reusable(Some(value))
    }

    /// The argument for the attempt about to run, cloned with `clone`: the expansion passes
    /// [`clone_for_retry`] named at the argument's span, so that a non-`Clone` argument gets
    /// that function's error (and no suggestion to borrow it).
    ///
    /// `RetryRun` never starts an attempt after the last, so the original is moved out at most
    /// once and never asked for again.
    #[inline(always)]
    pub fn for_attempt(&mut self, last: bool, clone: impl FnOnce(&T) -> T) -> T {
        if !last {
            if let Some(value) = &self.0 {
                return clone(value);
            }
        }
        match self.0.take() {
            Some(value) => value,
            None => unreachable!("resilience: an attempt ran after the last one"),
        }
    }
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

/// The key of a keyed site, checked to be a [`PolicyKey`](crate::PolicyKey): the expansion
/// calls it on the `key = ..` expression, so that a missing bound is reported there.
#[inline(always)]
pub fn policy_key<K: crate::PolicyKey>(key: &K) -> &K {
    key
}

/// [`KeyedCallPermit::record`](crate::KeyedCallPermit::record) for the expansion; see
/// [`poll_keyed_body`].
#[inline(always)]
pub fn record_keyed<K: crate::PolicyKey>(
    permit: crate::KeyedCallPermit<'_, K>,
    outcome: CallOutcome,
) {
    permit.record(outcome);
}

/// [`Bulkhead::acquire_key`](crate::Bulkhead::acquire_key) for the expansion; see
/// [`poll_keyed_body`]. The permit borrows the bulkhead, not the key: the key may be a
/// temporary of the expansion's block.
#[inline(always)]
pub fn acquire_bulkhead_key<'b: 'k, 'k, K: crate::PolicyKey>(
    bulkhead: &'b Bulkhead,
    key: &'k K,
) -> impl Future<Output = Result<crate::KeyedBulkheadPermit<'b, K>, Error>> + 'k {
    bulkhead.acquire_key(key)
}

/// [`RateLimiter::try_acquire_key`](crate::RateLimiter::try_acquire_key) for the expansion,
/// called with the key expression's span, so that a key type's missing bound is reported there.
#[inline(always)]
pub fn try_acquire_key<K: crate::PolicyKey>(
    limiter: &crate::RateLimiter,
    key: &K,
) -> Result<(), crate::Error> {
    limiter.try_acquire_key(key)
}

/// [`RateLimiter::acquire_key`](crate::RateLimiter::acquire_key) for the expansion; see
/// [`try_acquire_key`].
#[inline(always)]
pub fn acquire_key<'a, K: crate::PolicyKey>(
    limiter: &'a crate::RateLimiter,
    key: &'a K,
) -> impl core::future::Future<Output = Result<(), crate::Error>> + 'a {
    limiter.acquire_key(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn refused_site_settings_are_reported_and_fall_back_to_the_defaults() {
        let mut events = registry().subscribe();
        let retry = register_retry(Retry::builder("private-refused").max_attempts(0));
        assert_eq!(
            retry.config().max_attempts,
            Retry::builder("defaults")
                .build()
                .map(|r| r.config().max_attempts)
                .unwrap()
        );
        // The crate's other tests, running beside this one, send events of their own: enough
        // of them can overrun the channel, which then reports how many this receiver missed
        // (`Lagged`) before the ones it kept.
        let event = loop {
            match events.try_recv() {
                Ok(event) if event.name() == Some("private-refused") => break event,
                Ok(_) | Err(tokio::sync::broadcast::error::TryRecvError::Lagged(_)) => {}
                Err(other) => panic!("the refusal was not reported: {other}"),
            }
        };
        assert!(
            matches!(
                &event,
                crate::Event::SettingsRejected {
                    kind: crate::PolicyKind::Retry,
                    ..
                }
            ),
            "{event:?}"
        );
        assert!(event.to_string().contains("runs with the default settings"));
    }
}
