//! The macros never panic, whatever tokens they are given: arbitrary token trees (built from the
//! attributes' own vocabulary, so that many inputs get deep into validation) and arbitrary text
//! go through the argument parser, each attribute's validation, the duration parser and the whole
//! macro. Inputs that cannot be right must come back as errors.

use std::str::FromStr;

use proc_macro2::{Delimiter, Group, Ident, Literal, Punct, Spacing, Span, TokenStream, TokenTree};
use proptest::prelude::*;
use proptest::sample::select;

use crate::args::parse_args;
use crate::attrs::{self, Kind, KindExt};
use crate::{expand_attribute, expand_composite_attribute};

/// Every key of every attribute, some near misses, and words that matter elsewhere in an item.
fn words() -> Vec<&'static str> {
    let keys = Kind::ALL.into_iter().flat_map(KindExt::key_names);
    keys.chain(OTHER_WORDS.iter().copied()).collect()
}

/// Near misses and words of an item beside the attributes' keys.
const OTHER_WORDS: &[&str] = &[
    "max_atempts",
    "retries",
    "max_concurrent",
    "krate",
    "half_open_timout",
    "__resilience_stacked",
    "retry",
    "circuit_breaker",
    "timeout",
    "bulkhead",
    "resilient",
    "policy",
    "polcy",
    "resilience",
    "async",
    "fn",
    "const",
    "self",
    "Self",
    "impl",
    "Result",
    "Option",
    "T",
    "E",
    "where",
    "pub",
    "mut",
    "ref",
    "f",
    "x",
    "_",
];

const PUNCTS: &[char] = &[
    ',', '=', '-', ':', '#', '!', '<', '>', '&', '.', '\'', '?', '*', '+',
];

const STRINGS: &[&str] = &[
    "",
    " ",
    "250ms",
    "5s",
    "1m30s",
    "0s",
    "100",
    "fast",
    "exponential",
    "fixed",
    "linear",
    "none",
    "full",
    "equal",
    "decorrelated",
    "exponentail",
    "api",
    "18446744073709551615s",
    "99999999999999999999y",
    "1ns",
    "-1s",
    "1.5s",
    "\u{1F4A5}",
];

fn literal() -> impl Strategy<Value = Literal> {
    prop_oneof![
        any::<u64>().prop_map(Literal::u64_unsuffixed),
        (0u32..5).prop_map(Literal::u32_unsuffixed),
        any::<u128>().prop_map(Literal::u128_unsuffixed),
        (-1e12f64..1e12).prop_map(Literal::f64_unsuffixed),
        select(&[0.0, 0.5, 1.0, 1.5, 2.0, 1e300][..]).prop_map(Literal::f64_unsuffixed),
        select(STRINGS).prop_map(Literal::string),
        any::<String>().prop_map(|s| Literal::string(&s)),
        any::<char>().prop_map(Literal::character),
    ]
}

fn leaf() -> impl Strategy<Value = TokenTree> {
    prop_oneof![
        4 => select(words()).prop_map(|w| TokenTree::Ident(Ident::new(w, Span::call_site()))),
        3 => (select(PUNCTS), any::<bool>()).prop_map(|(c, joint)| {
            let spacing = if joint { Spacing::Joint } else { Spacing::Alone };
            TokenTree::Punct(Punct::new(c, spacing))
        }),
        3 => literal().prop_map(TokenTree::Literal),
    ]
}

fn token_tree() -> impl Strategy<Value = TokenTree> {
    leaf().prop_recursive(4, 48, 6, |inner| {
        (
            select(
                &[
                    Delimiter::Parenthesis,
                    Delimiter::Bracket,
                    Delimiter::Brace,
                    Delimiter::None,
                ][..],
            ),
            prop::collection::vec(inner, 0..6),
        )
            .prop_map(|(delimiter, trees)| {
                TokenTree::Group(Group::new(delimiter, trees.into_iter().collect()))
            })
    })
}

fn tokens() -> impl Strategy<Value = TokenStream> {
    prop::collection::vec(token_tree(), 0..12).prop_map(|trees| trees.into_iter().collect())
}

/// Argument lists that are mostly well-formed `key = value` pairs, so validation is exercised.
fn argument_list() -> impl Strategy<Value = TokenStream> {
    let value = prop_oneof![
        literal()
            .prop_map(TokenTree::Literal)
            .prop_map(|tree| vec![tree]),
        literal().prop_map(|lit| vec![
            TokenTree::Punct(Punct::new('-', Spacing::Alone)),
            TokenTree::Literal(lit)
        ]),
        prop::collection::vec(token_tree(), 1..3),
    ];
    let pair = (select(words()), prop::option::of(value), any::<bool>());
    prop::collection::vec(pair, 0..8).prop_map(|pairs| {
        let mut out = TokenStream::new();
        for (key, value, comma) in pairs {
            out.extend([TokenTree::Ident(Ident::new(key, Span::call_site()))]);
            if let Some(value) = value {
                out.extend([TokenTree::Punct(Punct::new('=', Spacing::Alone))]);
                out.extend(value);
            }
            if comma {
                out.extend([TokenTree::Punct(Punct::new(',', Spacing::Alone))]);
            }
        }
        out
    })
}

const ITEMS: &[&str] = &[
    "async fn f() -> Result<u32, E> { Ok(1) }",
    "pub async fn f(&self, x: String) -> Result<u32, E> where T: Clone { Ok(1) }",
    "async fn f<T: Clone>(x: T, (a, b): (u8, u8), _: &str) -> io::Result<T> { Ok(x) }",
    "#[retry(max_attempts = 0)] #[timeout] async fn f() -> Result<(), E> { Ok(()) }",
    "#[resilience::bulkhead] #[doc = \"x\"] async fn f(self: Arc<Self>) -> R { Ok(()) }",
    "#[resilient(policy = \"p\")] #[retry] async fn f(&mut self) -> Result<(), E> { Ok(()) }",
    "#[resilience::resilient] async fn f(x: impl Clone) -> Result<(), E> { Ok(()) }",
    "fn f() {}",
    "const fn f() -> (u8, u8) { (1, 2) }",
    "struct S;",
    "",
];

fn item() -> impl Strategy<Value = TokenStream> {
    prop_oneof![
        select(ITEMS).prop_map(|text| TokenStream::from_str(text).unwrap_or_default()),
        tokens(),
    ]
}

fn kind() -> impl Strategy<Value = Kind> {
    select(&Kind::ALL[..])
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 512,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn argument_parsing_never_panics(args in tokens()) {
        let _ = parse_args(args);
    }

    #[test]
    fn validation_never_panics(kind in kind(), args in prop_oneof![tokens(), argument_list()]) {
        let _ = attrs::parse(kind, args, Span::call_site());
    }

    #[test]
    fn the_whole_macro_never_panics(
        kind in kind(),
        args in prop_oneof![tokens(), argument_list()],
        item in item(),
    ) {
        let _ = expand_attribute(kind, args, item);
    }

    #[test]
    fn the_composite_macro_never_panics(
        args in prop_oneof![tokens(), argument_list()],
        item in item(),
    ) {
        let _ = attrs::parse_resilient(args.clone(), Span::call_site());
        let _ = expand_composite_attribute(args, item);
    }

    #[test]
    fn arbitrary_text_never_panics_the_composite(args in any::<String>(), item in any::<String>()) {
        if let (Ok(args), Ok(item)) = (TokenStream::from_str(&args), TokenStream::from_str(&item)) {
            let _ = expand_composite_attribute(args, item);
        }
    }

    /// `#[resilient]` without a valid `policy` is an error that keeps the function.
    #[test]
    fn a_composite_without_a_policy_is_an_error(args in argument_list()) {
        let args = quote::quote!(#args, no_such_key);
        let item = TokenStream::from_str(ITEMS[0]).unwrap_or_default();
        let out = expand_composite_attribute(args, item).to_string();
        prop_assert!(out.contains("compile_error"), "{}", out);
        prop_assert!(out.contains("async fn f"), "{}", out);
    }

    #[test]
    fn arbitrary_text_never_panics(kind in kind(), args in any::<String>(), item in any::<String>()) {
        let _ = resilience_settings::parse_duration(&args);
        if let (Ok(args), Ok(item)) = (TokenStream::from_str(&args), TokenStream::from_str(&item)) {
            let _ = attrs::parse(kind, args.clone(), Span::call_site());
            let _ = expand_attribute(kind, args, item);
        }
    }

    /// A key no attribute knows is always an error, whatever else is written.
    #[test]
    fn an_unknown_key_is_an_error(kind in kind(), args in argument_list(), at_end in any::<bool>()) {
        let unknown: TokenStream = "no_such_key = 1".parse().unwrap_or_default();
        let args = if at_end {
            quote::quote!(#args, #unknown)
        } else {
            quote::quote!(#unknown, #args)
        };
        prop_assert!(attrs::parse(kind, args, Span::call_site()).is_err());
    }

    /// Anything that is not a list of arguments is an error.
    #[test]
    fn stray_tokens_are_an_error(kind in kind(), args in tokens()) {
        let args = quote::quote!(= #args);
        prop_assert!(attrs::parse(kind, args, Span::call_site()).is_err());
    }

    /// A rejected attribute still emits the function, beside a `compile_error!`.
    #[test]
    fn errors_keep_the_item(kind in kind(), args in tokens()) {
        let args = quote::quote!(#args, no_such_key);
        let item = TokenStream::from_str(ITEMS[0]).unwrap_or_default();
        let out = expand_attribute(kind, args, item).to_string();
        prop_assert!(out.contains("compile_error"), "{}", out);
        prop_assert!(out.contains("async fn f"), "{}", out);
    }
}
