//! The argument bindings a body that runs again (or is followed by a fallback) needs afresh.

use proc_macro2::Span;
use syn::spanned::Spanned;
use syn::{Attribute, FnArg, Ident, ItemFn, Pat, Type};

use super::strip_groups;

/// How an argument is passed, which decides what a body that runs again needs of it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Passing {
    /// By value: each run of the body gets its own clone (the last run the original).
    Owned,
    /// `&T`: a `mut` binding is copied afresh for each run, so each starts where the caller left it.
    Shared,
    /// `&mut T`: a `mut` binding is reborrowed afresh for each run.
    Exclusive,
}

/// A binding of an argument that a body run more than once (or followed by a fallback) must get
/// afresh: every binding of an owned argument, and `mut` bindings of references.
pub(crate) struct ArgBinding {
    pub(crate) ident: Ident,
    pub(crate) mutable: bool,
    pub(crate) passing: Passing,
    /// Where to point an error when the argument cannot be cloned.
    pub(crate) span: Span,
    /// Whether the argument's type is `impl Trait`, whose fix when it is not `Clone` is a bound.
    pub(crate) impl_trait: bool,
    /// The argument's own `#[cfg]` attributes: its bindings exist only where it does.
    pub(crate) cfgs: Vec<Attribute>,
}

/// The bindings a body needs afresh for each run: see [`ArgBinding`].
pub(crate) fn reused_bindings(function: &ItemFn) -> Vec<ArgBinding> {
    let mut bindings = Vec::new();
    for input in &function.sig.inputs {
        let FnArg::Typed(arg) = input else { continue };
        let cfgs = cfg_attrs(&arg.attrs);
        match strip_groups(&arg.ty) {
            Type::Reference(reference) => {
                // A reference is `Copy` (or reborrowed): only a binding the body reassigns needs
                // a fresh copy; patterns through a reference bind copies or references already.
                if let Pat::Ident(binding) = &*arg.pat {
                    if binding.mutability.is_some() && binding.by_ref.is_none() {
                        bindings.push(ArgBinding {
                            ident: binding.ident.clone(),
                            mutable: true,
                            passing: if reference.mutability.is_some() {
                                Passing::Exclusive
                            } else {
                                Passing::Shared
                            },
                            span: arg.ty.span(),
                            impl_trait: false,
                            cfgs,
                        });
                    }
                }
            }
            _ => {
                let mut idents = Vec::new();
                bindings_of(&arg.pat, &mut idents);
                let impl_trait = matches!(strip_groups(&arg.ty), Type::ImplTrait(_));
                bindings.extend(idents.into_iter().map(|(ident, mutable)| ArgBinding {
                    ident,
                    mutable,
                    passing: Passing::Owned,
                    span: arg.ty.span(),
                    impl_trait,
                    cfgs: cfgs.clone(),
                }));
            }
        }
    }
    bindings
}

/// The `#[cfg(..)]` attributes among `attrs`.
pub(crate) fn cfg_attrs(attrs: &[Attribute]) -> Vec<Attribute> {
    attrs
        .iter()
        .filter(|attr| attr.path().is_ident("cfg"))
        .cloned()
        .collect()
}

/// The by-value bindings of a pattern, with whether each is `mut`.
fn bindings_of(pat: &Pat, out: &mut Vec<(Ident, bool)>) {
    match pat {
        Pat::Ident(binding) => {
            if binding.by_ref.is_none() {
                out.push((binding.ident.clone(), binding.mutability.is_some()));
            }
            if let Some((_, sub)) = &binding.subpat {
                bindings_of(sub, out);
            }
        }
        Pat::Tuple(tuple) => tuple.elems.iter().for_each(|p| bindings_of(p, out)),
        Pat::TupleStruct(tuple) => tuple.elems.iter().for_each(|p| bindings_of(p, out)),
        Pat::Struct(strukt) => strukt
            .fields
            .iter()
            .for_each(|field| bindings_of(&field.pat, out)),
        Pat::Slice(slice) => slice.elems.iter().for_each(|p| bindings_of(p, out)),
        Pat::Paren(paren) => bindings_of(&paren.pat, out),
        Pat::Type(typed) => bindings_of(&typed.pat, out),
        _ => {}
    }
}
