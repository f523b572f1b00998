//! Parsing and validation of each attribute's arguments into typed settings.

mod bulkhead;
mod chaos;
mod circuit_breaker;
mod fallback;
mod hedge;
mod rate_limit;
mod resilient;
mod retry;
mod timeout;

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::time::Duration;

use proc_macro2::{Span, TokenStream};
use resilience_settings::{Attribute, KeySpec, Problem, Rule, ValueKind};

use crate::args::{parse_args, Arg, Errors};
use crate::suggest;

pub(crate) use bulkhead::BulkheadArgs;
pub(crate) use chaos::ChaosArgs;
pub(crate) use circuit_breaker::{BreakerArgs, TripArg, WindowArg};
pub(crate) use fallback::{FallbackArgs, FallbackFn};
pub(crate) use hedge::HedgeArgs;
pub(crate) use rate_limit::RateLimitArgs;
pub(crate) use resilient::{parse as parse_resilient, ResilientArgs};
pub(crate) use retry::{BackoffArg, JitterArg, RetryArgs};
pub(crate) use timeout::TimeoutArgs;

/// The attributes this crate provides: the table's attributes, with what the macros add to them.
pub(crate) use resilience_settings::Attribute as Kind;

/// What the expansion needs to know of an attribute beyond the table of settings.
pub(crate) trait KindExt {
    /// Whether the policy can reject a call, so the function's error type needs
    /// `From<resilience::Error>`.
    fn rejects(self) -> bool;
    /// Whether the body may run more than once, or the arguments are used after it: owned
    /// arguments are then cloned for the body, which borrows instead of moving.
    fn reuses_arguments(self) -> bool;
    /// The attribute's valid keys: the table's, and `crate`, which only the macros take.
    fn key_names(self) -> Vec<&'static str>;
}

impl KindExt for Kind {
    fn rejects(self) -> bool {
        !matches!(
            self,
            Kind::Retry | Kind::Fallback | Kind::Hedge | Kind::RetryBudget
        )
    }

    fn reuses_arguments(self) -> bool {
        matches!(self, Kind::Retry | Kind::Fallback | Kind::Hedge)
    }

    fn key_names(self) -> Vec<&'static str> {
        let keyed = matches!(
            self,
            Kind::RateLimit | Kind::CircuitBreaker | Kind::Bulkhead
        )
        .then_some(KEY);
        self.keys()
            .iter()
            .map(|spec| spec.key)
            .chain(keyed)
            .chain([CRATE])
            .collect()
    }
}

/// `crate = "path"`: where the generated code finds the runtime crate when it is renamed or
/// re-exported. A key of every attribute, but no setting of a policy (a configuration file has
/// no use for it), so it is not in the table.
const CRATE: &str = "crate";

/// `key = <expression>`: a keyed policy, one state per value of the expression. Only the
/// macros take it (a file cannot give an expression), so it is not in the table.
pub(crate) const KEY: &str = "key";

/// `key = <expression>`: any expression; its type's bounds are checked where it expands.
pub(crate) fn key_expression(set: &mut ArgSet<'_>) -> Option<syn::Expr> {
    let arg = set.get(KEY)?;
    match &arg.value {
        Some(expr) => Some(expr.clone()),
        None => {
            set.errors.at(
                arg.key.span(),
                "`key` takes an expression of the function's arguments, like `key = user_id` or `key = req.client_ip()`",
            );
            None
        }
    }
}

/// The path of `crate = "path"`.
pub(crate) fn crate_path(arg: &Arg) -> syn::Result<syn::Path> {
    let message =
        "`crate` takes the path of the resilience crate as a string, like `crate = \"my_facade::resilience\"`";
    let Some((text, span)) = arg.value.as_ref().and_then(crate::args::lit_str) else {
        return Err(arg.value_error(message));
    };
    syn::parse_str::<syn::Path>(&text).map_err(|_| syn::Error::new(span, message))
}

/// `name = "api"` or `name = API` (a `const` `&str` path, checked by the compiler to be one).
pub(crate) enum PolicyName {
    Literal(String),
    Const(syn::Path),
}

impl PolicyName {
    /// The value as a constant's path, if it is one. A constant shared by the sites that name
    /// one policy makes a typo a compile error, not a second policy with default settings.
    /// Constants are named in upper case; a lower-case word is a string missing its quotes.
    pub(crate) fn constant(arg: &Arg) -> Option<PolicyName> {
        let Some(syn::Expr::Path(path)) = &arg.value else {
            return None;
        };
        let is_const = path.qself.is_none()
            && path.path.segments.last().is_some_and(|last| {
                let last = last.ident.to_string();
                !last.chars().any(|c| c.is_ascii_lowercase())
            });
        is_const.then(|| PolicyName::Const(path.path.clone()))
    }
}

impl quote::ToTokens for PolicyName {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        match self {
            PolicyName::Literal(name) => name.to_tokens(tokens),
            // `&str` by type, so that a constant of another type is an error on it.
            PolicyName::Const(path) => {
                tokens.extend(quote::quote_spanned!(syn::spanned::Spanned::span(path)=> {
                    let name: &'static str = #path;
                    name
                }));
            }
        }
    }
}

/// One attribute of the stack with its validated settings.
pub(crate) struct PolicyAttr {
    pub(crate) settings: Settings,
    /// `crate = "path"`: the path of the runtime crate, if not `::resilience`.
    pub(crate) krate: Option<syn::Path>,
}

pub(crate) enum Settings {
    Retry(RetryArgs),
    CircuitBreaker(BreakerArgs),
    Timeout(TimeoutArgs),
    Bulkhead(BulkheadArgs),
    RateLimit(RateLimitArgs),
    Fallback(FallbackArgs),
    Hedge(HedgeArgs),
    Chaos(ChaosArgs),
}

impl PolicyAttr {
    pub(crate) fn kind(&self) -> Kind {
        match self.settings {
            Settings::Retry(_) => Kind::Retry,
            Settings::CircuitBreaker(_) => Kind::CircuitBreaker,
            Settings::Timeout(_) => Kind::Timeout,
            Settings::Bulkhead(_) => Kind::Bulkhead,
            Settings::RateLimit(_) => Kind::RateLimit,
            Settings::Fallback(_) => Kind::Fallback,
            Settings::Hedge(_) => Kind::Hedge,
            Settings::Chaos(_) => Kind::Chaos,
        }
    }

    /// Whether this layer can fail a call with a `resilience::Error`: the function's error type
    /// then needs `From<resilience::Error>`. A chaos layer whose `error = path` builds the
    /// function's own error cannot.
    pub(crate) fn rejects(&self) -> bool {
        match &self.settings {
            Settings::Chaos(args) => args.error.is_none(),
            _ => self.kind().rejects(),
        }
    }
}

/// Parses and validates the arguments of one attribute. Every independent mistake is reported,
/// syntax errors included: a malformed argument does not hide the mistakes in the others.
pub(crate) fn parse(kind: Kind, args: TokenStream, span: Span) -> syn::Result<PolicyAttr> {
    let (head, args) = if kind == Kind::Fallback {
        fallback::split_leading_path(args)
    } else {
        (TokenStream::new(), args)
    };
    let (args, syntax_errors) = parse_args(args);
    let mut set = ArgSet::new(kind, &args, span, syntax_errors);
    set.exclusions();
    let settings = match kind {
        Kind::Retry => retry::parse(&mut set).map(Settings::Retry),
        Kind::CircuitBreaker => circuit_breaker::parse(&mut set).map(Settings::CircuitBreaker),
        Kind::Timeout => timeout::parse(&mut set).map(Settings::Timeout),
        Kind::Bulkhead => bulkhead::parse(&mut set).map(Settings::Bulkhead),
        Kind::RateLimit => rate_limit::parse(&mut set).map(Settings::RateLimit),
        Kind::Fallback => fallback::parse(&mut set, head, span).map(Settings::Fallback),
        Kind::Hedge => hedge::parse(&mut set).map(Settings::Hedge),
        Kind::Chaos => chaos::parse(&mut set).map(Settings::Chaos),
        // No attribute macro has these settings; kept total.
        Kind::RetryBudget => {
            set.errors.at(
                span,
                "a retry budget has no attribute: name one with `#[retry(budget = \"api\")]`",
            );
            None
        }
    };
    let krate = set.krate();
    match (settings, set.errors.into_error()) {
        (Some(settings), None) => Ok(PolicyAttr { settings, krate }),
        (_, Some(err)) => Err(err),
        // Every path that gives up records why; this only guards against a silent failure.
        (None, None) => Err(syn::Error::new(
            span,
            format!("invalid `#[{}]` arguments", kind.name()),
        )),
    }
}

/// The arguments of one attribute by key, after rejecting unknown and repeated keys.
pub(crate) struct ArgSet<'a> {
    attr: &'static str,
    attribute: Attribute,
    /// Each known key's argument and its position in the list.
    by_key: HashMap<String, (usize, &'a Arg)>,
    /// The attribute, where an error about a missing key points.
    span: Span,
    /// Whether every argument parsed; if not, a "missing" key may be the malformed one.
    complete: bool,
    /// The keys that "did you mean" proposed for unknown ones.
    suggested: Vec<&'static str>,
    pub(crate) errors: Errors,
}

impl<'a> ArgSet<'a> {
    /// `syntax_errors` are those of the arguments that did not parse.
    fn new(kind: Kind, args: &'a [Arg], span: Span, syntax_errors: Errors) -> Self {
        let attr = kind.name();
        let known = kind.key_names();
        // `#[chaos]` knows `enabled` only to say where it belongs (run time), not to offer it.
        let listed: Vec<&'static str> = known
            .iter()
            .copied()
            .filter(|key| !(kind == Kind::Chaos && *key == resilience_settings::chaos::ENABLED.key))
            .collect();
        // The names other libraries give a setting, for the "did you mean".
        let renamed = kind.renamed();
        let complete = syntax_errors.is_empty();
        let mut errors = syntax_errors;
        let mut by_key: HashMap<String, (usize, &'a Arg)> = HashMap::new();
        let mut suggested = Vec::new();
        for (position, arg) in args.iter().enumerate() {
            let key = arg.name();
            if !known.contains(&key.as_str()) {
                let (message, guess) = suggest::unknown_key(attr, &key, &listed, renamed);
                errors.at(arg.key.span(), message);
                suggested.extend(guess);
                continue;
            }
            match by_key.entry(key) {
                Entry::Occupied(entry) => errors.at(
                    arg.key.span(),
                    format!(
                        "duplicate `#[{attr}]` argument `{}`; give it once",
                        entry.key()
                    ),
                ),
                Entry::Vacant(entry) => {
                    entry.insert((position, arg));
                }
            }
        }
        ArgSet {
            attr,
            attribute: kind,
            by_key,
            span,
            complete,
            suggested,
            errors,
        }
    }

    pub(crate) fn get(&self, key: &str) -> Option<&'a Arg> {
        self.by_key.get(key).map(|(_, arg)| *arg)
    }

    /// The arguments given among `keys`, in the order they are written.
    pub(crate) fn given(&self, keys: &[&str]) -> Vec<&'a Arg> {
        let mut given: Vec<(usize, &'a Arg)> = keys
            .iter()
            .filter_map(|key| self.by_key.get(*key).copied())
            .collect();
        given.sort_by_key(|(position, _)| *position);
        given.into_iter().map(|(_, arg)| arg).collect()
    }

    /// Reports `a` and `b` as mutually exclusive when both are given: the error names both and
    /// points at the one written second. `why` completes the message.
    pub(crate) fn exclusive(&mut self, a: &str, b: &str, why: &str) -> bool {
        let (Some(&(pa, arg_a)), Some(&(pb, arg_b))) = (self.by_key.get(a), self.by_key.get(b))
        else {
            return false;
        };
        let (first, second) = if pa < pb {
            (arg_a, arg_b)
        } else {
            (arg_b, arg_a)
        };
        let attr = self.attr;
        self.errors.at(
            second.key.span(),
            format!(
                "`#[{attr}]`: `{}` cannot be combined with `{}`{why}; keep one of them",
                second.key, first.key
            ),
        );
        true
    }

    /// The optional `name = "..."`, checked by the table.
    pub(crate) fn name(&mut self) -> Option<PolicyName> {
        let arg = self.get("name")?;
        if let Some(name) = PolicyName::constant(arg) {
            return Some(name);
        }
        let Some((name, span)) = arg.value.as_ref().and_then(crate::args::lit_str) else {
            self.errors.push(arg.value_error(
                "`name` takes a string, like `name = \"api\"`, or a `const` of type `&str` named in upper case, like `name = PAYMENTS`",
            ));
            return None;
        };
        match resilience_settings::check_name(&name) {
            Ok(()) => Some(PolicyName::Literal(name)),
            Err(problem) => {
                self.errors.at(span, problem);
                None
            }
        }
    }

    /// The optional `crate = "path"`.
    fn krate(&mut self) -> Option<syn::Path> {
        let arg = self.get(CRATE)?;
        self.errors.take(crate_path(arg))
    }

    /// Reports every exclusion of the table among the keys written: two settings that exclude
    /// each other, or two spellings of one setting (`delay` and `delay_ms`).
    fn exclusions(&mut self) {
        let attribute = self.attribute;
        for exclusion in attribute.exclusions() {
            for first in attribute.spellings(exclusion.first.setting) {
                for second in attribute.spellings(exclusion.second.setting) {
                    self.exclusive(first.key, second.key, exclusion.why);
                }
            }
        }
        // `#[timeout]` words its own message for its three spellings of one duration.
        if attribute == Attribute::Timeout {
            return;
        }
        for (i, first) in attribute.keys().iter().enumerate() {
            for second in &attribute.keys()[i + 1..] {
                if first.setting == second.setting {
                    self.exclusive(first.key, second.key, " (both set the same duration)");
                }
            }
        }
    }

    /// The spellings of `setting`: `delay` and `delay_ms`.
    pub(crate) fn spellings(&self, setting: &str) -> Vec<&'static str> {
        self.attribute
            .spellings(setting)
            .map(|spec| spec.key)
            .collect()
    }

    /// The written argument of `setting`, in whichever spelling, with that spelling's entry.
    fn written(&self, setting: &str) -> Option<(&'a Arg, &'static KeySpec)> {
        self.attribute
            .spellings(setting)
            .find_map(|spec| self.get(spec.key).map(|arg| (arg, spec)))
    }

    /// A whole number for `spec`, in its range.
    pub(crate) fn count(&mut self, spec: &'static KeySpec) -> Option<u32> {
        let arg = self.get(spec.key)?;
        let (value, _) = self.errors.take(arg.whole_number(spec.example))?;
        self.checked(arg, spec.check_count(value))
    }

    /// A number for `spec`, in its range.
    pub(crate) fn number(&mut self, spec: &'static KeySpec) -> Option<f64> {
        let arg = self.get(spec.key)?;
        let (value, _) = self.errors.take(arg.f64(spec.example))?;
        self.checked(arg, spec.check_number(value))
    }

    /// The duration of the setting `spec` in whichever spelling is written (`"5s"`, or a number
    /// of milliseconds under `<key>_ms`), in its range. Two spellings are reported by
    /// [`exclusions`](Self::exclusions); the first is read.
    pub(crate) fn duration(&mut self, spec: &'static KeySpec) -> Option<Duration> {
        let (arg, written) = self.written(spec.setting)?;
        let value = match written.value {
            ValueKind::Milliseconds { .. } => self
                .errors
                .take(arg.u64(written.example))
                .map(Duration::from_millis),
            ValueKind::Seconds { .. } => self
                .errors
                .take(arg.u64(written.example))
                .map(Duration::from_secs),
            _ => self.errors.take(arg.duration()).map(|(value, _)| value),
        }?;
        self.checked(arg, written.check_duration(value))
    }

    /// Keeps a checked value, or reports its problem on the value's tokens.
    fn checked<T>(&mut self, arg: &Arg, checked: Result<T, Problem>) -> Option<T> {
        match checked {
            Ok(value) => Some(value),
            Err(problem) => {
                self.errors.push(arg.value_error(problem));
                None
            }
        }
    }

    /// Reports the problems the table's checks found across keys, each on the key it blames.
    /// `given` are the settings read into the checked values: one written but not given failed
    /// to parse and has its own error already, so a verdict made without it is dropped rather
    /// than made with a default in its place. Exclusions were reported in the order written.
    pub(crate) fn report(&mut self, problems: Vec<Problem>, given: &[&str]) {
        let failed = |setting: &&str| !given.contains(setting) && self.written(setting).is_some();
        let problems: Vec<Problem> = problems
            .into_iter()
            .filter(|problem| !matches!(problem.rule(), Rule::Excludes { .. }))
            .filter(|problem| {
                !failed(&problem.spec().setting) && !problem.involves().iter().any(failed)
            })
            .collect();
        for problem in problems {
            let Some((arg, written)) = self.written(problem.spec().setting) else {
                if *problem.rule() == Rule::Required {
                    self.missing_setting(problem.spec());
                } else {
                    // Every rule blames a key that was written; kept total all the same.
                    self.errors.at(self.span, problem);
                }
                continue;
            };
            match problem.rule() {
                Rule::NeedsFailureRate | Rule::DelayWithoutBackoff | Rule::Required => {
                    self.errors.at(arg.key.span(), problem);
                }
                _ => self
                    .errors
                    .push(arg.value_error(problem.spelled_as(written))),
            }
        }
    }

    /// Reports a required setting that is not written, in any spelling.
    fn missing_setting(&mut self, spec: &'static KeySpec) {
        let attr = self.attr;
        let spellings: Vec<&'static KeySpec> = self.attribute.spellings(spec.setting).collect();
        let message = match spellings.as_slice() {
            [only] => format!(
                "`#[{attr}]` needs `{}`, {}: `#[{attr}({} = {})]`",
                only.key, only.doc, only.key, only.example
            ),
            [init @ .., last] => format!(
                "`#[{attr}]` needs a {}: {} or `#[{attr}({} = {})]`",
                spec.setting,
                init.iter()
                    .map(|s| format!("`#[{attr}({} = {})]`", s.key, s.example))
                    .collect::<Vec<_>>()
                    .join(", "),
                last.key,
                last.example
            ),
            [] => format!("`#[{attr}]` needs `{}`", spec.key),
        };
        let keys: Vec<&str> = spellings.iter().map(|s| s.key).collect();
        self.missing(&keys, message);
    }

    /// A flag for `spec`: `true` when written alone, else the `bool` given.
    pub(crate) fn flag(&mut self, spec: &'static KeySpec) -> Option<bool> {
        let arg = self.get(spec.key)?;
        self.errors.take(arg.flag())
    }

    /// The name of another policy for `spec` (`budget = "api"`): a non-blank string.
    pub(crate) fn reference(&mut self, spec: &'static KeySpec) -> Option<String> {
        let arg = self.get(spec.key)?;
        let Some((text, span)) = arg.value.as_ref().and_then(crate::args::lit_str) else {
            self.errors.push(arg.value_error(format!(
                "`{}` takes a name as a string, like `{} = {}`",
                spec.key, spec.key, spec.example
            )));
            return None;
        };
        if text.trim().is_empty() {
            self.errors.at(
                span,
                format!(
                    "`{}` must be {}, like `{} = {}`",
                    spec.key, spec.allowed, spec.key, spec.example
                ),
            );
            return None;
        }
        Some(text)
    }

    pub(crate) fn path(&mut self, key: &str, example: &str) -> Option<syn::Expr> {
        let arg = self.get(key)?;
        self.errors.take(arg.path(example))
    }

    /// Reports that none of `keys` is given, on the attribute itself; unless an argument failed
    /// to parse or an unknown key was taken for one of them: the error about that argument
    /// already says what is wrong.
    pub(crate) fn missing(&mut self, keys: &[&str], message: impl std::fmt::Display) {
        if self.complete && !self.suggested.iter().any(|key| keys.contains(key)) {
            self.errors.at(self.span, message);
        }
    }
}
