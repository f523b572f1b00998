//! What a body that runs again (under `#[retry]`) or is followed by a fallback needs of the
//! function's arguments: a fresh clone, copy or reborrow of each for each run, moved into that
//! run; and the arguments passed on to a fallback, `#[cfg]` respected.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Attribute, ItemFn};

use crate::item::{cfg_attrs, ArgBinding, Passing};

/// More `#[cfg]` arguments than this passed to a fallback would need too many variants of its call.
const MAX_CFG_ARGUMENTS: usize = 4;

/// The statements that open the body's `async` block: each binding taken into the block by value
/// (`let x = x;`), so the block owns its clone instead of borrowing one across its awaits (which
/// would make the future `Send` only for `Sync` arguments); a `mut` reference copied or
/// reborrowed afresh, so each run starts where the caller left it.
pub(super) fn take_into_body(bindings: &[ArgBinding]) -> Vec<TokenStream> {
    bindings
        .iter()
        .map(|binding| {
            let ArgBinding { ident, cfgs, .. } = binding;
            let mutability = binding.mutable.then(|| quote!(mut));
            let value = match binding.passing {
                Passing::Owned | Passing::Shared => quote!(#ident),
                Passing::Exclusive => quote!(&mut *#ident),
            };
            quote!(#(#cfgs)* let #mutability #ident = #value;)
        })
        .collect()
}

/// For `#[retry]`: before the loop, each owned argument moves into a holder
/// (`let slot = Reusable::new(x);`); in each attempt, it binds the attempt's own value
/// (`let x = slot.for_attempt(last, clone_for_retry);`): a clone, or the original for the last
/// attempt.
pub(super) fn retry_slots(
    krate: &TokenStream,
    bindings: &[ArgBinding],
    last: &syn::Ident,
) -> (Vec<TokenStream>, Vec<TokenStream>) {
    reused_slots(krate, bindings, last, &CLONE_FOR_RETRY)
}

/// The `__private` functions that clone an owned argument for another run of the body: one
/// for a named type, one for an `impl Trait` (whose fix is a bound). Each has its own
/// `Clone` bound and message, naming the attribute that re-runs the body.
pub(super) struct CloneFns {
    pub(super) named: &'static str,
    pub(super) impl_trait: &'static str,
}

const CLONE_FOR_RETRY: CloneFns = CloneFns {
    named: "clone_for_retry",
    impl_trait: "clone_impl_for_retry",
};

/// [`retry_slots`] for an attribute whose body may run more than once, with its own `clone`
/// functions.
pub(super) fn reused_slots(
    krate: &TokenStream,
    bindings: &[ArgBinding],
    last: &syn::Ident,
    clone_fns: &CloneFns,
) -> (Vec<TokenStream>, Vec<TokenStream>) {
    owned(bindings)
        .enumerate()
        .map(|(i, binding)| {
            let ArgBinding {
                ident, cfgs, span, ..
            } = binding;
            let slot = format_ident!("__resilience_slot_{}", i, span = Span::mixed_site());
            // The `Clone` bound's error points at the argument's type.
            let krate = respan(krate, *span);
            let clone = format_ident!(
                "{}",
                if binding.impl_trait {
                    clone_fns.impl_trait
                } else {
                    clone_fns.named
                },
                span = *span
            );
            let clone = quote_spanned!(*span=> #krate::__private::#clone);
            let hold = quote!(#(#cfgs)* let mut #slot = #krate::__private::Reusable::new(#ident););
            let take = quote!(#(#cfgs)* let #ident = #slot.for_attempt(#last, #clone););
            (hold, take)
        })
        .unzip()
}

/// For `#[fallback]`: `let x = clone_for_fallback(&x);` for each owned argument, the body's copy;
/// the fallback then gets the originals.
pub(super) fn fallback_clones(krate: &TokenStream, bindings: &[ArgBinding]) -> Vec<TokenStream> {
    owned(bindings)
        .map(|binding| {
            let ArgBinding {
                ident, cfgs, span, ..
            } = binding;
            let krate = respan(krate, *span);
            // Named apart from its argument, so that a non-`Clone` argument gets the clone
            // function's error (and no suggestion to borrow it).
            let clone = if binding.impl_trait {
                quote_spanned!(*span=> #krate::__private::clone_impl_for_fallback)
            } else {
                quote_spanned!(*span=> #krate::__private::clone_for_fallback)
            };
            quote!(#(#cfgs)* let #ident = #krate::__private::cloned(&#ident, #clone);)
        })
        .collect()
}

/// For `#[hedge]`: `let x = clone_for_hedge(&x);` for each owned argument, at the start of each
/// attempt (attempts run at once, so each owns its copy and the originals stay put).
pub(super) fn hedge_clones(krate: &TokenStream, bindings: &[ArgBinding]) -> Vec<TokenStream> {
    owned(bindings)
        .map(|binding| {
            let ArgBinding {
                ident, cfgs, span, ..
            } = binding;
            let krate = respan(krate, *span);
            let clone = if binding.impl_trait {
                quote_spanned!(*span=> #krate::__private::clone_impl_for_hedge)
            } else {
                quote_spanned!(*span=> #krate::__private::clone_for_hedge)
            };
            quote!(#(#cfgs)* let #ident = #krate::__private::cloned(&#ident, #clone);)
        })
        .collect()
}

/// For `#[hedge]`: an error on each argument its attempts, running at once, cannot share: a
/// `&mut` argument (`&mut self` included), and a receiver taken by value (`self`,
/// `self: Arc<Self>`), which the attempts cannot each own.
pub(super) fn exclusive_under_hedge(function: &ItemFn) -> Vec<TokenStream> {
    let exclusive = "`#[hedge]` runs attempts at once, which cannot share a `&mut` argument; take it by `&` (with interior mutability) or by value (`Clone`)";
    let by_value = "`#[hedge]` runs attempts at once, which cannot each own the receiver; take `&self` (call the method on a clone of the `Arc` if need be)";
    function
        .sig
        .inputs
        .iter()
        .filter_map(|input| match input {
            syn::FnArg::Receiver(receiver) => match (&receiver.reference, &receiver.mutability) {
                (Some(_), Some(_)) => Some((receiver.self_token.span, exclusive)),
                (Some(_), None) => None,
                // `self`, `mut self`, `self: Arc<Self>`: owned by the first attempt.
                (None, _) => match &*receiver.ty {
                    syn::Type::Reference(reference) if receiver.colon_token.is_some() => reference
                        .mutability
                        .is_some()
                        .then_some((receiver.self_token.span, exclusive)),
                    _ => Some((receiver.self_token.span, by_value)),
                },
            },
            syn::FnArg::Typed(arg) => match &*arg.ty {
                syn::Type::Reference(reference) if reference.mutability.is_some() => Some((
                    match &*arg.pat {
                        syn::Pat::Ident(binding) => binding.ident.span(),
                        other => other.span(),
                    },
                    exclusive,
                )),
                _ => None,
            },
        })
        .map(|(span, message)| syn::Error::new(span, message).into_compile_error())
        .collect()
}

/// `tokens` with every span set to `span`, so that an error about the call they start points there.
pub(super) fn respan(tokens: &TokenStream, span: Span) -> TokenStream {
    tokens
        .clone()
        .into_iter()
        .map(|mut tree| {
            tree.set_span(span);
            tree
        })
        .collect()
}

fn owned(bindings: &[ArgBinding]) -> impl Iterator<Item = &ArgBinding> {
    bindings.iter().filter(|b| b.passing == Passing::Owned)
}

/// One argument as a call passes it on, with the `#[cfg]`s under which it exists.
pub(super) struct PassedOn {
    pub(super) tokens: TokenStream,
    pub(super) cfgs: Vec<Attribute>,
}

/// The function's arguments as a call passes them on: `self`, then each argument's name. An
/// argument bound by a pattern has no name to pass; it becomes a compile error on the pattern
/// (only a `#[fallback]` passes arguments on).
pub(super) fn passed_on(function: &ItemFn) -> Vec<PassedOn> {
    function
        .sig
        .inputs
        .iter()
        .map(|input| match input {
            syn::FnArg::Receiver(receiver) => {
                let token = &receiver.self_token;
                PassedOn {
                    tokens: quote!(#token),
                    cfgs: cfg_attrs(&receiver.attrs),
                }
            }
            syn::FnArg::Typed(arg) => PassedOn {
                tokens: match &*arg.pat {
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
                cfgs: cfg_attrs(&arg.attrs),
            },
        })
        .collect()
}

/// `let <out> = <call>(args..);` once for each combination of the arguments' `#[cfg]`s, each under
/// the `#[cfg]` that selects it, so exactly one is compiled: a call's arguments cannot carry
/// `#[cfg]` themselves. `call` builds the statement's value from the arguments present.
pub(super) fn calls_under_cfg(
    arguments: &[PassedOn],
    out: &syn::Ident,
    span: Span,
    call: impl Fn(Vec<&TokenStream>) -> TokenStream,
) -> TokenStream {
    let conditional: Vec<usize> = (0..arguments.len())
        .filter(|&i| !arguments[i].cfgs.is_empty())
        .collect();
    if conditional.is_empty() {
        let value = call(arguments.iter().map(|a| &a.tokens).collect());
        return quote!(let #out = #value;);
    }
    if conditional.len() > MAX_CFG_ARGUMENTS {
        return syn::Error::new(
            span,
            format!(
                "`#[fallback]` passes at most {MAX_CFG_ARGUMENTS} arguments that carry `#[cfg]` on to its fallback; group the others into one argument"
            ),
        )
        .into_compile_error();
    }
    let predicate = |i: usize| {
        let metas = arguments[i]
            .cfgs
            .iter()
            .filter_map(|attr| match &attr.meta {
                syn::Meta::List(list) => Some(list.tokens.clone()),
                _ => None,
            });
        quote!(all(#(#metas),*))
    };
    let variants = (0..1_u32 << conditional.len()).map(|mask| {
        let present = |i: usize| {
            conditional
                .iter()
                .position(|&c| c == i)
                .map_or(true, |bit| mask & (1 << bit) != 0)
        };
        let conditions = conditional.iter().enumerate().map(|(bit, &i)| {
            let predicate = predicate(i);
            if mask & (1 << bit) != 0 {
                predicate
            } else {
                quote!(not(#predicate))
            }
        });
        let value = call(
            (0..arguments.len())
                .filter(|&i| present(i))
                .map(|i| &arguments[i].tokens)
                .collect(),
        );
        quote!(#[cfg(all(#(#conditions),*))] let #out = #value;)
    });
    quote!(#(#variants)*)
}
