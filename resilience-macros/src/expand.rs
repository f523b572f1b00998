//! Code generation: the whole stack of policies around the function's body.
//!
//! The body runs as an `async` block inside the function itself (never a nested `fn`), so
//! `self`, `Self`, generics, lifetimes and `impl Trait` arguments keep working; an early
//! `return` or `?` ends the block, which is the attempt the policies observe. Each policy is
//! resolved once per call site into a `static` and then passed by reference.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::visit_mut::VisitMut;
use syn::{ItemFn, ReturnType, Type};

use crate::attrs::{
    BackoffArg, BreakerArgs, BulkheadArgs, JitterArg, Kind, PolicyAttr, RetryArgs, Settings,
    TimeoutArgs, TripArg, WindowArg,
};
use crate::item::{owned_bindings, Annotated, OwnedBinding};

pub(crate) fn expand(annotated: Annotated) -> TokenStream {
    let Annotated {
        mut function,
        stack,
    } = annotated;
    let retried = stack.iter().any(|layer| layer.kind() == Kind::Retry);
    let clones = if retried {
        owned_bindings(&function)
    } else {
        Vec::new()
    };
    if retried {
        // Each attempt binds its own clone (mutable if the argument was): the argument's own
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
    let anchor = erase_impl_trait(return_type);

    let rejects = stack.iter().any(|layer| layer.kind().rejects());
    let default_name = default_name(&function);

    let policies: Vec<_> = (0..stack.len())
        .map(|i| format_ident!("__resilience_policy_{}", i, span = Span::mixed_site()))
        .collect();
    let resolutions = stack
        .iter()
        .zip(&policies)
        .map(|(layer, ident)| resolve(layer, ident, &default_name));

    // The body moves what it captures unless a retry re-runs it: then it borrows, and each
    // attempt gets its own clones of the owned arguments.
    let capture = if retried { quote!() } else { quote!(move) };
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
            wrap(layer, policy, inner, rejects, &clones)
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
    };
    quote! {
        let #ident: &'static #ty = {
            static SITE: ::resilience::__private::Site<#ty> = ::resilience::__private::Site::new();
            SITE.get_or_init(|| ::resilience::__private::#register(#builder))
        };
    }
}

/// The expression of one layer around `inner`, the expression of the layers below; both
/// evaluate, in the function's async body, to the layer's result.
fn wrap(
    layer: &PolicyAttr,
    policy: &syn::Ident,
    inner: TokenStream,
    rejects: bool,
    clones: &[OwnedBinding],
) -> TokenStream {
    let permit = format_ident!("__resilience_permit", span = Span::mixed_site());
    let outcome = format_ident!("__resilience_outcome", span = Span::mixed_site());
    let rejection = format_ident!("__resilience_rejection", span = Span::mixed_site());
    match &layer.settings {
        Settings::Retry(args) => retry_loop(args, policy, inner, rejects, clones),
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

fn retry_loop(
    args: &RetryArgs,
    policy: &syn::Ident,
    inner: TokenStream,
    rejects: bool,
    clones: &[OwnedBinding],
) -> TokenStream {
    let run = format_ident!("__resilience_run", span = Span::mixed_site());
    let attempt = format_ident!("__resilience_attempt", span = Span::mixed_site());
    let done = format_ident!("__resilience_done", span = Span::mixed_site());
    let clones = clones.iter().map(|binding| {
        let ident = &binding.ident;
        let mutability = binding.mutable.then(|| quote!(mut));
        let clone_fn = quote_spanned!(binding.span=> ::resilience::__private::clone_for_retry);
        let borrowed = quote_spanned!(ident.span()=> &#ident);
        quote!(let #mutability #ident = #clone_fn(#borrowed);)
    });
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
    quote! {
        {
            let mut #run = #policy.begin();
            loop {
                #(#clones)*
                let #attempt = #inner;
                match #run.after_attempt(#attempt, #view, #retry_if, #on_retry).await {
                    ::core::ops::ControlFlow::Break(#done) => break #done,
                    ::core::ops::ControlFlow::Continue(()) => {}
                }
            }
        }
    }
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
