//! Attribute macros of the [`resilience`](https://docs.rs/resilience) crate.
//!
//! Depend on `resilience`, which re-exports these macros with their documentation; this crate
//! only parses, validates and expands. Every mistake in an attribute is a compile error spanned
//! on the offending token.
#![forbid(unsafe_code)]
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

mod args;
mod attrs;
mod expand;
#[cfg(test)]
mod fuzz_tests;
mod item;
#[cfg(test)]
mod settings_tests;
mod stack;
mod suggest;
mod test_attr;

use proc_macro::TokenStream;
use quote::quote;

use attrs::Kind;

/// Retries the function's body on failure, with backoff. See `resilience::retry`.
#[proc_macro_attribute]
pub fn retry(args: TokenStream, item: TokenStream) -> TokenStream {
    entry(Kind::Retry, args, item)
}

/// Runs the function through a circuit breaker. See `resilience::circuit_breaker`.
#[proc_macro_attribute]
pub fn circuit_breaker(args: TokenStream, item: TokenStream) -> TokenStream {
    entry(Kind::CircuitBreaker, args, item)
}

/// Bounds each call's duration. See `resilience::timeout`.
#[proc_macro_attribute]
pub fn timeout(args: TokenStream, item: TokenStream) -> TokenStream {
    entry(Kind::Timeout, args, item)
}

/// Limits the rate of calls. See `resilience::rate_limit`.
#[proc_macro_attribute]
pub fn rate_limit(args: TokenStream, item: TokenStream) -> TokenStream {
    entry(Kind::RateLimit, args, item)
}

/// Answers for a failed call with a fallback function. See `resilience::fallback`.
#[proc_macro_attribute]
pub fn fallback(args: TokenStream, item: TokenStream) -> TokenStream {
    entry(Kind::Fallback, args, item)
}

/// Bounds the calls in flight at once. See `resilience::bulkhead`.
#[proc_macro_attribute]
pub fn bulkhead(args: TokenStream, item: TokenStream) -> TokenStream {
    entry(Kind::Bulkhead, args, item)
}

/// Starts another attempt beside a slow call; the first success wins. See `resilience::hedge`.
#[proc_macro_attribute]
pub fn hedge(args: TokenStream, item: TokenStream) -> TokenStream {
    entry(Kind::Hedge, args, item)
}

/// Injects faults and delays, once enabled at run time. See `resilience::chaos`.
#[proc_macro_attribute]
pub fn chaos(args: TokenStream, item: TokenStream) -> TokenStream {
    entry(Kind::Chaos, args, item)
}

/// Runs the function through a composite policy of the registry. See `resilience::resilient`.
#[proc_macro_attribute]
pub fn resilient(args: TokenStream, item: TokenStream) -> TokenStream {
    expand_composite_attribute(args.into(), item.into()).into()
}

/// An `async fn` test on paused time with a registry of its own. See `resilience::test`
/// (feature `test-util`).
#[proc_macro_attribute]
pub fn test(args: TokenStream, item: TokenStream) -> TokenStream {
    test_attr::expand(args.into(), item.into()).into()
}

fn entry(kind: Kind, args: TokenStream, item: TokenStream) -> TokenStream {
    expand_attribute(kind, args.into(), item.into()).into()
}

/// The whole macro as a plain function over `proc_macro2` tokens, so tests can drive it.
pub(crate) fn expand_attribute(
    kind: Kind,
    args: proc_macro2::TokenStream,
    item: proc_macro2::TokenStream,
) -> proc_macro2::TokenStream {
    // A lower attribute of a stack that the top one already expanded.
    if item::is_stacked_marker(&args) {
        return item;
    }
    let original = item.clone();
    match item::collect(kind, args, item) {
        Ok(annotated) => expand::expand(annotated),
        Err(err) => with_errors(err, original),
    }
}

/// `#[resilient]` as a plain function over `proc_macro2` tokens.
pub(crate) fn expand_composite_attribute(
    args: proc_macro2::TokenStream,
    item: proc_macro2::TokenStream,
) -> proc_macro2::TokenStream {
    // Emptied by a stack that reported it.
    if item::is_stacked_marker(&args) {
        return item;
    }
    let original = item.clone();
    match item::collect_composite(args, item) {
        Ok(composite) => expand::expand_composite(composite),
        Err(err) => with_errors(err, original),
    }
}

/// Keeps the function (without our attributes) beside the errors, so the rest of the crate
/// still type-checks against it and only the real mistakes are reported.
fn with_errors(
    (err, function): (syn::Error, Option<Box<syn::ItemFn>>),
    original: proc_macro2::TokenStream,
) -> proc_macro2::TokenStream {
    let err = err.into_compile_error();
    match function {
        Some(function) => quote!(#err #function),
        None => quote!(#err #original),
    }
}
