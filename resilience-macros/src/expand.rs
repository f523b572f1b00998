//! Code generation: the whole stack of policies around the function's body.
//!
//! The body runs as an `async` block inside the function itself (never a nested `fn`), so
//! `self`, `Self`, generics, lifetimes and `impl Trait` arguments keep working; an early
//! `return` or `?` ends the block, which is the attempt the policies observe. Each policy is
//! resolved once per call site into a `static` and then passed by reference.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::visit_mut::VisitMut;
use syn::{ItemFn, ReturnType, Type};

use crate::attrs::{
    BackoffArg, BreakerArgs, BulkheadArgs, FallbackArgs, JitterArg, PolicyAttr, RateLimitArgs,
    RetryArgs, Settings, TimeoutArgs, TripArg, WindowArg,
};
use crate::item::{owned_bindings, Annotated, OwnedBinding};

pub(crate) fn expand(annotated: Annotated) -> TokenStream {
    let Annotated {
        mut function,
        stack,
    } = annotated;
    let reused = stack.iter().any(|layer| layer.kind().reuses_arguments());
    let clones = if reused {
        owned_bindings(&function)
    } else {
        Vec::new()
    };
    let arguments = argument_names(&function);
    if reused {
        // The body binds its own clones (mutable if the argument was): the argument's own
        // binding is then never mutated, and `mut` on it would warn.
        strip_binding_mut(&mut function);
    }
    let ItemFn {
        attrs,
        vis,
        sig,
        block,
    } = &function;

    let return_type = match &sig.output {
        ReturnType::Type(_, ty) => (**ty).clone(),
        // Rejected while collecting; kept total so this never panics.
        ReturnType::Default => syn::parse_quote!(()),
    };
    let anchor = erase_impl_trait(return_type.clone());

    let rejects = stack.iter().any(|layer| layer.kind().rejects());
    let default_name = default_name(&function);

    let policies: Vec<_> = (0..stack.len())
        .map(|i| format_ident!("__resilience_policy_{}", i, span = Span::mixed_site()))
        .collect();
    let resolutions = stack
        .iter()
        .zip(&policies)
        .map(|(layer, ident)| resolve(layer, ident, &default_name));

    // The body moves what it captures unless a retry re-runs it or a fallback needs the
    // arguments after it: then it borrows, and gets its own clones of the owned arguments.
    let capture = if reused { quote!() } else { quote!(move) };
    let body = quote!(::resilience::__private::anchor::<#anchor, _>(async #capture #block).await);
    let body = if rejects {
        quote!(::resilience::__private::operation_result(#body))
    } else {
        body
    };
    // One state machine for the whole stack: each layer is a synchronous admission and
    // bookkeeping around the expression of the layer below, and only the timeout (which must
    // race a timer) wraps a future. Every `.await` is the body's, a wait, or a sleep.
    let pipeline = stack
        .iter()
        .zip(&policies)
        .rev()
        .fold(body, |inner, (layer, policy)| {
            let below = Below {
                rejects,
                clones: &clones,
                arguments: &arguments,
                return_type: &return_type,
            };
            wrap(layer, policy, inner, &below)
        });

    let result = format_ident!("__resilience_result", span = Span::mixed_site());
    let finish = if rejects {
        quote!(::resilience::__private::finish::<#anchor>(#result))
    } else {
        quote!(#result)
    };

    quote! {
        #(#attrs)*
        #vis #sig {
            #(#resolutions)*
            let #result = #pipeline;
            #finish
        }
    }
}

/// `let __resilience_policy_N = { static SITE; SITE.get_or_init(..) };`
fn resolve(layer: &PolicyAttr, ident: &syn::Ident, default_name: &TokenStream) -> TokenStream {
    let (ty, register, builder) = match &layer.settings {
        Settings::Retry(args) => (
            quote!(::resilience::Retry),
            quote!(register_retry),
            retry_builder(args, default_name),
        ),
        Settings::CircuitBreaker(args) => (
            quote!(::resilience::CircuitBreaker),
            quote!(register_circuit_breaker),
            breaker_builder(args, default_name),
        ),
        Settings::Timeout(args) => (
            quote!(::resilience::Timeout),
            quote!(register_timeout),
            timeout_builder(args, default_name),
        ),
        Settings::Bulkhead(args) => (
            quote!(::resilience::Bulkhead),
            quote!(register_bulkhead),
            bulkhead_builder(args, default_name),
        ),
        Settings::RateLimit(args) => (
            quote!(::resilience::RateLimiter),
            quote!(register_rate_limiter),
            rate_limiter_builder(args, default_name),
        ),
        Settings::Fallback(args) => (quote!(::resilience::Fallback), quote!(register_fallback), {
            let name = name_expr(&args.name, default_name);
            quote!(::resilience::Fallback::builder(#name))
        }),
    };
    quote! {
        let #ident: &'static #ty = {
            static SITE: ::resilience::__private::Site<#ty> = ::resilience::__private::Site::new();
            SITE.get_or_init(|| ::resilience::__private::#register(#builder))
        };
    }
}

/// What a layer needs to know of the function and of the stack.
struct Below<'a> {
    /// Whether a layer can reject calls: errors inside the stack are then `Failure<E>`.
    rejects: bool,
    /// Owned arguments the body gets clones of.
    clones: &'a [OwnedBinding],
    /// The function's arguments as a call passes them on (`self` first for a method).
    arguments: &'a [TokenStream],
    return_type: &'a Type,
}

/// The expression of one layer around `inner`, the expression of the layers below; both
/// evaluate, in the function's async body, to the layer's result.
fn wrap(
    layer: &PolicyAttr,
    policy: &syn::Ident,
    inner: TokenStream,
    below: &Below<'_>,
) -> TokenStream {
    let Below {
        rejects,
        clones,
        return_type,
        ..
    } = *below;
    let permit = format_ident!("__resilience_permit", span = Span::mixed_site());
    let outcome = format_ident!("__resilience_outcome", span = Span::mixed_site());
    let rejection = format_ident!("__resilience_rejection", span = Span::mixed_site());
    match &layer.settings {
        Settings::Retry(args) => retry_loop(args, policy, inner, rejects, clones, return_type),
        Settings::CircuitBreaker(args) => {
            let error = format_ident!("__resilience_error", span = Span::mixed_site());
            let failure_if = args
                .failure_if
                .as_ref()
                .map_or_else(|| quote!(::resilience::__private::always), |p| quote!(#p));
            let ignore_if = args
                .ignore_if
                .as_ref()
                .map_or_else(|| quote!(::resilience::__private::never), |p| quote!(#p));
            quote! {
                match #policy.try_acquire() {
                    ::core::result::Result::Err(#rejection) => {
                        ::core::result::Result::Err(::resilience::Failure::Policy(#rejection))
                    }
                    ::core::result::Result::Ok(#permit) => {
                        let #outcome = #inner;
                        #permit.record(::resilience::__private::breaker_outcome(
                            &#outcome,
                            |#error: &_| ::resilience::__private::classify(#error, #ignore_if, #failure_if),
                        ));
                        #outcome
                    }
                }
            }
        }
        Settings::Timeout(_) => {
            let call = format_ident!("__resilience_call", span = Span::mixed_site());
            let deadline = format_ident!("__resilience_deadline", span = Span::mixed_site());
            let cx = format_ident!("__resilience_cx", span = Span::mixed_site());
            // `Timeout::call`'s steps: the call and its deadline are dropped at the end of the
            // inner block, before an expiry is reported.
            quote! {
                match {
                    #policy.count_call();
                    let mut #call = ::core::pin::pin!(async { #inner });
                    let mut #deadline = ::core::pin::pin!(::core::option::Option::None);
                    ::core::future::poll_fn(|#cx| {
                        #policy.poll_before_deadline(#call.as_mut(), #deadline.as_mut(), #cx)
                    })
                    .await
                } {
                    ::core::option::Option::Some(#outcome) => #outcome,
                    ::core::option::Option::None => ::core::result::Result::Err(
                        ::resilience::Failure::Policy(#policy.expired()),
                    ),
                }
            }
        }
        Settings::Fallback(args) => fallback(args, policy, inner, below),
        Settings::RateLimit(_) => quote! {
            // Without a wait the limiter decides at once; a wait makes it a real await.
            match if #policy.config().wait.is_zero() {
                #policy.try_acquire()
            } else {
                #policy.acquire().await
            } {
                ::core::result::Result::Err(#rejection) => {
                    ::core::result::Result::Err(::resilience::Failure::Policy(#rejection))
                }
                ::core::result::Result::Ok(()) => #inner,
            }
        },
        Settings::Bulkhead(_) => quote! {
            // Without a queue the bulkhead decides at once; a queue makes the wait a real await.
            match if #policy.config().queue == 0 {
                #policy.try_acquire()
            } else {
                #policy.acquire().await
            } {
                ::core::result::Result::Err(#rejection) => {
                    ::core::result::Result::Err(::resilience::Failure::Policy(#rejection))
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
    let clones = clone_bindings(below.clones, "clone_for_fallback");
    let function = &args.function;
    let arguments = below.arguments;
    let fallback_if = args
        .fallback_if
        .as_ref()
        .map_or_else(|| quote!(::resilience::__private::always), |p| quote!(#p));
    // Sync or async: a `Result` takes `FallbackOutput`'s inherent method, a future the trait's.
    let answer = quote_spanned! {function.span()=>
        {
            #[allow(unused_imports)]
            use ::resilience::__private::AsyncFallback as _;
            ::resilience::__private::FallbackOutput(#function(#(#arguments,)* #error))
                .into_fallback_future()
                .await
        }
    };
    if below.rejects {
        quote! {
            match { #(#clones)* #inner } {
                ::core::result::Result::Ok(#value) => ::core::result::Result::Ok(#value),
                ::core::result::Result::Err(#failure) => {
                    match ::resilience::__private::fallback_error(#failure, #fallback_if) {
                        ::core::result::Result::Ok(#error) => {
                            #policy.count_answered();
                            #answer.map_err(::resilience::Failure::Operation)
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

/// `let [mut] arg = __private::<clone_fn>(&arg);` for each owned argument: the body's own copy.
/// The clone function's bound names the attribute that needs it, spanned on the argument.
fn clone_bindings(clones: &[OwnedBinding], clone_fn: &str) -> Vec<TokenStream> {
    clones
        .iter()
        .map(|binding| {
            let ident = &binding.ident;
            let mutability = binding.mutable.then(|| quote!(mut));
            let name = syn::Ident::new(clone_fn, binding.span);
            let clone_fn = quote_spanned!(binding.span=> ::resilience::__private::#name);
            let borrowed = quote_spanned!(ident.span()=> &#ident);
            quote!(let #mutability #ident = #clone_fn(#borrowed);)
        })
        .collect()
}

/// The function's arguments as a call passes them on: `self`, then each argument's name. An
/// argument bound by a pattern has no name to pass; it becomes a compile error on the pattern
/// (only a `#[fallback]` passes arguments on).
fn argument_names(function: &ItemFn) -> Vec<TokenStream> {
    function
        .sig
        .inputs
        .iter()
        .map(|input| match input {
            syn::FnArg::Receiver(receiver) => {
                let token = &receiver.self_token;
                quote!(#token)
            }
            syn::FnArg::Typed(arg) => match &*arg.pat {
                syn::Pat::Ident(binding) if binding.subpat.is_none() => {
                    let ident = &binding.ident;
                    quote!(#ident)
                }
                other => syn::Error::new(
                    other.span(),
                    "`#[fallback]` passes the arguments on to the fallback by name: bind this argument to a name",
                )
                .into_compile_error(),
            },
        })
        .collect()
}

fn retry_loop(
    args: &RetryArgs,
    policy: &syn::Ident,
    inner: TokenStream,
    rejects: bool,
    clones: &[OwnedBinding],
    return_type: &Type,
) -> TokenStream {
    let run = format_ident!("__resilience_run", span = Span::mixed_site());
    let attempt = format_ident!("__resilience_attempt", span = Span::mixed_site());
    let done = format_ident!("__resilience_done", span = Span::mixed_site());
    let value = format_ident!("__resilience_value", span = Span::mixed_site());
    let error = format_ident!("__resilience_error", span = Span::mixed_site());
    let clones = clone_bindings(clones, "clone_for_retry");
    let view = if rejects {
        quote!(::resilience::Failure::as_ref)
    } else {
        quote!(::resilience::__private::view_operation)
    };
    let retry_if = args
        .retry_if
        .as_ref()
        .map_or_else(|| quote!(::resilience::__private::always), |p| quote!(#p));
    let on_retry = args.on_retry.as_ref().map_or_else(
        || quote!(::resilience::__private::ignore_retry),
        |p| quote!(#p),
    );
    let describe = describe_error(return_type);
    quote! {
        {
            let mut #run = #policy.begin();
            loop {
                #(#clones)*
                // Taken apart and built again, so that a success leaves with its value alone
                // rather than with a copy of the whole result out of the call's future.
                let #attempt = match #inner {
                    ::core::result::Result::Ok(#value) => {
                        #run.succeeded();
                        break ::core::result::Result::Ok(#value);
                    }
                    ::core::result::Result::Err(#error) => ::core::result::Result::Err(#error),
                };
                match #run
                    .after_attempt_described(#attempt, #view, #retry_if, #on_retry, #describe)
                    .await
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
fn describe_error(return_type: &Type) -> TokenStream {
    if contains_impl_trait(return_type) {
        // The error type cannot be named: fall back to the type name.
        return quote!(::resilience::__private::describe_by_type_name);
    }
    quote! {
        {
            #[allow(unused_imports)]
            use ::resilience::__private::{DescribeByDisplay as _, DescribeByTypeName as _};
            (&::resilience::__private::DescribeError::<
                <#return_type as ::resilience::__private::IsResult>::Err,
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

/// `module_path::fn_name`, or `Type::method` for methods with a receiver.
fn default_name(function: &ItemFn) -> TokenStream {
    let name = function.sig.ident.to_string();
    if function.sig.receiver().is_some() {
        quote!(::resilience::__private::method_name(::core::any::type_name::<Self>(), #name))
    } else {
        quote!(::core::concat!(::core::module_path!(), "::", #name))
    }
}

fn name_expr(given: &Option<String>, default_name: &TokenStream) -> TokenStream {
    match given {
        Some(name) => quote!(#name),
        None => default_name.clone(),
    }
}

fn duration(d: std::time::Duration) -> TokenStream {
    let secs = d.as_secs();
    let nanos = d.subsec_nanos();
    quote!(::core::time::Duration::new(#secs, #nanos))
}

fn retry_builder(args: &RetryArgs, default_name: &TokenStream) -> TokenStream {
    let name = name_expr(&args.name, default_name);
    let mut calls = Vec::new();
    if let Some(n) = args.max_attempts {
        calls.push(quote!(.max_attempts(#n)));
    }
    if let Some(backoff) = &args.backoff {
        calls.push(match backoff {
            BackoffArg::Exponential { base, factor } => {
                let base = duration(*base);
                quote!(.exponential(#base, #factor))
            }
            BackoffArg::Fixed(d) => {
                let d = duration(*d);
                quote!(.fixed(#d))
            }
            BackoffArg::Linear(d) => {
                let d = duration(*d);
                quote!(.linear(#d))
            }
            BackoffArg::None => quote!(.no_backoff()),
            BackoffArg::Schedule(delays) => {
                let delays = delays.iter().map(|d| duration(*d));
                quote!(.delays(::std::vec![#(#delays),*]))
            }
            BackoffArg::Custom(path) => quote!(.backoff_fn(#path)),
        });
    }
    if let Some(d) = args.max_delay {
        let d = duration(d);
        calls.push(quote!(.max_delay(#d)));
    }
    if let Some(jitter) = &args.jitter {
        let jitter = match jitter {
            JitterArg::Proportional(f) => quote!(::resilience::Jitter::Proportional(#f)),
            JitterArg::Full => quote!(::resilience::Jitter::Full),
            JitterArg::Equal => quote!(::resilience::Jitter::Equal),
            JitterArg::Decorrelated => quote!(::resilience::Jitter::Decorrelated),
        };
        calls.push(quote!(.jitter(#jitter)));
    }
    if let Some(d) = args.max_elapsed {
        let d = duration(d);
        calls.push(quote!(.max_elapsed(#d)));
    }
    quote!(::resilience::Retry::builder(#name) #(#calls)*)
}

fn breaker_builder(args: &BreakerArgs, default_name: &TokenStream) -> TokenStream {
    let name = name_expr(&args.name, default_name);
    let mut calls = Vec::new();
    match &args.trip {
        Some(TripArg::Consecutive(n)) => calls.push(quote!(.failure_threshold(#n))),
        Some(TripArg::Rate {
            rate,
            window,
            min_calls,
        }) => {
            calls.push(quote!(.failure_rate(#rate)));
            match window {
                Some(WindowArg::Calls(n)) => {
                    calls.push(quote!(.window(::resilience::Window::Calls(#n))))
                }
                Some(WindowArg::Time(d)) => {
                    let d = duration(*d);
                    calls.push(quote!(.window(::resilience::Window::Time(#d))))
                }
                None => {}
            }
            if let Some(n) = min_calls {
                calls.push(quote!(.min_calls(#n)));
            }
        }
        None => {}
    }
    if let Some(d) = args.reset_timeout {
        let d = duration(d);
        calls.push(quote!(.reset_timeout(#d)));
    }
    if let Some(n) = args.half_open_max_calls {
        calls.push(quote!(.half_open_max_calls(#n)));
    }
    if let Some(n) = args.success_threshold {
        calls.push(quote!(.success_threshold(#n)));
    }
    if let Some(d) = args.slow_call {
        let d = duration(d);
        calls.push(quote!(.slow_call(#d)));
    }
    quote!(::resilience::CircuitBreaker::builder(#name) #(#calls)*)
}

fn timeout_builder(args: &TimeoutArgs, default_name: &TokenStream) -> TokenStream {
    let name = name_expr(&args.name, default_name);
    let d = duration(args.duration);
    quote!(::resilience::Timeout::builder(#name).duration(#d))
}

fn rate_limiter_builder(args: &RateLimitArgs, default_name: &TokenStream) -> TokenStream {
    let name = name_expr(&args.name, default_name);
    let rate = args.rate;
    let mut calls = vec![quote!(.rate(#rate))];
    if let Some(d) = args.per {
        let d = duration(d);
        calls.push(quote!(.per(#d)));
    }
    if let Some(burst) = args.burst {
        calls.push(quote!(.burst(#burst)));
    }
    if let Some(d) = args.wait {
        let d = duration(d);
        calls.push(quote!(.wait(#d)));
    }
    quote!(::resilience::RateLimiter::builder(#name) #(#calls)*)
}

fn bulkhead_builder(args: &BulkheadArgs, default_name: &TokenStream) -> TokenStream {
    let name = name_expr(&args.name, default_name);
    let max = args.max;
    let mut calls = vec![quote!(.max_concurrent(#max))];
    if let Some(q) = args.queue {
        calls.push(quote!(.queue(#q)));
    }
    if let Some(d) = args.queue_timeout {
        let d = duration(d);
        calls.push(quote!(.queue_timeout(#d)));
    }
    quote!(::resilience::Bulkhead::builder(#name) #(#calls)*)
}

/// `impl Trait` cannot be written in the body's type anchor; `_` lets inference fill it in.
fn erase_impl_trait(mut ty: Type) -> Type {
    struct Eraser;
    impl VisitMut for Eraser {
        fn visit_type_mut(&mut self, ty: &mut Type) {
            if let Type::ImplTrait(impl_trait) = ty {
                *ty = Type::Infer(syn::TypeInfer {
                    underscore_token: syn::Token![_](impl_trait.impl_token.span),
                });
            } else {
                syn::visit_mut::visit_type_mut(self, ty);
            }
        }
    }
    Eraser.visit_type_mut(&mut ty);
    ty
}

/// Removes `mut` from the by-value argument bindings of the signature.
fn strip_binding_mut(function: &mut ItemFn) {
    struct Stripper;
    impl VisitMut for Stripper {
        fn visit_pat_ident_mut(&mut self, binding: &mut syn::PatIdent) {
            if binding.by_ref.is_none() {
                binding.mutability = None;
            }
            syn::visit_mut::visit_pat_ident_mut(self, binding);
        }
    }
    for input in &mut function.sig.inputs {
        if let syn::FnArg::Typed(arg) = input {
            if !matches!(*arg.ty, Type::Reference(_)) {
                Stripper.visit_pat_mut(&mut arg.pat);
            }
        }
    }
}
