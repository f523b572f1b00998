//! `#[resilient(...)]` arguments: `policy`, the name of a composite policy, and `crate`.
//!
//! A composite's settings live in the registry (`Registry::register_pipeline`, or a
//! configuration file's `[policy.NAME]`), not in the attribute: so `#[resilient]` has no keys in
//! the table of settings that the policies' attributes and the configuration loader share.

use proc_macro2::{Span, TokenStream};

use super::{crate_path, PolicyName, CRATE};
use crate::args::{lit_str, parse_args, Arg};
use crate::suggest;

const POLICY: &str = "policy";

/// The attribute's keys, in the order messages list them.
const KEYS: [&str; 2] = [POLICY, CRATE];

/// What other attributes and libraries call the composite's name.
const RENAMED: &[(&str, &str)] = &[
    ("name", POLICY),
    ("pipeline", POLICY),
    ("composite", POLICY),
];

/// Validated `#[resilient]` arguments.
pub(crate) struct ResilientArgs {
    /// The composite policy's registry name.
    pub(crate) policy: PolicyName,
    /// `crate = "path"`: the path of the runtime crate, if not `::resilience`.
    pub(crate) krate: Option<syn::Path>,
}

/// Parses and validates the arguments; every mistake is reported at once. `span` is the
/// attribute's, where an error about a missing `policy` points.
pub(crate) fn parse(args: TokenStream, span: Span) -> syn::Result<ResilientArgs> {
    let (args, mut errors) = parse_args(args);
    // A malformed argument, or an unknown key taken for `policy`, may be the missing `policy`:
    // its own error says what is wrong.
    let mut policy_may_be_written = !errors.is_empty();
    let mut policy = None;
    let mut krate = None;
    let mut seen: Vec<String> = Vec::new();
    for arg in &args {
        let key = arg.name();
        if !KEYS.contains(&key.as_str()) {
            let (message, guess) = suggest::unknown_key("resilient", &key, &KEYS, RENAMED);
            errors.at(arg.key.span(), message);
            policy_may_be_written |= guess == Some(POLICY);
            continue;
        }
        if seen.contains(&key) {
            errors.at(
                arg.key.span(),
                format!("duplicate `#[resilient]` argument `{key}`; give it once"),
            );
            continue;
        }
        seen.push(key);
        if arg.key == POLICY {
            policy_may_be_written = true;
            policy = errors.take(policy_name(arg));
        } else {
            krate = errors.take(crate_path(arg));
        }
    }
    if !policy_may_be_written {
        errors.at(
            span,
            "`#[resilient]` needs `policy`, the name of a composite policy in the registry: \
             `#[resilient(policy = \"payment-service\")]`",
        );
    }
    match (policy, errors.into_error()) {
        (Some(policy), None) => Ok(ResilientArgs { policy, krate }),
        (_, Some(err)) => Err(err),
        // Every path that leaves `policy` unset records why; kept total all the same.
        (None, None) => Err(syn::Error::new(span, "invalid `#[resilient]` arguments")),
    }
}

/// `policy = "name"`, or a `const` `&str` named in upper case (`policy = PAYMENTS`).
fn policy_name(arg: &Arg) -> syn::Result<PolicyName> {
    if let Some(name) = PolicyName::constant(arg) {
        return Ok(name);
    }
    let Some((name, span)) = arg.value.as_ref().and_then(lit_str) else {
        return Err(arg.value_error(
            "`policy` takes the name of a composite policy as a string, like \
             `policy = \"payment-service\"`, or a `const` of type `&str` named in upper case, \
             like `policy = PAYMENTS`",
        ));
    };
    if name.trim().is_empty() {
        return Err(syn::Error::new(
            span,
            format!(
                "`policy` = {name:?} is blank; name the composite policy, like \
                 `policy = \"payment-service\"`"
            ),
        ));
    }
    Ok(PolicyName::Literal(name))
}
