//! The annotated function: finding every attribute of the stack on it, and what the expansion
//! needs to know about its signature.

use proc_macro2::{Span, TokenStream};
use syn::spanned::Spanned;
use syn::{Attribute, FnArg, Ident, ItemFn, Meta, Pat, ReturnType, Type};

use crate::args::Errors;
use crate::attrs::{self, Kind, PolicyAttr};

/// Which of our attributes `attr` is, if any: `#[retry]` or `#[resilience::retry]`.
///
/// Attributes imported under another name cannot be recognised; they expand on their own,
/// after (inside) the stack they were written above.
fn policy_kind(attr: &Attribute) -> Option<Kind> {
    let segments: Vec<String> = attr
        .path()
        .segments
        .iter()
        .map(|segment| segment.ident.to_string())
        .collect();
    let last = match segments.as_slice() {
        [only] => only,
        [krate, last] if krate == "resilience" => last,
        _ => return None,
    };
    Kind::ALL.into_iter().find(|kind| kind.name() == last)
}

fn attr_args(attr: &Attribute) -> syn::Result<TokenStream> {
    match &attr.meta {
        Meta::Path(_) => Ok(TokenStream::new()),
        Meta::List(list) => Ok(list.tokens.clone()),
        Meta::NameValue(nv) => Err(syn::Error::new(
            nv.eq_token.span,
            format!(
                "write the arguments in parentheses: `#[{}(...)]`",
                attr.path()
                    .segments
                    .last()
                    .map_or_else(String::new, |s| s.ident.to_string())
            ),
        )),
    }
}

/// The stack of policies, outermost first, and the function with those attributes removed.
pub(crate) struct Annotated {
    pub(crate) function: ItemFn,
    pub(crate) stack: Vec<PolicyAttr>,
}

/// Collects the attribute being expanded (the topmost of the stack: the compiler expands
/// attributes from the top) and every one of ours written below it, in order, so that the
/// whole stack expands at once with the top attribute outermost.
///
/// On any error, returns the errors together with the function stripped of our attributes, so
/// that the rest of the crate (and an IDE) still sees the function.
pub(crate) fn collect(
    kind: Kind,
    args: TokenStream,
    item: TokenStream,
) -> Result<Annotated, (syn::Error, Option<Box<ItemFn>>)> {
    let mut function: ItemFn = match syn::parse2(item) {
        Ok(function) => function,
        Err(err) => {
            let message = format!(
                "`#[{}]` applies to an `async fn` (a free function or a method); {err}",
                kind.name()
            );
            return Err((syn::Error::new(err.span(), message), None));
        }
    };
    let mut errors = Errors::default();
    let mut stack = Vec::new();
    if let Some(first) = errors.take(attrs::parse(kind, args, Span::call_site())) {
        stack.push(first);
    }
    let mut seen = vec![kind];
    let mut kept = Vec::with_capacity(function.attrs.len());
    for attr in std::mem::take(&mut function.attrs) {
        let Some(inner) = policy_kind(&attr) else {
            kept.push(attr);
            continue;
        };
        if seen.contains(&inner) {
            errors.at(
                attr.path().span(),
                format!(
                    "`#[{}]` is given twice on this function; merge the two into one",
                    inner.name()
                ),
            );
            continue;
        }
        seen.push(inner);
        let parsed = attr_args(&attr).and_then(|args| attrs::parse(inner, args, attr.span()));
        if let Some(policy) = errors.take(parsed) {
            stack.push(policy);
        }
        // The attribute stays, emptied, so the compiler still resolves its path (its import
        // is used) and it expands to nothing.
        kept.push(expanded_marker(&attr));
    }
    function.attrs = kept;
    check_signature(kind, &function, &mut errors);
    match errors.into_error() {
        Some(err) => Err((err, Some(Box::new(function)))),
        None => Ok(Annotated { function, stack }),
    }
}

/// The argument that marks an attribute as already expanded by the top of its stack.
pub(crate) const STACKED_MARKER: &str = "__resilience_stacked";

fn expanded_marker(attr: &Attribute) -> Attribute {
    let path = attr.path();
    let marker = syn::Ident::new(STACKED_MARKER, Span::call_site());
    syn::parse_quote_spanned!(attr.span()=> #[#path(#marker)])
}

/// Whether an attribute's arguments are the marker: it was expanded with its stack already.
pub(crate) fn is_stacked_marker(args: &TokenStream) -> bool {
    let mut tokens = args.clone().into_iter();
    matches!(
        (tokens.next(), tokens.next()),
        (Some(proc_macro2::TokenTree::Ident(ident)), None) if ident == STACKED_MARKER
    )
}

fn check_signature(kind: Kind, function: &ItemFn, errors: &mut Errors) {
    let sig = &function.sig;
    let attr = kind.name();
    if sig.asyncness.is_none() {
        errors.at(
            sig.fn_token.span,
            format!("`#[{attr}]` applies to `async fn` only; make this function `async`"),
        );
    }
    if let Some(constness) = &sig.constness {
        errors.at(
            constness.span,
            format!("`#[{attr}]` cannot apply to a `const fn`"),
        );
    }
    match &sig.output {
        ReturnType::Default => errors.at(
            sig.paren_token.span.close(),
            format!("`#[{attr}]` needs the function to return `Result<T, E>`; it returns `()`"),
        ),
        ReturnType::Type(_, ty) => {
            if !matches!(strip_groups(ty), Type::Path(_)) {
                errors.at(
                    ty.span(),
                    format!("`#[{attr}]` needs the function to return `Result<T, E>` (or an alias of it)"),
                );
            }
        }
    }
}

fn strip_groups(ty: &Type) -> &Type {
    match ty {
        Type::Group(group) => strip_groups(&group.elem),
        Type::Paren(paren) => strip_groups(&paren.elem),
        other => other,
    }
}

/// A binding of an owned argument, cloned for each attempt of a retried body.
pub(crate) struct OwnedBinding {
    pub(crate) ident: Ident,
    pub(crate) mutable: bool,
    /// Where to point an error when the argument cannot be cloned.
    pub(crate) span: Span,
}

/// The bindings of arguments taken by value (not behind a reference): a retried body may move
/// them, so each attempt gets its own clone.
pub(crate) fn owned_bindings(function: &ItemFn) -> Vec<OwnedBinding> {
    let mut bindings = Vec::new();
    for input in &function.sig.inputs {
        let FnArg::Typed(arg) = input else { continue };
        if matches!(strip_groups(&arg.ty), Type::Reference(_)) {
            continue;
        }
        bindings_of(&arg.pat, arg.ty.span(), &mut bindings);
    }
    bindings
}

fn bindings_of(pat: &Pat, span: Span, out: &mut Vec<OwnedBinding>) {
    match pat {
        Pat::Ident(binding) => {
            if binding.by_ref.is_none() {
                out.push(OwnedBinding {
                    ident: binding.ident.clone(),
                    mutable: binding.mutability.is_some(),
                    span,
                });
            }
            if let Some((_, sub)) = &binding.subpat {
                bindings_of(sub, span, out);
            }
        }
        Pat::Tuple(tuple) => tuple.elems.iter().for_each(|p| bindings_of(p, span, out)),
        Pat::TupleStruct(tuple) => tuple.elems.iter().for_each(|p| bindings_of(p, span, out)),
        Pat::Struct(strukt) => strukt
            .fields
            .iter()
            .for_each(|field| bindings_of(&field.pat, span, out)),
        Pat::Slice(slice) => slice.elems.iter().for_each(|p| bindings_of(p, span, out)),
        Pat::Paren(paren) => bindings_of(&paren.pat, span, out),
        Pat::Type(typed) => bindings_of(&typed.pat, span, out),
        Pat::Reference(_) | Pat::Wild(_) | Pat::Rest(_) | Pat::Lit(_) | Pat::Range(_) => {}
        _ => {}
    }
}
