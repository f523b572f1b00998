//! The syntax every attribute shares: `key = value` pairs and bare flags, separated by commas,
//! with typed accessors whose errors are spanned on the offending token.

use proc_macro2::{Span, TokenStream};
use syn::parse::{Parse, ParseStream, Parser};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Expr, ExprLit, Ident, Lit, Token};

use crate::duration;

/// One argument: `key`, or `key = value`.
pub(crate) struct Arg {
    pub(crate) key: Ident,
    pub(crate) value: Option<Expr>,
}

impl Parse for Arg {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let key: Ident = input.call(syn::ext::IdentExt::parse_any).map_err(|err| {
            syn::Error::new(err.span(), "expected an argument: `key = value` or a flag")
        })?;
        let value = if input.peek(Token![=]) {
            input.parse::<Token![=]>()?;
            if input.is_empty() || input.peek(Token![,]) {
                return Err(input.error(format!("expected a value after `{key} =`")));
            }
            Some(input.parse::<Expr>()?)
        } else {
            None
        };
        Ok(Arg { key, value })
    }
}

/// Parses an attribute's argument list.
pub(crate) fn parse_args(tokens: TokenStream) -> syn::Result<Vec<Arg>> {
    let parser = Punctuated::<Arg, Token![,]>::parse_terminated;
    Ok(parser.parse2(tokens)?.into_iter().collect())
}

/// Collects independent errors so that one build reports them all.
#[derive(Default)]
pub(crate) struct Errors(Option<syn::Error>);

impl Errors {
    pub(crate) fn push(&mut self, err: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(err),
            None => self.0 = Some(err),
        }
    }

    pub(crate) fn at(&mut self, span: Span, message: impl std::fmt::Display) {
        self.push(syn::Error::new(span, message));
    }

    /// Runs an accessor, keeping its value or its error.
    pub(crate) fn take<T>(&mut self, result: syn::Result<T>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(err) => {
                self.push(err);
                None
            }
        }
    }

    pub(crate) fn finish(self) -> syn::Result<()> {
        match self.0 {
            Some(err) => Err(err),
            None => Ok(()),
        }
    }

    pub(crate) fn into_error(self) -> Option<syn::Error> {
        self.0
    }
}

impl Arg {
    pub(crate) fn name(&self) -> String {
        self.key.to_string()
    }

    fn value(&self, expected: &str) -> syn::Result<&Expr> {
        self.value.as_ref().ok_or_else(|| {
            syn::Error::new(
                self.key.span(),
                format!("`{}` needs a value: `{} = {expected}`", self.key, self.key),
            )
        })
    }

    /// A bare flag such as `jitter`: no value.
    pub(crate) fn is_flag(&self) -> bool {
        self.value.is_none()
    }

    pub(crate) fn span_of_value(&self) -> Span {
        self.value
            .as_ref()
            .map_or_else(|| self.key.span(), |value| value.span())
    }

    /// A non-negative integer that fits `u32`.
    pub(crate) fn u32(&self, example: &str) -> syn::Result<(u32, Span)> {
        let expr = self.value(example)?;
        match strip_group(expr) {
            Expr::Lit(ExprLit {
                lit: Lit::Int(int), ..
            }) => int
                .base10_parse::<u32>()
                .map(|n| (n, int.span()))
                .map_err(|_| {
                    syn::Error::new(
                        int.span(),
                        format!(
                            "`{}` must be a whole number from 0 to {}, like `{} = {example}`",
                            self.key,
                            u32::MAX,
                            self.key
                        ),
                    )
                }),
            other => Err(syn::Error::new(
                other.span(),
                format!(
                    "`{}` takes a whole number, like `{} = {example}`",
                    self.key, self.key
                ),
            )),
        }
    }

    /// A whole number of milliseconds (keys ending in `_ms`), or of seconds (`secs`).
    pub(crate) fn u64(&self, example: &str) -> syn::Result<(u64, Span)> {
        let expr = self.value(example)?;
        match strip_group(expr) {
            Expr::Lit(ExprLit {
                lit: Lit::Int(int), ..
            }) => int
                .base10_parse::<u64>()
                .map(|n| (n, int.span()))
                .map_err(|_| {
                    syn::Error::new(
                        int.span(),
                        format!(
                            "`{}` must be a whole number from 0 to {}, like `{} = {example}`",
                            self.key,
                            u64::MAX,
                            self.key
                        ),
                    )
                }),
            other => Err(syn::Error::new(
                other.span(),
                format!(
                    "`{}` takes a whole number, like `{} = {example}`",
                    self.key, self.key
                ),
            )),
        }
    }

    /// A number: a float or an integer literal.
    pub(crate) fn f64(&self, example: &str) -> syn::Result<(f64, Span)> {
        let expr = self.value(example)?;
        let parsed = match strip_group(expr) {
            Expr::Lit(ExprLit {
                lit: Lit::Float(float),
                ..
            }) => float.base10_parse::<f64>().ok().map(|n| (n, float.span())),
            Expr::Lit(ExprLit {
                lit: Lit::Int(int), ..
            }) => int.base10_parse::<f64>().ok().map(|n| (n, int.span())),
            _ => None,
        };
        parsed.ok_or_else(|| {
            syn::Error::new(
                expr.span(),
                format!("`{}` takes a number, like `{} = {example}`", self.key, self.key),
            )
        })
    }

    /// A string literal.
    pub(crate) fn string(&self, example: &str) -> syn::Result<(String, Span)> {
        let expr = self.value(example)?;
        match strip_group(expr) {
            Expr::Lit(ExprLit {
                lit: Lit::Str(s), ..
            }) => Ok((s.value(), s.span())),
            other => Err(syn::Error::new(
                other.span(),
                format!(
                    "`{}` takes a string, like `{} = {example}`",
                    self.key, self.key
                ),
            )),
        }
    }

    /// A path to a function, like `is_transient` or `errors::is_transient`.
    pub(crate) fn path(&self, example: &str) -> syn::Result<Expr> {
        let expr = self.value(example)?;
        match strip_group(expr) {
            Expr::Path(_) => Ok(expr.clone()),
            Expr::Lit(ExprLit {
                lit: Lit::Str(s), ..
            }) => Err(syn::Error::new(
                s.span(),
                format!(
                    "`{}` takes a path to a function, not a string: write `{} = {}`",
                    self.key,
                    self.key,
                    s.value()
                ),
            )),
            other => Err(syn::Error::new(
                other.span(),
                format!(
                    "`{}` takes a path to a function, like `{} = {example}`",
                    self.key, self.key
                ),
            )),
        }
    }

    /// A duration in human form: `"250ms"`, `"5s"`, `"1m30s"`.
    pub(crate) fn duration(&self) -> syn::Result<(std::time::Duration, Span)> {
        let example = "\"250ms\"";
        let expr = self.value(example)?;
        match strip_group(expr) {
            Expr::Lit(ExprLit {
                lit: Lit::Str(s), ..
            }) => duration::parse(&s.value())
                .map(|d| (d, s.span()))
                .map_err(|reason| {
                    syn::Error::new(
                        s.span(),
                        format!(
                            "`{}`: {reason}; write a duration like \"250ms\", \"5s\" or \"1m30s\", or `{}_ms = <milliseconds>`",
                            self.key, self.key
                        ),
                    )
                }),
            Expr::Lit(ExprLit {
                lit: Lit::Int(int), ..
            }) => Err(syn::Error::new(
                int.span(),
                format!(
                    "`{}` takes a duration string like \"{}ms\"; for a number of milliseconds write `{}_ms = {}`",
                    self.key,
                    int.base10_digits(),
                    self.key,
                    int.base10_digits()
                ),
            )),
            other => Err(syn::Error::new(
                other.span(),
                format!(
                    "`{}` takes a duration like \"250ms\", \"5s\" or \"1m30s\", or `{}_ms = <milliseconds>`",
                    self.key, self.key
                ),
            )),
        }
    }

    /// A whole number of milliseconds under a `<key>_ms` key.
    pub(crate) fn duration_ms(&self) -> syn::Result<(std::time::Duration, Span)> {
        self.u64("250")
            .map(|(ms, span)| (std::time::Duration::from_millis(ms), span))
    }
}

fn strip_group(expr: &Expr) -> &Expr {
    match expr {
        Expr::Group(group) => strip_group(&group.expr),
        Expr::Paren(paren) => strip_group(&paren.expr),
        other => other,
    }
}

/// Accepted value forms of a list argument such as `delays = ["100ms", "1s"]`.
pub(crate) fn array_elements(expr: &Expr) -> Option<Vec<&Expr>> {
    match strip_group(expr) {
        Expr::Array(array) => Some(array.elems.iter().collect()),
        _ => None,
    }
}

/// The literal string of an expression, if it is one.
pub(crate) fn lit_str(expr: &Expr) -> Option<(String, Span)> {
    match strip_group(expr) {
        Expr::Lit(ExprLit {
            lit: Lit::Str(s), ..
        }) => Some((s.value(), s.span())),
        _ => None,
    }
}

/// The literal integer of an expression, if it is one.
pub(crate) fn lit_u64(expr: &Expr) -> Option<(u64, Span)> {
    match strip_group(expr) {
        Expr::Lit(ExprLit {
            lit: Lit::Int(int), ..
        }) => int.base10_parse::<u64>().ok().map(|n| (n, int.span())),
        _ => None,
    }
}
