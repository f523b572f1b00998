//! The fallback policy: what answered for failed calls, counted in the registry.

mod answer;

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

pub use answer::{
    clone_for_fallback, clone_impl_for_fallback, fallback_answer, fallback_error, AsyncFallback,
    FallbackAnswer, FallbackArg, FallbackOutput,
};

use crate::ConfigError;

/// The registry's record of a `#[fallback(path)]` site: how many failures reached it, how many
/// the fallback answered, how many it let through (`fallback_if` refused them).
///
/// The fallback function itself belongs to the call site; sites naming one `Fallback` share its
/// counters. Counting happens only on failures: a successful call does not touch it. Without
/// the macro, [`call`](Self::call) and [`call_if`](Self::call_if) run an operation with a
/// fallback and count alike.
///
/// ```
/// use resilience::{fallback, registry};
///
/// fn cached(_id: u32, _error: std::io::Error) -> std::io::Result<&'static str> {
///     Ok("cached")
/// }
///
/// #[fallback(cached, name = "doc-fallback-stats")]
/// async fn load(id: u32) -> std::io::Result<&'static str> {
///     Err(std::io::Error::other(format!("no {id}")))
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// assert_eq!(load(1).await.unwrap(), "cached");
/// let stats = registry().fallback("doc-fallback-stats").unwrap().stats();
/// assert_eq!((stats.answered, stats.passed), (1, 0));
/// # }
/// ```
pub struct Fallback {
    name: Arc<str>,
    config: FallbackConfig,
    answered: AtomicU64,
    passed: AtomicU64,
}

/// A fallback's configuration: it has no settings of its own (the function and `fallback_if`
/// belong to the call site); the type exists so every policy reads alike in the registry.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct FallbackConfig {}

impl fmt::Display for FallbackConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("-")
    }
}

/// A fallback's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct FallbackStats {
    /// Failures the fallback answered for.
    pub answered: u64,
    /// Failures `fallback_if` let through unchanged.
    pub passed: u64,
}

/// Builds a [`Fallback`]; it has nothing to set but its name.
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct FallbackBuilder {
    name: Arc<str>,
}

impl FallbackBuilder {
    /// The name the fallback is registered under.
    pub fn name(&self) -> &Arc<str> {
        &self.name
    }

    /// Explicit settings that differ from `existing`'s: never any, a fallback has none.
    pub fn conflicts_with(&self, _existing: &Fallback) -> Vec<&'static str> {
        Vec::new()
    }

    /// Builds the fallback.
    ///
    /// # Errors
    ///
    /// [`ConfigError::OutOfRange`] with key `"name"` for a blank name, as `#[fallback]` refuses it.
    pub fn build(self) -> Result<Fallback, ConfigError> {
        ConfigError::check_name(&self.name)?;
        Ok(Fallback::with_defaults(self.name))
    }
}

impl Fallback {
    /// A builder for the fallback named `name`.
    pub fn builder(name: impl Into<Arc<str>>) -> FallbackBuilder {
        FallbackBuilder { name: name.into() }
    }

    pub(crate) fn with_defaults(name: Arc<str>) -> Self {
        Fallback {
            name,
            config: FallbackConfig {},
            answered: AtomicU64::new(0),
            passed: AtomicU64::new(0),
        }
    }

    /// The registry name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The configuration (empty: see [`FallbackConfig`]).
    pub fn config(&self) -> FallbackConfig {
        self.config
    }

    /// A fallback has no settings to change: its function is the call site's.
    pub(crate) fn reconfigure(&self, _config: FallbackConfig) -> Vec<&'static str> {
        Vec::new()
    }

    /// The counters.
    pub fn stats(&self) -> FallbackStats {
        FallbackStats {
            answered: self.answered.load(Ordering::Relaxed),
            passed: self.passed.load(Ordering::Relaxed),
        }
    }

    /// Sets every counter back to zero.
    pub fn reset_stats(&self) {
        self.answered.store(0, Ordering::Relaxed);
        self.passed.store(0, Ordering::Relaxed);
    }

    /// Runs `operation`; when it fails, calls `fallback` with the error and returns what it
    /// returns: the macro-free form of `#[fallback(path)]`. Every failure is answered and counted
    /// as [`answered`](FallbackStats::answered); a success is returned as it is and not counted.
    ///
    /// `fallback` returns a future, so that it may call another service or read a cache; a
    /// fallback that has its answer at hand returns `std::future::ready(..)` or an `async`
    /// block. Rejections of policies inside `operation` (an open circuit, a timeout) reach the
    /// fallback as the `E` their `call` converted them to.
    ///
    /// ```
    /// use resilience::{CircuitBreaker, Error, Fallback};
    ///
    /// #[derive(Debug, PartialEq)]
    /// enum PriceError {
    ///     Down,
    ///     Rejected(Error),
    /// }
    ///
    /// impl From<Error> for PriceError {
    ///     fn from(rejection: Error) -> Self {
    ///         PriceError::Rejected(rejection)
    ///     }
    /// }
    ///
    /// async fn live_price(sku: &str) -> Result<u32, PriceError> {
    ///     let _ = sku;
    ///     Err(PriceError::Down)
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let breaker = CircuitBreaker::builder("doc-fallback-call").failure_threshold(1).build().unwrap();
    /// let fallback = Fallback::builder("doc-fallback-call").build().unwrap();
    ///
    /// for _ in 0..2 {
    ///     // First the call fails, then the open circuit rejects it: both times the cached price.
    ///     let price = fallback
    ///         .call(breaker.call(live_price("apple")), |_error| async { Ok(42) })
    ///         .await;
    ///     assert_eq!(price, Ok(42));
    /// }
    /// assert_eq!(fallback.stats().answered, 2);
    /// # }
    /// ```
    pub async fn call<T, E, Fut, Fb, FbFut>(&self, operation: Fut, fallback: Fb) -> Result<T, E>
    where
        Fut: Future<Output = Result<T, E>>,
        Fb: FnOnce(E) -> FbFut,
        FbFut: Future<Output = Result<T, E>>,
    {
        self.call_if(operation, |_| true, fallback).await
    }

    /// Like [`call`](Self::call), but only the errors for which `fallback_if` returns `true`
    /// are answered (counted as [`answered`](FallbackStats::answered)); any other error is
    /// returned unchanged (counted as [`passed`](FallbackStats::passed)), as
    /// `#[fallback(path, fallback_if = ..)]` does.
    ///
    /// ```
    /// use resilience::Fallback;
    /// use std::io::{Error, ErrorKind};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let fallback = Fallback::builder("doc-fallback-call-if").build().unwrap();
    /// let only_missing = |error: &Error| error.kind() == ErrorKind::NotFound;
    /// let defaults = |_error| std::future::ready(Ok("defaults".to_owned()));
    ///
    /// let missing = async { Err(Error::from(ErrorKind::NotFound)) };
    /// assert_eq!(fallback.call_if(missing, only_missing, defaults).await.unwrap(), "defaults");
    ///
    /// let denied = async { Err(Error::from(ErrorKind::PermissionDenied)) };
    /// let passed = fallback.call_if(denied, only_missing, defaults).await;
    /// assert_eq!(passed.unwrap_err().kind(), ErrorKind::PermissionDenied);
    ///
    /// let stats = fallback.stats();
    /// assert_eq!((stats.answered, stats.passed), (1, 1));
    /// # }
    /// ```
    pub async fn call_if<T, E, Fut, P, Fb, FbFut>(
        &self,
        operation: Fut,
        fallback_if: P,
        fallback: Fb,
    ) -> Result<T, E>
    where
        Fut: Future<Output = Result<T, E>>,
        P: FnOnce(&E) -> bool,
        Fb: FnOnce(E) -> FbFut,
        FbFut: Future<Output = Result<T, E>>,
    {
        match operation.await {
            Ok(value) => Ok(value),
            Err(error) if fallback_if(&error) => {
                self.count_answered();
                fallback(error).await
            }
            Err(error) => {
                self.count_passed();
                Err(error)
            }
        }
    }

    /// Counts a failure the fallback answers for (the macros' expansion calls it).
    #[doc(hidden)]
    #[inline]
    pub fn count_answered(&self) {
        self.answered.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a failure `fallback_if` lets through (the macros' expansion calls it).
    #[doc(hidden)]
    #[inline]
    pub fn count_passed(&self) {
        self.passed.fetch_add(1, Ordering::Relaxed);
    }
}

impl fmt::Debug for Fallback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fallback")
            .field("name", &self.name)
            .field("stats", &self.stats())
            .finish()
    }
}
