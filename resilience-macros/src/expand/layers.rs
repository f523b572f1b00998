//! Each layer's expression around the layers below it.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::Type;

use super::arguments::{self, PassedOn};
use crate::attrs::{
    BreakerArgs, BulkheadArgs, FallbackArgs, FallbackFn, PolicyAttr, RetryArgs, Settings,
};
use crate::item::ArgBinding;
use syn::spanned::Spanned;

/// What a layer needs to know of the function and of the stack.
pub(super) struct Below<'a> {
    /// The runtime crate's path.
    pub(super) krate: &'a TokenStream,
    /// Whether a layer can reject calls: errors inside the stack are then `Failure<E>`.
    pub(super) rejects: bool,
    /// The arguments each run of the body gets afresh.
    pub(super) bindings: &'a [ArgBinding],
    /// The function's arguments as a call passes them on (`self` first for a method).
    pub(super) arguments: &'a [PassedOn],
    pub(super) return_type: &'a Type,
    /// The return type with `impl Trait` erased, for type annotations.
    pub(super) anchor: &'a Type,
    /// Errors for the `&mut` arguments a `#[hedge]` cannot share among its attempts.
    pub(super) exclusive: &'a [TokenStream],
}

/// The expression of one layer around `inner`, the expression of the layers below; both
/// evaluate, in the function's async body, to the layer's result.
pub(super) fn wrap(
    layer: &PolicyAttr,
    policy: &syn::Ident,
    inner: TokenStream,
    below: &Below<'_>,
) -> TokenStream {
    let Below {
        krate,
        rejects,
        bindings,
        return_type,
        ..
    } = *below;
    let permit = format_ident!("__resilience_permit", span = Span::mixed_site());
    let outcome = format_ident!("__resilience_outcome", span = Span::mixed_site());
    let rejection = format_ident!("__resilience_rejection", span = Span::mixed_site());
    // Counts the call as running, for a shutdown to wait for, until the end of its block.
    let running = format_ident!("__resilience_running", span = Span::mixed_site());
    match &layer.settings {
        Settings::Retry(args) => {
            retry_loop(krate, args, policy, inner, rejects, bindings, return_type)
        }
        Settings::CircuitBreaker(args) => {
            let breaker_permit = breaker_permit(args);
            let failure_if = args
                .failure_if
                .as_ref()
                .map_or_else(|| quote!(#krate::__private::always), |p| quote!(#p));
            let ignore_if = args
                .ignore_if
                .as_ref()
                .map_or_else(|| quote!(#krate::__private::never), |p| quote!(#p));
            let acquire = match &args.key {
                None => quote!(#policy.try_acquire()),
                Some(written) => {
                    let (key, checked) = checked_key(krate, written);
                    // Borrowed only until the key's circuit has admitted the call (the permit
                    // holds the circuit, not the key): the body may take the arguments it came
                    // from.
                    quote!({
                        let #key = &(#written);
                        let #key = #checked;
                        #policy.try_acquire_key(#key)
                    })
                }
            };
            let verdict =
                quote!(#krate::__private::breaker_verdict(&#outcome, #ignore_if, #failure_if));
            // A keyed permit is recorded at the key's span, like its polls (see
            // `keyed_breaker_call`).
            let record = keyed_breaker_call(
                krate,
                args,
                "record_keyed",
                quote_spanned!(breaker_permit.span()=> #breaker_permit, #verdict),
            )
            .unwrap_or_else(|| quote!(#breaker_permit.record(#verdict)));
            quote! {
                match #acquire {
                    ::core::result::Result::Err(#rejection) => {
                        ::core::result::Result::Err(#krate::Failure::Policy(#rejection))
                    }
                    ::core::result::Result::Ok(mut #breaker_permit) => {
                        // The body below is polled through the permit (see `expand`), which so
                        // knows a panic of the body's own poll (a failure) from a drop while
                        // another future panics (neutral).
                        let #outcome = #inner;
                        #record;
                        #outcome
                    }
                }
            }
        }
        Settings::Timeout(_) => {
            let call = format_ident!("__resilience_call", span = Span::mixed_site());
            let deadline = format_ident!("__resilience_deadline", span = Span::mixed_site());
            let after = format_ident!("__resilience_after", span = Span::mixed_site());
            // `Timeout::call`'s steps: the duration is the one in force when the call starts;
            // the call and its deadline are dropped at the end of the inner block, before an
            // expiry is reported.
            quote! {
                if let ::core::result::Result::Err(#rejection) = #policy.admit() {
                    ::core::result::Result::Err(#krate::Failure::Policy(#rejection))
                } else {
                    let #after = #policy.duration();
                    match {
                        let #running = #policy.count_call();
                        let mut #call = ::core::pin::pin!(async { #inner });
                        let mut #deadline = ::core::pin::pin!(::core::option::Option::None);
                        #policy
                            .before_deadline(#call.as_mut(), #deadline.as_mut(), #after)
                            .await
                    } {
                        ::core::option::Option::Some(#outcome) => #outcome,
                        ::core::option::Option::None => ::core::result::Result::Err(
                            #krate::Failure::Policy(#policy.expired(#after)),
                        ),
                    }
                }
            }
        }
        Settings::Fallback(args) => fallback(args, policy, inner, below),
        Settings::Hedge(_) => {
            let attempt = format_ident!("__resilience_attempt", span = Span::mixed_site());
            let clones = arguments::hedge_clones(krate, bindings);
            let refused = below.exclusive;
            // Each attempt owns its copies of the owned arguments and runs the layers below.
            quote! {
                {
                    #(#refused)*
                    let #attempt = || {
                        #(#clones)*
                        async move { #inner }
                    };
                    #policy.call(#attempt).await
                }
            }
        }
        Settings::Chaos(args) => {
            // Disabled, one relaxed load; enabled, a draw and perhaps a sleep.
            let fault = match &args.error {
                Some(path) => {
                    let anchor = below.anchor;
                    let built = quote_spanned!(path.span()=> #krate::__private::injected_error::<#anchor>(#path));
                    if rejects {
                        quote!(#krate::Failure::Operation(#built))
                    } else {
                        built
                    }
                }
                None => quote!(#krate::Failure::Policy(#policy.injected())),
            };
            quote! {
                if if #policy.is_enabled() { #policy.inject().await } else { false } {
                    ::core::result::Result::Err(#fault)
                } else {
                    #inner
                }
            }
        }
        Settings::RateLimit(args) if args.key.is_some() => {
            let written = args.key.as_ref();
            // The key's bounds are checked on the expression: every error about them points
            // there, the runtime's path and the key's binding included. (The binding is in
            // scope only inside the block that decides, never in the body's.)
            let span = written.map_or_else(Span::call_site, |expr| expr.span());
            let key = format_ident!("__resilience_key", span = span);
            let spanned_krate = arguments::respan(krate, span);
            let checked = quote_spanned!(span=> #spanned_krate::__private::policy_key(#key));
            let waited =
                quote_spanned!(span=> #spanned_krate::__private::acquire_key(#policy, #key).await);
            let at_once =
                quote_spanned!(span=> #spanned_krate::__private::try_acquire_key(#policy, #key));
            quote! {
                // The key is borrowed, never moved, and only until the limiter has decided: the
                // body below may still take the arguments it was computed from.
                match {
                    let #key = &(#written);
                    let #key = #checked;
                    if #policy.has_wait() {
                        #waited
                    } else {
                        #at_once
                    }
                } {
                    ::core::result::Result::Err(#rejection) => {
                        ::core::result::Result::Err(#krate::Failure::Policy(#rejection))
                    }
                    ::core::result::Result::Ok(()) => {
                        let #running = #policy.enter();
                        #inner
                    }
                }
            }
        }
        Settings::RateLimit(_) => quote! {
            // Without a wait the limiter decides at once; a wait makes it a real await.
            match if #policy.has_wait() {
                #policy.acquire().await
            } else {
                #policy.try_acquire()
            } {
                ::core::result::Result::Err(#rejection) => {
                    ::core::result::Result::Err(#krate::Failure::Policy(#rejection))
                }
                ::core::result::Result::Ok(()) => {
                    let #running = #policy.enter();
                    #inner
                }
            }
        },
        Settings::Bulkhead(BulkheadArgs {
            key: Some(written), ..
        }) => {
            let (key, checked) = checked_key(krate, written);
            // At the key's span, like the check: a key type without the bounds is one error.
            let span = written.span();
            let spanned_krate = arguments::respan(krate, span);
            let acquire = quote_spanned!(span=> #spanned_krate::__private::acquire_bulkhead_key(#policy, #key).await);
            // The permit's type names the key's: its uses are shown at the key too.
            // The permit's type names the key's: it is named, bound and dropped at the key too,
            // so that a key type without the bounds is the one error already reported there.
            let permit = format_ident!("__resilience_permit", span = span);
            let admitted = quote_spanned!(span=> ::core::result::Result::Ok(#permit));
            let release = quote_spanned!(span=> ::core::mem::drop(#permit));
            quote! {
                // The permit holds the key's slots, not the key: the body may take the
                // arguments the key was computed from.
                match {
                    let #key = &(#written);
                    let #key = #checked;
                    #acquire
                } {
                    ::core::result::Result::Err(#rejection) => {
                        ::core::result::Result::Err(#krate::Failure::Policy(#rejection))
                    }
                    #admitted => {
                        let #outcome = #inner;
                        #release;
                        #outcome
                    }
                }
            }
        }
        Settings::Bulkhead(_) => quote! {
            // Without a queue the bulkhead decides at once; a queue makes the wait a real await.
            match if #policy.has_queue() {
                #policy.acquire().await
            } else {
                #policy.try_acquire()
            } {
                ::core::result::Result::Err(#rejection) => {
                    ::core::result::Result::Err(#krate::Failure::Policy(#rejection))
                }
                ::core::result::Result::Ok(#permit) => {
                    let #outcome = #inner;
                    ::core::mem::drop(#permit);
                    #outcome
                }
            }
        },
    }
}

/// The binding of a keyed layer's key and the check of its bounds, both at the span of the
/// written `key = ..` expression, like the rate limiter's: an error about the key points at it,
/// and (the checked key's type being an error type then) nothing after it reports again.
fn checked_key(krate: &TokenStream, written: &syn::Expr) -> (syn::Ident, TokenStream) {
    let span = written.span();
    let key = format_ident!("__resilience_key", span = span);
    let spanned_krate = arguments::respan(krate, span);
    let checked = quote_spanned!(span=> #spanned_krate::__private::policy_key(#key));
    (key, checked)
}

/// `__private::<function>(<arguments>)` at the span of a keyed breaker's `key = ..` expression,
/// or `None` for an unkeyed breaker. Every use of a keyed permit goes through such a call, with
/// the permit (named at that span, see [`breaker_permit`]) as its argument: a key type without
/// the bounds is then the one error already reported at the key (the compiler reports a
/// predicate once per span), rather than one more per method of the permit at the attribute.
pub(super) fn keyed_breaker_call(
    krate: &TokenStream,
    args: &BreakerArgs,
    function: &str,
    arguments: TokenStream,
) -> Option<TokenStream> {
    let span = args.key.as_ref()?.span();
    let krate = arguments::respan(krate, span);
    let function = syn::Ident::new(function, span);
    Some(quote_spanned!(span=> #krate::__private::#function(#arguments)))
}

/// The breaker's permit, which polls the body (see `expand`): named apart from the bulkhead's.
/// A keyed breaker's is named at its key expression (see [`keyed_breaker_call`]).
pub(super) fn breaker_permit(args: &BreakerArgs) -> syn::Ident {
    let span = args
        .key
        .as_ref()
        .map_or_else(Span::mixed_site, |written| written.span());
    format_ident!("__resilience_breaker_permit", span = span)
}

/// `#[fallback]`: the layers below run with clones of the owned arguments; on a failure the
/// fallback answers with the originals and the error.
fn fallback(
    args: &FallbackArgs,
    policy: &syn::Ident,
    inner: TokenStream,
    below: &Below<'_>,
) -> TokenStream {
    let value = format_ident!("__resilience_value", span = Span::mixed_site());
    let failure = format_ident!("__resilience_failure", span = Span::mixed_site());
    let error = format_ident!("__resilience_error", span = Span::mixed_site());
    let krate = below.krate;
    let anchor = below.anchor;
    let clones = arguments::fallback_clones(krate, below.bindings);
    let span = args.function.span();
    let call = format_ident!("__resilience_call", span = Span::mixed_site());
    let calls = match &args.function {
        FallbackFn::Path(function) => arguments::calls_under_cfg(
            below.arguments,
            &call,
            span,
            |passed| quote_spanned!(span=> #krate::__private::FallbackOutput(#function(#(#passed,)* #error))),
        ),
        // `self.method(..)`: the receiver is `self`, not the first argument.
        FallbackFn::Method { receiver, method } => {
            let rest = below.arguments.get(1..).unwrap_or_default();
            arguments::calls_under_cfg(
                rest,
                &call,
                span,
                |passed| quote_spanned!(span=> #krate::__private::FallbackOutput(#receiver.#method(#(#passed,)* #error))),
            )
        }
    };
    let fallback_if = args
        .fallback_if
        .as_ref()
        .map_or_else(|| quote!(#krate::__private::always), |p| quote!(#p));
    // Sync or async: a `Result` takes `FallbackOutput`'s inherent method, a future the trait's.
    let answer = quote_spanned! {span=>
        {
            #[allow(unused_imports)]
            use #krate::__private::AsyncFallback as _;
            #calls
            #krate::__private::fallback_answer::<#anchor, _>(#call.into_fallback_future().await)
        }
    };
    if below.rejects {
        quote! {
            match { #(#clones)* #inner } {
                ::core::result::Result::Ok(#value) => ::core::result::Result::Ok(#value),
                ::core::result::Result::Err(#failure) => {
                    match #krate::__private::fallback_error(#failure, #fallback_if) {
                        ::core::result::Result::Ok(#error) => {
                            #policy.count_answered();
                            #answer.map_err(#krate::Failure::Operation)
                        }
                        ::core::result::Result::Err(#failure) => {
                            #policy.count_passed();
                            ::core::result::Result::Err(#failure)
                        }
                    }
                }
            }
        }
    } else {
        quote! {
            match { #(#clones)* #inner } {
                ::core::result::Result::Ok(#value) => ::core::result::Result::Ok(#value),
                ::core::result::Result::Err(#error) if #fallback_if(&#error) => {
                    #policy.count_answered();
                    #answer
                }
                ::core::result::Result::Err(#error) => {
                    #policy.count_passed();
                    ::core::result::Result::Err(#error)
                }
            }
        }
    }
}

fn retry_loop(
    krate: &TokenStream,
    args: &RetryArgs,
    policy: &syn::Ident,
    inner: TokenStream,
    rejects: bool,
    bindings: &[ArgBinding],
    return_type: &Type,
) -> TokenStream {
    let run = format_ident!("__resilience_run", span = Span::mixed_site());
    let attempt = format_ident!("__resilience_attempt", span = Span::mixed_site());
    let done = format_ident!("__resilience_done", span = Span::mixed_site());
    let value = format_ident!("__resilience_value", span = Span::mixed_site());
    let error = format_ident!("__resilience_error", span = Span::mixed_site());
    let last = format_ident!("__resilience_last", span = Span::mixed_site());
    let (slots, takes) = arguments::retry_slots(krate, bindings, &last);
    // Only an owned argument needs to know whether its attempt is the last.
    let is_last = (!takes.is_empty()).then(|| quote!(let #last = #run.is_last_attempt();));
    let view = if rejects {
        quote!(#krate::Failure::as_ref)
    } else {
        quote!(#krate::__private::view_operation)
    };
    let retry_if = args
        .retry_if
        .as_ref()
        .map_or_else(|| quote!(#krate::__private::always), |p| quote!(#p));
    let on_retry = args
        .on_retry
        .as_ref()
        .map_or_else(|| quote!(#krate::__private::ignore_retry), |p| quote!(#p));
    let describe = describe_error(krate, return_type);
    // Inside a stack that can reject, a retry that shutdown calls off ends with the rejection.
    let decide = if rejects {
        quote!(#run.after_attempt_in_stack(#attempt, #retry_if, #on_retry, #describe))
    } else {
        quote!(#run.after_attempt_described(#attempt, #view, #retry_if, #on_retry, #describe))
    };
    quote! {
        {
            let mut #run = #policy.begin();
            #(#slots)*
            loop {
                #is_last
                #(#takes)*
                // Taken apart and built again, so that a success leaves with its value alone
                // rather than with a copy of the whole result out of the call's future.
                let #attempt = match #inner {
                    ::core::result::Result::Ok(#value) => {
                        #run.succeeded();
                        break ::core::result::Result::Ok(#value);
                    }
                    ::core::result::Result::Err(#error) => ::core::result::Result::Err(#error),
                };
                match #decide.await
                {
                    ::core::ops::ControlFlow::Break(#done) => break #done,
                    ::core::ops::ControlFlow::Continue(()) => {}
                }
            }
        }
    }
}

/// How retry events describe an operation error: its `Display` when the error type has one,
/// else its type name, chosen by autoref specialization on the declared error type.
pub(super) fn describe_error(krate: &TokenStream, return_type: &Type) -> TokenStream {
    if contains_impl_trait(return_type) {
        // The error type cannot be named: fall back to the type name.
        return quote!(#krate::__private::describe_by_type_name);
    }
    quote! {
        {
            #[allow(unused_imports)]
            use #krate::__private::{DescribeByDisplay as _, DescribeByTypeName as _};
            (&#krate::__private::DescribeError::<
                <#return_type as #krate::__private::IsResult>::Err,
            >::new())
            .describer()
        }
    }
}

fn contains_impl_trait(ty: &Type) -> bool {
    struct Finder(bool);
    impl<'ast> syn::visit::Visit<'ast> for Finder {
        fn visit_type_impl_trait(&mut self, _: &'ast syn::TypeImplTrait) {
            self.0 = true;
        }
    }
    let mut finder = Finder(false);
    syn::visit::Visit::visit_type(&mut finder, ty);
    finder.0
}
