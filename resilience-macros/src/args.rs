//! The syntax every attribute shares: `key = value` pairs and bare flags, separated by commas,
//! with typed accessors whose errors are spanned on the offending token.

use proc_macro2::{Span, TokenStream};
use syn::parse::{Parse, ParseStream, Parser};
use syn::spanned::Spanned;
use syn::{Expr, ExprLit, Ident, Lit, Token};

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

/// Parses an attribute's argument list, recovering after a malformed argument: the arguments
/// that did parse are returned with the syntax errors, so validation can still report the
/// mistakes in the others in the same build.
pub(crate) fn parse_args(tokens: TokenStream) -> (Vec<Arg>, Errors) {
    let parser = |input: ParseStream<'_>| Ok(parse_all(input));
    // `parse_all` consumes every token and never fails, so neither can the parser.
    parser
        .parse2(tokens)
        .unwrap_or_else(|err| (Vec::new(), Errors::from(err)))
}

fn parse_all(input: ParseStream<'_>) -> (Vec<Arg>, Errors) {
    let mut args = Vec::new();
    let mut errors = Errors::default();
    while !input.is_empty() {
        match input.parse::<Arg>() {
            Ok(arg) => {
                if !input.is_empty() && !input.peek(Token![,]) {
                    let message = if arg.value.is_none() {
                        format!(
                            "expected `=` or `,` after `{key}`: write `{key} = <value>`",
                            key = arg.key
                        )
                    } else {
                        "expected `,` between two arguments".to_owned()
                    };
                    // The argument is malformed: validating it too would report it twice.
                    errors.at(input.span(), message);
                } else {
                    args.push(arg);
                }
            }
            Err(err) => errors.push(err),
        }
        skip_past_comma(input);
    }
    (args, errors)
}

/// Moves past the next top-level comma (commas inside brackets are inside a group).
fn skip_past_comma(input: ParseStream<'_>) {
    let skipped = input.step(|cursor| {
        let mut rest = *cursor;
        while let Some((tree, next)) = rest.token_tree() {
            rest = next;
            if matches!(&tree, proc_macro2::TokenTree::Punct(p) if p.as_char() == ',') {
                break;
            }
        }
        Ok(((), rest))
    });
    debug_assert!(skipped.is_ok());
}

/// Collects independent errors so that one build reports them all.
#[derive(Default)]
pub(crate) struct Errors(Option<syn::Error>);

impl From<syn::Error> for Errors {
    fn from(err: syn::Error) -> Self {
        Errors(Some(err))
    }
}

impl Errors {
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_none()
    }

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

    /// An error spanning the whole value (every token of `-1.5` or `["1s", "2s"]`), or the key
    /// of a flag.
    pub(crate) fn value_error(&self, message: impl std::fmt::Display) -> syn::Error {
        match &self.value {
            Some(value) => syn::Error::new_spanned(value, message),
            None => syn::Error::new(self.key.span(), message),
        }
    }

    /// A whole number, negative or beyond any integer type included: the caller checks the
    /// range (with the table's checks) and says what it is. Literals too large even for an
    /// `i128` come back as `i128::MAX`, which every range refuses.
    pub(crate) fn whole_number(&self, example: &str) -> syn::Result<(i128, Span)> {
        let key = &self.key;
        let expr = self.value(example)?;
        if let Some(number) = whole_number(expr) {
            return Ok((number, expr.span()));
        }
        match strip_group(expr) {
            Expr::Lit(ExprLit {
                lit: Lit::Str(s), ..
            }) if s.value().trim().parse::<i128>().is_ok() => Err(syn::Error::new(
                s.span(),
                format!(
                    "`{key}` takes a number, not a string: write `{key} = {}`",
                    s.value().trim()
                ),
            )),
            other => Err(syn::Error::new_spanned(
                other,
                format!("`{key}` takes a whole number, like `{key} = {example}`"),
            )),
        }
    }

    /// A whole number from 0 to `u64::MAX`: milliseconds or seconds of a duration.
    pub(crate) fn u64(&self, example: &str) -> syn::Result<u64> {
        let key = &self.key;
        let (value, _) = self.whole_number(example)?;
        u64::try_from(value).map_err(|_| {
            self.value_error(format!(
                "`{key}` must be a whole number from 0 to {}, like `{key} = {example}`",
                u64::MAX
            ))
        })
    }

    /// A number: a float or an integer literal, possibly negative (the caller checks the range
    /// and says what it is).
    pub(crate) fn f64(&self, example: &str) -> syn::Result<(f64, Span)> {
        let key = &self.key;
        let expr = self.value(example)?;
        if let Some(number) = number(expr) {
            return Ok((number, expr.span()));
        }
        Err(match strip_group(expr) {
            Expr::Lit(ExprLit {
                lit: Lit::Str(s), ..
            }) if s.value().trim().parse::<f64>().is_ok() => syn::Error::new(
                s.span(),
                format!(
                    "`{key}` takes a number, not a string: write `{key} = {}`",
                    s.value().trim()
                ),
            ),
            other => syn::Error::new_spanned(
                other,
                format!("`{key}` takes a number, like `{key} = {example}`"),
            ),
        })
    }

    /// A string literal.
    pub(crate) fn string(&self, example: &str) -> syn::Result<(String, Span)> {
        let expr = self.value(example)?;
        match strip_group(expr) {
            Expr::Lit(ExprLit {
                lit: Lit::Str(s), ..
            }) => Ok((s.value(), s.span())),
            other => Err(syn::Error::new_spanned(
                other,
                format!(
                    "`{}` takes a string, like `{} = {example}`",
                    self.key, self.key
                ),
            )),
        }
    }

    /// A flag: `true` when written alone (`critical`), else its `true` or `false` literal.
    pub(crate) fn flag(&self) -> syn::Result<bool> {
        let key = &self.key;
        let Some(expr) = &self.value else {
            return Ok(true);
        };
        match strip_group(expr) {
            Expr::Lit(ExprLit {
                lit: Lit::Bool(flag),
                ..
            }) => Ok(flag.value),
            Expr::Lit(ExprLit {
                lit: Lit::Str(s), ..
            }) if matches!(s.value().trim(), "true" | "false") => Err(syn::Error::new(
                s.span(),
                format!(
                    "`{key}` takes `true` or `false`, not a string: write `{key} = {}`",
                    s.value().trim()
                ),
            )),
            other => Err(syn::Error::new_spanned(
                other,
                format!(
                    "`{key}` is a flag: write `{key}` alone (the same as `{key} = true`), or `{key} = false`"
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
            other => Err(syn::Error::new_spanned(
                other,
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
            }) => resilience_settings::parse_duration(&s.value())
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
            other => Err(syn::Error::new_spanned(
                other,
                format!(
                    "`{}` takes a duration like \"250ms\", \"5s\" or \"1m30s\", or `{}_ms = <milliseconds>`",
                    self.key, self.key
                ),
            )),
        }
    }
}

/// The value of an integer literal, or of a negated one; `i128::MAX` (or `MIN`) past its range.
fn whole_number(expr: &Expr) -> Option<i128> {
    match strip_group(expr) {
        Expr::Lit(ExprLit {
            lit: Lit::Int(int), ..
        }) => Some(int.base10_parse::<i128>().unwrap_or(i128::MAX)),
        Expr::Unary(syn::ExprUnary {
            op: syn::UnOp::Neg(_),
            expr,
            ..
        }) => whole_number(expr).map(|n| n.checked_neg().unwrap_or(i128::MIN)),
        _ => None,
    }
}

/// The value of a numeric literal, or of a negated one.
fn number(expr: &Expr) -> Option<f64> {
    match strip_group(expr) {
        Expr::Lit(ExprLit {
            lit: Lit::Float(float),
            ..
        }) => float.base10_parse::<f64>().ok(),
        Expr::Lit(ExprLit {
            lit: Lit::Int(int), ..
        }) => int.base10_parse::<f64>().ok(),
        Expr::Unary(syn::ExprUnary {
            op: syn::UnOp::Neg(_),
            expr,
            ..
        }) => number(expr).map(|n| -n),
        _ => None,
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
