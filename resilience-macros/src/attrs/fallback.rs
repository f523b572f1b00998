//! `#[fallback(path, ...)]` arguments: the fallback function first, then keys.

use proc_macro2::{Span, TokenStream, TokenTree};

use super::ArgSet;

const USAGE: &str =
    "`#[fallback]` takes the fallback function first: a path, `#[fallback(serve_cached)]`, or on a method another method, `#[fallback(Self::serve_cached)]` (called with `self` first) or `#[fallback(self.serve_cached)]`; keys follow: `#[fallback(serve_cached, fallback_if = is_outage)]`";

/// Validated `#[fallback]` settings.
pub(crate) struct FallbackArgs {
    /// The fallback: called with the function's arguments and the error.
    pub(crate) function: FallbackFn,
    /// `fn(&E) -> bool`: which errors the fallback answers for (default: every one).
    pub(crate) fallback_if: Option<syn::Expr>,
    /// Registry name of the fallback's counters.
    pub(crate) name: Option<super::PolicyName>,
}

/// The fallback function, as written.
pub(crate) enum FallbackFn {
    /// `serve_cached`, `cache::lookup`, `Self::serve_cached`: called with every argument of the
    /// function, `self` first for a method.
    Path(syn::ExprPath),
    /// `self.serve_cached`: a method of the receiver, called with the other arguments.
    Method {
        receiver: syn::Token![self],
        method: syn::Ident,
    },
}

impl FallbackFn {
    pub(crate) fn span(&self) -> Span {
        match self {
            FallbackFn::Path(path) => syn::spanned::Spanned::span(path),
            FallbackFn::Method { method, .. } => method.span(),
        }
    }
}

/// Splits the leading path off the arguments: the tokens before the first top-level comma.
pub(crate) fn split_leading_path(args: TokenStream) -> (TokenStream, TokenStream) {
    let mut head = TokenStream::new();
    let mut tokens = args.into_iter();
    for token in tokens.by_ref() {
        if matches!(&token, TokenTree::Punct(p) if p.as_char() == ',') {
            break;
        }
        head.extend([token]);
    }
    (head, tokens.collect())
}

pub(crate) fn parse(set: &mut ArgSet<'_>, head: TokenStream, span: Span) -> Option<FallbackArgs> {
    let starts_with_key = head
        .clone()
        .into_iter()
        .any(|token| matches!(&token, TokenTree::Punct(p) if p.as_char() == '='));
    let function = if head.is_empty() {
        set.errors.at(span, USAGE);
        None
    } else if starts_with_key {
        // `#[fallback(fallback_if = ..)]`: the key stands where the path belongs.
        let first = head.into_iter().next().map_or(span, |token| token.span());
        set.errors.at(first, USAGE);
        None
    } else {
        match syn::parse2::<syn::Expr>(head) {
            Ok(syn::Expr::Path(path)) => Some(FallbackFn::Path(path)),
            Ok(syn::Expr::Field(field)) => match (&*field.base, &field.member) {
                (syn::Expr::Path(base), syn::Member::Named(method))
                    if base.path.is_ident("self") =>
                {
                    Some(FallbackFn::Method {
                        receiver: syn::Token![self](base.path.segments[0].ident.span()),
                        method: method.clone(),
                    })
                }
                _ => {
                    set.errors.at(syn::spanned::Spanned::span(&field), USAGE);
                    None
                }
            },
            Ok(other) => {
                set.errors.at(syn::spanned::Spanned::span(&other), USAGE);
                None
            }
            Err(err) => {
                set.errors.at(err.span(), USAGE);
                None
            }
        }
    };
    let fallback_if = set.path("fallback_if", "is_outage");
    let name = set.name();
    Some(FallbackArgs {
        function: function?,
        fallback_if,
        name,
    })
}
