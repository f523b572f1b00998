//! `#[resilience::test]`: `#[tokio::test(start_paused = true)]` with the body run in a registry
//! of its own (`resilience::testing::isolated`).

use proc_macro2::{Span, TokenStream};
use quote::{quote, ToTokens};
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{AttrStyle, Expr, ExprLit, ItemFn, Lit, LitStr, Meta, Token};

/// The arguments: ours (`crate`), and those passed on to `tokio::test`.
struct TestArgs {
    /// The `resilience` crate's path, `::resilience` unless `crate = "path"` renames it.
    krate: TokenStream,
    /// Every argument but `crate` and `start_paused = false`, as written.
    tokio: Vec<Meta>,
    /// Whether to add `start_paused = true`: no `start_paused` was given.
    paused: bool,
}

pub(crate) fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    let function: ItemFn = match syn::parse2(item.clone()) {
        Ok(function) => function,
        Err(err) => {
            let err = syn::Error::new(
                err.span(),
                "`#[resilience::test]` applies to an `async fn` test without arguments",
            )
            .into_compile_error();
            return quote!(#err #item);
        }
    };
    // Every mistake at once: the arguments' and the function's.
    let err = match (parse_args(args, &function), check(&function)) {
        (Ok(args), Ok(())) => return isolated_test(function, args),
        (Err(mut err), Err(more)) => {
            err.combine(more);
            err
        }
        (Err(err), Ok(())) | (Ok(_), Err(err)) => err,
    };
    // Keep the function beside the errors, so the rest of the crate still sees it.
    let err = err.into_compile_error();
    quote!(#err #item)
}

fn parse_args(args: TokenStream, function: &ItemFn) -> syn::Result<TestArgs> {
    let metas = Punctuated::<Meta, Token![,]>::parse_terminated.parse2(args)?;
    let mut krate = None;
    let mut tokio = Vec::new();
    let mut flavor = None;
    let mut start_paused = false;
    let mut errors: Option<syn::Error> = None;
    let mut error = |err: syn::Error| match &mut errors {
        Some(errors) => errors.combine(err),
        None => errors = Some(err),
    };
    for meta in metas {
        if meta.path().is_ident("crate") {
            match crate_path(&meta) {
                Ok(path) if krate.is_none() => krate = Some(path),
                Ok(_) => error(syn::Error::new(meta.span(), "`crate` is given twice")),
                Err(err) => error(err),
            }
            continue;
        }
        if meta.path().is_ident("start_paused") {
            start_paused = true;
            // Tokio's default, and the only value it accepts with `flavor = "multi_thread"`.
            if is_false(&meta) {
                continue;
            }
        }
        if meta.path().is_ident("flavor") {
            flavor = string_value(&meta);
        }
        tokio.push(meta);
    }
    if let (Some(flavor), false) = (&flavor, start_paused) {
        if flavor.value() == "multi_thread" {
            error(syn::Error::new(
                flavor.span(),
                format!(
                    "`#[resilience::test]` runs `{}` on paused time, which needs the current-thread \
                     runtime: remove `flavor = \"multi_thread\"`, or add `start_paused = false` \
                     to run on the multi-thread runtime with the real clock",
                    function.sig.ident
                ),
            ));
        }
    }
    match errors {
        Some(errors) => Err(errors),
        None => Ok(TestArgs {
            krate: krate.unwrap_or_else(|| quote!(::resilience)),
            tokio,
            paused: !start_paused,
        }),
    }
}

/// Whether `meta` is `key = false`.
fn is_false(meta: &Meta) -> bool {
    matches!(
        meta,
        Meta::NameValue(nv) if matches!(&nv.value, Expr::Lit(ExprLit { lit: Lit::Bool(b), .. }) if !b.value)
    )
}

/// `crate = "path"`: the path, parsed.
fn crate_path(meta: &Meta) -> syn::Result<TokenStream> {
    let invalid = || {
        let span = match meta {
            Meta::NameValue(nv) => nv.value.span(),
            _ => meta.span(),
        };
        syn::Error::new(
            span,
            "write the `resilience` crate's path as a string: `crate = \"path::to::resilience\"`",
        )
    };
    let lit = string_value(meta).ok_or_else(invalid)?;
    let path: syn::Path = lit
        .parse()
        .map_err(|_| syn::Error::new(lit.span(), format!("`{}` is not a path", lit.value())))?;
    Ok(path.into_token_stream())
}

/// The string of `key = "value"`.
fn string_value(meta: &Meta) -> Option<LitStr> {
    match meta {
        Meta::NameValue(nv) => match &nv.value {
            Expr::Lit(ExprLit {
                lit: Lit::Str(lit), ..
            }) => Some(lit.clone()),
            _ => None,
        },
        _ => None,
    }
}

/// A test function is an `async fn` without arguments.
fn check(function: &ItemFn) -> syn::Result<()> {
    let sig = &function.sig;
    let mut errors: Option<syn::Error> = None;
    let mut error = |err: syn::Error| match &mut errors {
        Some(errors) => errors.combine(err),
        None => errors = Some(err),
    };
    if sig.asyncness.is_none() {
        error(syn::Error::new(
            sig.fn_token.span,
            "`#[resilience::test]` applies to `async fn` only; make this test `async`, or \
             write the standard `#[test]` for a synchronous one",
        ));
    }
    if !sig.inputs.is_empty() {
        error(syn::Error::new(
            sig.paren_token.span.join(),
            "a test takes no arguments: build what it needs in its body",
        ));
    }
    match errors {
        Some(errors) => Err(errors),
        None => Ok(()),
    }
}

/// `#[tokio::test(start_paused = true, ..)] async fn name() -> R { isolated(async move { body }).await }`,
/// with Tokio reached through `resilience` (so the test needs no `tokio` of its own).
fn isolated_test(mut function: ItemFn, args: TestArgs) -> TokenStream {
    let TestArgs {
        krate,
        tokio,
        paused,
    } = args;
    let tokio_path = quote!(#krate::testing::__tokio);
    let tokio_crate = LitStr::new(&tokio_path.to_string(), Span::call_site());
    let start_paused = if paused {
        quote!(start_paused = true,)
    } else {
        quote!()
    };
    // A block cannot carry inner attributes (`#![allow(..)]`): they move onto the function, as
    // `tokio::test` does with them.
    for attr in &mut function.attrs {
        attr.style = AttrStyle::Outer;
    }
    let attrs = &function.attrs;
    let vis = &function.vis;
    let sig = &function.sig;
    let stmts = &function.block.stmts;
    // The body's span on the new block, so that errors about it point into the test.
    let body = quote::quote_spanned!(function.block.brace_token.span.join()=>
        #krate::testing::isolated(async move { #(#stmts)* }).await
    );
    quote! {
        #[#tokio_path::test(#(#tokio,)* #start_paused crate = #tokio_crate)]
        #(#attrs)*
        #vis #sig {
            #body
        }
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use proptest::prelude::*;

    use super::*;

    fn expand_str(args: &str, item: &str) -> String {
        let parse = |text: &str| TokenStream::from_str(text).unwrap_or_default();
        expand(parse(args), parse(item)).to_string()
    }

    const TEST: &str = "async fn t() -> Result<(), E> { let x = f()?; Ok(x) }";

    #[test]
    fn paused_time_and_the_isolated_body_by_default() {
        let out = expand_str("", TEST);
        assert!(out.contains("start_paused = true"), "{out}");
        assert!(
            out.contains(r#"crate = ":: resilience :: testing :: __tokio""#),
            "{out}"
        );
        assert!(
            out.contains(":: resilience :: testing :: isolated (async move { let x = f () ? ; Ok (x) }) . await"),
            "{out}"
        );
        assert!(!out.contains("compile_error"), "{out}");
    }

    #[test]
    fn start_paused_false_is_dropped_and_other_arguments_pass_through() {
        let out = expand_str(
            r#"flavor = "multi_thread", worker_threads = 2, start_paused = false"#,
            TEST,
        );
        assert!(!out.contains("start_paused"), "{out}");
        assert!(
            out.contains(r#"flavor = "multi_thread" , worker_threads = 2 ,"#),
            "{out}"
        );
        assert!(!out.contains("compile_error"), "{out}");
    }

    #[test]
    fn the_arguments_and_the_function_are_checked_together() {
        let out = expand_str(r#"flavor = "multi_thread""#, "fn t(x: u32) {}");
        assert_eq!(out.matches("compile_error").count(), 3, "{out}");
    }

    #[test]
    fn a_renamed_crate_is_used_for_both_paths() {
        let out = expand_str(r#"crate = "my::policies""#, TEST);
        assert!(
            out.contains(r#"crate = "my :: policies :: testing :: __tokio""#),
            "{out}"
        );
        assert!(
            out.contains("my :: policies :: testing :: isolated"),
            "{out}"
        );
    }

    #[test]
    fn mistakes_are_errors_beside_the_unchanged_function() {
        for (args, item) in [
            ("", "fn t() {}"),
            ("", "async fn t(x: u32) {}"),
            (r#"flavor = "multi_thread""#, "async fn t() {}"),
            ("crate = 1", "async fn t() {}"),
            ("", "struct S;"),
            ("flavor = ", "async fn t() {}"),
        ] {
            let out = expand_str(args, item);
            assert!(out.contains("compile_error"), "{args} / {item}: {out}");
            assert!(!out.contains("isolated"), "{args} / {item}: {out}");
        }
    }

    proptest! {
        /// Whatever the text, the macro returns tokens (an error or an item) without panicking.
        #[test]
        fn never_panics(
            args in r#"(crate|flavor|start_paused|worker_threads|=|"x"|"multi_thread"|false|true|1|,| ){0,8}"#,
            item in r#"(async|fn|t|\(|\)|\{|\}|x|:|u32|->|Result|<|>|,|#|!|\[|\]| ){0,16}"#,
        ) {
            let _ = expand_str(&args, &item);
        }
    }
}
