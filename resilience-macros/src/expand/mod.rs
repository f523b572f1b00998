//! Code generation: the whole stack of policies around the function's body.
//!
//! The body runs as an `async` block inside the function itself (never a nested `fn`), so
//! `self`, `Self`, generics, lifetimes and `impl Trait` arguments keep working; an early
//! `return` or `?` ends the block, which is the attempt the policies observe. Each policy is
//! resolved once per call site into a `static` and then passed by reference.

mod arguments;
mod composite;
mod layers;
mod resolve;
#[cfg(test)]
mod tests;

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::visit_mut::VisitMut;
use syn::{ItemFn, ReturnType, Type};

use crate::attrs::{KindExt, PolicyAttr, Settings};
use crate::item::{reused_bindings, Annotated, ArgBinding, BoxedFuture};
pub(crate) use composite::expand_composite;
use layers::Below;
use resolve::DefaultName;

pub(crate) fn expand(annotated: Annotated) -> TokenStream {
    let Annotated {
        mut function,
        stack,
        boxed,
    } = annotated;
    let krate = crate_path(&stack);
    let reused = stack.iter().any(|layer| layer.kind().reuses_arguments());
    let bindings = if reused {
        reused_bindings(&function)
    } else {
        Vec::new()
    };
    let arguments = arguments::passed_on(&function);
    let exclusive = if stack
        .iter()
        .any(|layer| matches!(layer.settings, Settings::Hedge(_)))
    {
        arguments::exclusive_under_hedge(&function)
    } else {
        Vec::new()
    };
    if reused {
        // The body binds its own copies (mutable if the argument was): the argument's own
        // binding is then never mutated, and `mut` on it would warn.
        strip_binding_mut(&mut function);
    }

    let (return_type, block) = return_type_and_body(&function, boxed.as_ref());
    let anchor = erase_impl_trait(return_type.clone());

    let rejects = stack.iter().any(PolicyAttr::rejects);
    let default_name = DefaultName::of(&function);

    let policies: Vec<_> = (0..stack.len())
        .map(|i| format_ident!("__resilience_policy_{}", i, span = Span::mixed_site()))
        .collect();
    let resolutions: Vec<_> = stack
        .iter()
        .zip(&policies)
        .map(|(layer, ident)| resolve::resolve(&krate, layer, ident, default_name))
        .collect();
    let resolutions = resolve::bind_all(&krate, &resolutions);

    let marker = resolve::site_marker_item(&stack, default_name);

    let body = body(&krate, &block, &bindings, reused, &anchor, &stack, rejects);
    // One state machine for the whole stack: each layer is a synchronous admission and
    // bookkeeping around the expression of the layer below, and only the timeout (which must
    // race a timer) wraps a future. Every `.await` is the body's, a wait, or a sleep.
    let below = Below {
        krate: &krate,
        rejects,
        bindings: &bindings,
        arguments: &arguments,
        return_type: &return_type,
        anchor: &anchor,
        exclusive: &exclusive,
    };
    let pipeline = stack
        .iter()
        .zip(&policies)
        .rev()
        .fold(body, |inner, (layer, policy)| {
            layers::wrap(layer, policy, inner, &below)
        });

    let result = format_ident!("__resilience_result", span = Span::mixed_site());
    let finish = if rejects {
        quote!(#krate::__private::finish::<#anchor>(#result))
    } else {
        quote!(#result)
    };
    let run = quote! {
        #marker
        #resolutions
        let #result = #pipeline;
        #finish
    };

    with_body(&function, boxed.as_ref(), run)
}

/// The declared return type (the boxed future's output for an `#[async_trait]` method) and the
/// user's body.
fn return_type_and_body(function: &ItemFn, boxed: Option<&BoxedFuture>) -> (Type, syn::Block) {
    match boxed {
        Some(BoxedFuture { output, body, .. }) => (output.clone(), body.clone()),
        None => (
            match &function.sig.output {
                ReturnType::Type(_, ty) => (**ty).clone(),
                // Rejected while collecting; kept total so this never panics.
                ReturnType::Default => syn::parse_quote!(()),
            },
            (*function.block).clone(),
        ),
    }
}

/// The function with its own signature, attributes and visibility, whose body is now `run`
/// (inside the boxed future of an `#[async_trait]` method).
fn with_body(function: &ItemFn, boxed: Option<&BoxedFuture>, run: TokenStream) -> TokenStream {
    let ItemFn {
        attrs, vis, sig, ..
    } = function;
    match boxed {
        Some(BoxedFuture { pin, before, .. }) => quote! {
            #(#attrs)*
            #vis #sig {
                #(#before)*
                #pin(async move { #run })
            }
        },
        None => quote! {
            #(#attrs)*
            #vis #sig {
                #run
            }
        },
    }
}

/// The innermost expression of the stack: the user's block as an `async` block, anchored to the
/// declared return type, awaited (through the breaker's permit when the stack has a breaker), its
/// error made a `Failure::Operation` when a layer can reject.
fn body(
    krate: &TokenStream,
    block: &syn::Block,
    bindings: &[ArgBinding],
    reused: bool,
    anchor: &Type,
    stack: &[PolicyAttr],
    rejects: bool,
) -> TokenStream {
    // The body moves what it captures, unless a retry re-runs it or a fallback needs the
    // arguments after it: then it takes the run's own copies into the block by value.
    let body = if reused {
        let taken = arguments::take_into_body(bindings);
        // The block's statements, not the block: a block as the tail of another is
        // `unused_braces` at the user's braces.
        let statements = &block.stmts;
        quote!(async { #(#taken)* #(#statements)* })
    } else {
        quote!(async move #block)
    };
    let body = quote!(#krate::__private::anchor::<#anchor, _>(#body));
    let breaker = stack.iter().find_map(|layer| match &layer.settings {
        Settings::CircuitBreaker(args) => Some(args),
        _ => None,
    });
    let body = if let Some(breaker) = breaker {
        // The breaker's permit (bound by the breaker's layer around this) polls the body, so
        // that it tells a panic of the body's own poll from a drop during another's panic.
        let permit = layers::breaker_permit(breaker);
        let pinned = format_ident!("__resilience_body", span = Span::mixed_site());
        // A keyed permit's future names the key's type: it is awaited at the key's span too.
        let polled = layers::keyed_breaker_call(
            krate,
            breaker,
            "poll_keyed_body",
            quote_spanned!(permit.span()=> &mut #permit, #pinned.as_mut()),
        )
        .map_or_else(
            || quote!(#krate::__private::poll_body(&mut #permit, #pinned.as_mut()).await),
            |polls| quote_spanned!(permit.span()=> #polls.await),
        );
        quote!({
            let mut #pinned = ::core::pin::pin!(#body);
            #polled
        })
    } else {
        quote!(#body.await)
    };
    if rejects {
        quote!(#krate::__private::operation_result(#body))
    } else {
        body
    }
}

/// The path of the runtime crate: the stack's `crate = "..."` (checked to be one path while
/// collecting), or `::resilience`.
fn crate_path(stack: &[PolicyAttr]) -> TokenStream {
    match stack.iter().find_map(|layer| layer.krate.as_ref()) {
        Some(krate) => quote!(#krate),
        None => quote!(::resilience),
    }
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

/// Removes `mut` from the argument bindings that each run of the body binds afresh.
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
        let syn::FnArg::Typed(arg) = input else {
            continue;
        };
        match (&*arg.ty, &mut *arg.pat) {
            // A `mut` reference binding is copied or reborrowed into each run (see
            // `reused_bindings`); bindings inside a pattern through a reference are not.
            (Type::Reference(_), syn::Pat::Ident(binding)) => binding.mutability = None,
            (Type::Reference(_), _) => {}
            (_, pat) => Stripper.visit_pat_mut(pat),
        }
    }
}
