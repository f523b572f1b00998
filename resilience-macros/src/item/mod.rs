//! The annotated function: finding every attribute of the stack on it, and what the expansion
//! needs to know about its signature.

mod bindings;
mod boxed;

use proc_macro2::{Span, TokenStream};
use syn::spanned::Spanned;
use syn::{Attribute, ItemFn, Meta, ReturnType, Type};

use crate::args::Errors;
use crate::attrs::{self, Kind, PolicyAttr, ResilientArgs};

pub(crate) use bindings::{cfg_attrs, reused_bindings, ArgBinding, Passing};
pub(crate) use boxed::BoxedFuture;

/// Which of our attributes `attr` is, if any: `#[retry]`, `#[resilience::retry]`, or
/// `#[facade::retry]` when the stack's top attribute says `crate = "facade"`.
///
/// Attributes imported under another name cannot be recognised: they are reported as attribute
/// macros written inside the stack.
fn policy_kind(attr: &Attribute, krate: Option<&syn::Path>) -> Option<Kind> {
    let last = our_attribute(attr, krate)?;
    Kind::ALL.into_iter().find(|kind| kind.name() == last)
}

/// The name of one of our attributes, by the rules of [`policy_kind`]: the last segment of a
/// path that is bare, under `resilience`, or under the stack's `crate`.
fn our_attribute(attr: &Attribute, krate: Option<&syn::Path>) -> Option<String> {
    let mut segments = path_segments(attr.path());
    let last = segments.pop()?;
    let ours = match segments.as_slice() {
        [] => true,
        [only] if only == "resilience" => true,
        prefix => krate.is_some_and(|krate| path_segments(krate) == prefix),
    };
    ours.then_some(last)
}

/// `#[resilient]`, which runs the function through a composite policy.
const COMPOSITE: &str = "resilient";

fn is_composite(attr: &Attribute, krate: Option<&syn::Path>) -> bool {
    our_attribute(attr, krate).is_some_and(|last| last == COMPOSITE)
}

/// Why `#[resilient]` and a policy's attribute cannot be on one function.
fn composite_combined_with(other: Kind) -> String {
    let fix = match other {
        Kind::Fallback => {
            "write `#[fallback]` on a function that calls this one, so that it answers for \
             the composite's failures"
                .to_owned()
        }
        other => format!(
            "give the composite a {} member instead (`Pipeline::builder(..).{}(..)`, or `{}` \
             under the configuration's `[policy.NAME]`), or drop `#[resilient]` and stack the \
             attributes",
            other.name().replace('_', " "),
            other.name(),
            other.name()
        ),
    };
    format!(
        "`#[resilient]` runs this function through the composite policy it names, which \
         decides each layer (retry, circuit breaker, rate limit, timeout, bulkhead) itself, so \
         it cannot be combined with `#[{}]`: {fix}",
        other.name()
    )
}

pub(crate) fn path_segments(path: &syn::Path) -> Vec<String> {
    path.segments
        .iter()
        .map(|segment| segment.ident.to_string())
        .collect()
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
    /// Set when `#[async_trait]` already rewrote the `async fn` into a `fn` returning a boxed
    /// future: the policies then wrap the boxed `async` block.
    pub(crate) boxed: Option<BoxedFuture>,
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
    let mut function = parse_function(kind.name(), item).map_err(|err| (err, None))?;
    let mut errors = Errors::default();
    let mut stack: Vec<PolicyAttr> = Vec::new();
    if let Some(first) = errors.take(attrs::parse(kind, args, Span::call_site())) {
        stack.push(first);
    }
    let krate = stack.first().and_then(|top| top.krate.clone());
    // Where each attribute of the stack is written, for errors about the stack as a whole.
    let mut spans = vec![Span::call_site()];
    let mut seen = vec![kind];
    let mut kept = Vec::with_capacity(function.attrs.len());
    for attr in std::mem::take(&mut function.attrs) {
        if is_composite(&attr, krate.as_ref()) {
            errors.at(attr.path().span(), composite_combined_with(kind));
            kept.push(expanded_marker(&attr));
            continue;
        }
        let Some(inner) = policy_kind(&attr, krate.as_ref()) else {
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
            spans.push(
                attr.path()
                    .segments
                    .last()
                    .map_or_else(|| attr.span(), |s| s.ident.span()),
            );
        }
        // The attribute stays, emptied, so the compiler still resolves its path (its import
        // is used) and it expands to nothing.
        kept.push(expanded_marker(&attr));
    }
    if stack.len() == seen.len() {
        // Every attribute parsed: the combination can be judged.
        crate::stack::check(&stack, &spans, &mut errors);
        crate::stack::check_one_crate(&stack, &spans, &mut errors);
    }
    crate::stack::check_method_fallback(&function, &stack, &mut errors);
    check_foreign_attributes(kind.name(), &kept, &mut errors);
    function.attrs = kept;
    let boxed = boxed::boxed_future(&function);
    if boxed.is_none() {
        check_signature(kind.name(), &function, &mut errors);
    }
    match errors.into_error() {
        Some(err) => Err((err, Some(Box::new(function)))),
        None => Ok(Annotated {
            function,
            stack,
            boxed,
        }),
    }
}

/// The annotated function; `attr` names the attribute in errors.
fn parse_function(attr: &str, item: TokenStream) -> syn::Result<ItemFn> {
    match syn::parse2(item.clone()) {
        Ok(function) => Ok(function),
        Err(_) if is_declaration(&item) => Err(syn::Error::new(
            Span::call_site(),
            format!(
                "`#[{attr}]` needs a body to wrap, and a trait's method declaration has none; \
                 write `#[{attr}]` on the method in each impl of the trait, or give the \
                 declaration a default body"
            ),
        )),
        Err(err) => Err(syn::Error::new(
            err.span(),
            format!("`#[{attr}]` applies to an `async fn` (a free function or a method); {err}"),
        )),
    }
}

/// The function under `#[resilient]`, which runs through a composite policy, and its arguments.
pub(crate) struct Composite {
    pub(crate) function: ItemFn,
    pub(crate) args: ResilientArgs,
    /// As for a stack: set when `#[async_trait]` already rewrote the `async fn`.
    pub(crate) boxed: Option<BoxedFuture>,
}

/// Collects `#[resilient(..)]` and its function. A policy's attribute on the same function, or a
/// second `#[resilient]`, is an error: the composite decides every layer itself.
///
/// On any error, returns the errors together with the function stripped of our attributes.
pub(crate) fn collect_composite(
    args: TokenStream,
    item: TokenStream,
) -> Result<Composite, (syn::Error, Option<Box<ItemFn>>)> {
    let mut function = parse_function(COMPOSITE, item).map_err(|err| (err, None))?;
    let mut errors = Errors::default();
    let args = errors.take(attrs::parse_resilient(args, Span::call_site()));
    let krate = args.as_ref().and_then(|args| args.krate.clone());
    let mut kept = Vec::with_capacity(function.attrs.len());
    for attr in std::mem::take(&mut function.attrs) {
        if let Some(other) = policy_kind(&attr, krate.as_ref()) {
            errors.at(attr.path().span(), composite_combined_with(other));
        } else if is_composite(&attr, krate.as_ref()) {
            errors.at(
                attr.path().span(),
                "`#[resilient]` is given twice on this function; keep one",
            );
        } else {
            kept.push(attr);
            continue;
        }
        // Emptied, as in a stack: it expands to nothing, its import still used.
        kept.push(expanded_marker(&attr));
    }
    check_foreign_attributes(COMPOSITE, &kept, &mut errors);
    function.attrs = kept;
    let boxed = boxed::boxed_future(&function);
    if boxed.is_none() {
        check_signature(COMPOSITE, &function, &mut errors);
    }
    match (args, errors.into_error()) {
        (Some(args), None) => Ok(Composite {
            function,
            args,
            boxed,
        }),
        (_, Some(err)) => Err((err, Some(Box::new(function)))),
        // A refused argument always reports why; kept total all the same.
        (None, None) => Err((
            syn::Error::new(Span::call_site(), "invalid `#[resilient]` arguments"),
            Some(Box::new(function)),
        )),
    }
}

/// Whether `item` is a method declared in a trait without a body.
fn is_declaration(item: &TokenStream) -> bool {
    syn::parse2::<syn::TraitItemFn>(item.clone()).is_ok_and(|method| method.default.is_none())
}

/// Attributes the compiler itself reads, which change nothing about how the body runs.
const INERT: &[&str] = &[
    "allow",
    "automatically_derived",
    "cfg",
    "cfg_attr",
    "cold",
    "coverage",
    "deny",
    "deprecated",
    "doc",
    "expect",
    "export_name",
    "forbid",
    "inline",
    "instruction_set",
    "link_section",
    "must_use",
    "no_mangle",
    "optimize",
    "target_feature",
    "track_caller",
    "warn",
];

/// Tools whose attributes are inert to the compiler.
const TOOLS: &[&str] = &[
    "clippy",
    "diagnostic",
    "rust_analyzer",
    "rustdoc",
    "rustfmt",
];

/// Rejects an attribute macro written among or below ours. The stack expands at once from its
/// top attribute, and attribute macros above it have expanded already; one still on the
/// function now would run around the whole stack, not where it is written.
fn check_foreign_attributes(top: &str, attrs: &[Attribute], errors: &mut Errors) {
    for attr in attrs {
        let path = attr.path();
        let Some(first) = path.segments.first() else {
            continue;
        };
        let first = first.ident.to_string();
        let inert = if path.segments.len() == 1 {
            INERT.contains(&first.as_str())
        } else {
            TOOLS.contains(&first.as_str())
        };
        if inert || is_stacked_marker_attr(attr) {
            continue;
        }
        let written = quote::ToTokens::to_token_stream(path)
            .to_string()
            .replace(' ', "");
        errors.at(
            path.span(),
            format!(
                "`#[{written}]` is written below `#[{top}]`, but the resilience attributes expand \
                 together as one stack, so `#[{written}]` would run outside all of them (once \
                 per call, not where it is written); write it above `#[{top}]` to wrap the whole \
                 stack, or move the code it should wrap into a function of its own and call that",
            ),
        );
    }
}

/// Whether an attribute is one of ours that the top of the stack already expanded.
fn is_stacked_marker_attr(attr: &Attribute) -> bool {
    match &attr.meta {
        Meta::List(list) => is_stacked_marker(&list.tokens),
        _ => false,
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

fn check_signature(attr: &str, function: &ItemFn, errors: &mut Errors) {
    let sig = &function.sig;
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
