//! Parsing and validation of each attribute's arguments into typed settings.

mod bulkhead;
mod circuit_breaker;
mod fallback;
mod rate_limit;
mod retry;
mod timeout;

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::time::Duration;

use proc_macro2::{Span, TokenStream};

use crate::args::{parse_args, Arg, Errors};

use crate::suggest;

pub(crate) use bulkhead::BulkheadArgs;
pub(crate) use circuit_breaker::{BreakerArgs, TripArg, WindowArg};
pub(crate) use fallback::FallbackArgs;
pub(crate) use rate_limit::RateLimitArgs;
pub(crate) use retry::{BackoffArg, JitterArg, RetryArgs};
pub(crate) use timeout::TimeoutArgs;

/// The attributes this crate provides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Retry,
    CircuitBreaker,
    Timeout,
    Bulkhead,
    RateLimit,
    Fallback,
}

impl Kind {
    pub(crate) const ALL: [Kind; 6] = [
        Kind::Retry,
        Kind::CircuitBreaker,
        Kind::Timeout,
        Kind::Bulkhead,
        Kind::RateLimit,
        Kind::Fallback,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::Retry => "retry",
            Kind::CircuitBreaker => "circuit_breaker",
            Kind::Timeout => "timeout",
            Kind::Bulkhead => "bulkhead",
            Kind::RateLimit => "rate_limit",
            Kind::Fallback => "fallback",
        }
    }

    /// Whether the policy can reject a call, so the function's error type needs
    /// `From<resilience::Error>`.
    pub(crate) fn rejects(self) -> bool {
        !matches!(self, Kind::Retry | Kind::Fallback)
    }

    /// Whether the body may run more than once, or the arguments are used after it: owned
    /// arguments are then cloned for the body, which borrows instead of moving.
    pub(crate) fn reuses_arguments(self) -> bool {
        matches!(self, Kind::Retry | Kind::Fallback)
    }
    /// The attribute's valid keys.
    pub(crate) fn keys(self) -> &'static [&'static str] {
        match self {
            Kind::Retry => retry::KEYS,
            Kind::CircuitBreaker => circuit_breaker::KEYS,
            Kind::Timeout => timeout::KEYS,
            Kind::Bulkhead => bulkhead::KEYS,
            Kind::RateLimit => rate_limit::KEYS,
            Kind::Fallback => fallback::KEYS,
        }
    }

    /// Names other libraries give the attribute's keys, with ours.
    pub(crate) fn renamed(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Kind::Retry => retry::RENAMED,
            Kind::CircuitBreaker => circuit_breaker::RENAMED,
            Kind::Timeout => timeout::RENAMED,
            Kind::Bulkhead => bulkhead::RENAMED,
            Kind::RateLimit => rate_limit::RENAMED,
            Kind::Fallback => fallback::RENAMED,
        }
    }
}

/// One attribute of the stack with its validated settings.
pub(crate) struct PolicyAttr {
    pub(crate) settings: Settings,
}

pub(crate) enum Settings {
    Retry(RetryArgs),
    CircuitBreaker(BreakerArgs),
    Timeout(TimeoutArgs),
    Bulkhead(BulkheadArgs),
    RateLimit(RateLimitArgs),
    Fallback(FallbackArgs),
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
    let mut set = ArgSet::new(
        kind.name(),
        &args,
        span,
        syntax_errors,
        kind.keys(),
        kind.renamed(),
    );
    let settings = match kind {
        Kind::Retry => retry::parse(&mut set).map(Settings::Retry),
        Kind::CircuitBreaker => circuit_breaker::parse(&mut set).map(Settings::CircuitBreaker),
        Kind::Timeout => timeout::parse(&mut set).map(Settings::Timeout),
        Kind::Bulkhead => bulkhead::parse(&mut set).map(Settings::Bulkhead),
        Kind::RateLimit => rate_limit::parse(&mut set).map(Settings::RateLimit),
        Kind::Fallback => fallback::parse(&mut set, head, span).map(Settings::Fallback),
    };
    match (settings, set.errors.into_error()) {
        (Some(settings), None) => Ok(PolicyAttr { settings }),
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
    /// `syntax_errors` are those of the arguments that did not parse; `renamed` maps the names
    /// other libraries give a setting to ours, for the "did you mean".
    fn new(
        attr: &'static str,
        args: &'a [Arg],
        span: Span,
        syntax_errors: Errors,
        known: &[&'static str],
        renamed: &[(&str, &'static str)],
    ) -> Self {
        let complete = syntax_errors.is_empty();
        let mut errors = syntax_errors;
        let mut by_key: HashMap<String, (usize, &'a Arg)> = HashMap::new();
        let mut suggested = Vec::new();
        for (position, arg) in args.iter().enumerate() {
            let key = arg.name();
            if !known.contains(&key.as_str()) {
                let (message, guess) = suggest::unknown_key(attr, &key, known, renamed);
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

    /// The optional `name = "..."`.
    pub(crate) fn name(&mut self) -> Option<String> {
        let arg = self.get("name")?;
        let (name, span) = self.errors.take(arg.string("\"api\""))?;
        if name.trim().is_empty() {
            self.errors.at(
                span,
                "`name` must not be empty: it is the policy's name in the registry, like `name = \"api\"`",
            );
            return None;
        }
        Some(name)
    }

    /// A whole number from `min` to `u32::MAX`.
    pub(crate) fn u32_at_least(
        &mut self,
        key: &str,
        min: u32,
        example: &str,
    ) -> Option<(u32, Span)> {
        let arg = self.get(key)?;
        self.errors.take(arg.u32_from(min, example))
    }

    /// A duration given as `key = "5s"` or `key_ms = 5000` (not both).
    pub(crate) fn duration(
        &mut self,
        key: &'static str,
        ms_key: &'static str,
    ) -> Option<(Duration, Span)> {
        if self.exclusive(key, ms_key, " (both set the same duration)") {
            return None;
        }
        if let Some(arg) = self.get(key) {
            return self.errors.take(arg.duration());
        }
        let arg = self.get(ms_key)?;
        self.errors.take(arg.duration_ms())
    }

    /// Like [`duration`](Self::duration), and rejects zero.
    pub(crate) fn positive_duration(
        &mut self,
        key: &'static str,
        ms_key: &'static str,
    ) -> Option<(Duration, Span)> {
        let (value, span) = self.duration(key, ms_key)?;
        if value.is_zero() {
            self.errors.at(
                span,
                format!("`{key}` must be longer than zero, like `{key} = \"500ms\"`"),
            );
            return None;
        }
        Some((value, span))
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
