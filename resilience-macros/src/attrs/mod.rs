//! Parsing and validation of each attribute's arguments into typed settings.

mod bulkhead;
mod circuit_breaker;
mod retry;
mod timeout;

use std::collections::HashMap;
use std::time::Duration;

use proc_macro2::{Span, TokenStream};

use crate::args::{parse_args, Arg, Errors};
use crate::suggest;

pub(crate) use bulkhead::BulkheadArgs;
pub(crate) use circuit_breaker::{BreakerArgs, TripArg, WindowArg};
pub(crate) use retry::{BackoffArg, JitterArg, RetryArgs};
pub(crate) use timeout::TimeoutArgs;

/// The attributes this crate provides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Retry,
    CircuitBreaker,
    Timeout,
    Bulkhead,
}

impl Kind {
    pub(crate) const ALL: [Kind; 4] = [
        Kind::Retry,
        Kind::CircuitBreaker,
        Kind::Timeout,
        Kind::Bulkhead,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::Retry => "retry",
            Kind::CircuitBreaker => "circuit_breaker",
            Kind::Timeout => "timeout",
            Kind::Bulkhead => "bulkhead",
        }
    }

    /// Whether the policy can reject a call, so the function's error type needs
    /// `From<resilience::Error>`.
    pub(crate) fn rejects(self) -> bool {
        !matches!(self, Kind::Retry)
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
}

impl PolicyAttr {
    pub(crate) fn kind(&self) -> Kind {
        match self.settings {
            Settings::Retry(_) => Kind::Retry,
            Settings::CircuitBreaker(_) => Kind::CircuitBreaker,
            Settings::Timeout(_) => Kind::Timeout,
            Settings::Bulkhead(_) => Kind::Bulkhead,
        }
    }
}

/// Parses and validates the arguments of one attribute. Every independent mistake is reported.
pub(crate) fn parse(kind: Kind, args: TokenStream, span: Span) -> syn::Result<PolicyAttr> {
    let args = parse_args(args)?;
    let settings = match kind {
        Kind::Retry => Settings::Retry(retry::parse(&args, span)?),
        Kind::CircuitBreaker => Settings::CircuitBreaker(circuit_breaker::parse(&args, span)?),
        Kind::Timeout => Settings::Timeout(timeout::parse(&args, span)?),
        Kind::Bulkhead => Settings::Bulkhead(bulkhead::parse(&args, span)?),
    };
    Ok(PolicyAttr { settings })
}

/// The arguments of one attribute by key, after rejecting unknown and repeated keys.
pub(crate) struct ArgSet<'a> {
    attr: &'static str,
    by_key: HashMap<String, &'a Arg>,
    pub(crate) errors: Errors,
}

impl<'a> ArgSet<'a> {
    pub(crate) fn new(attr: &'static str, args: &'a [Arg], known: &[&'static str]) -> Self {
        let mut errors = Errors::default();
        let mut by_key: HashMap<String, &'a Arg> = HashMap::new();
        for arg in args {
            let key = arg.name();
            if !known.contains(&key.as_str()) {
                errors.at(arg.key.span(), suggest::unknown_key(attr, &key, known));
            } else if by_key.contains_key(&key) {
                errors.at(
                    arg.key.span(),
                    format!("duplicate `#[{attr}]` argument `{key}`; give it once"),
                );
            } else {
                by_key.insert(key, arg);
            }
        }
        ArgSet {
            attr,
            by_key,
            errors,
        }
    }

    pub(crate) fn get(&self, key: &str) -> Option<&'a Arg> {
        self.by_key.get(key).copied()
    }

    /// Reports `second` as excluded by `first` when both are given; spanned on `second`.
    pub(crate) fn exclusive(&mut self, first: &str, second: &str) -> bool {
        if let (Some(_), Some(b)) = (self.get(first), self.get(second)) {
            let attr = self.attr;
            self.errors.at(
                b.key.span(),
                format!("`#[{attr}]`: `{second}` cannot be combined with `{first}`; keep one of them"),
            );
            return true;
        }
        false
    }

    /// The optional `name = "..."`.
    pub(crate) fn name(&mut self) -> Option<String> {
        let arg = self.get("name")?;
        let (name, span) = self.errors.take(arg.string("\"api\""))?;
        if name.trim().is_empty() {
            self.errors.at(span, "`name` must not be empty");
            return None;
        }
        Some(name)
    }

    pub(crate) fn u32_at_least(&mut self, key: &str, min: u32, example: &str) -> Option<(u32, Span)> {
        let arg = self.get(key)?;
        let (value, span) = self.errors.take(arg.u32(example))?;
        if value < min {
            self.errors.at(
                span,
                format!("`{key}` must be at least {min}, like `{key} = {example}`"),
            );
            return None;
        }
        Some((value, span))
    }

    /// A duration given as `key = "5s"` or `key_ms = 5000` (not both).
    pub(crate) fn duration(&mut self, key: &'static str, ms_key: &'static str) -> Option<(Duration, Span)> {
        self.exclusive(key, ms_key);
        if let Some(arg) = self.get(key) {
            return self.errors.take(arg.duration());
        }
        let arg = self.get(ms_key)?;
        self.errors.take(arg.duration_ms())
    }

    /// Like [`duration`](Self::duration), and rejects zero.
    pub(crate) fn positive_duration(&mut self, key: &'static str, ms_key: &'static str) -> Option<(Duration, Span)> {
        let (value, span) = self.duration(key, ms_key)?;
        if value.is_zero() {
            self.errors.at(span, format!("`{key}` must be longer than zero"));
            return None;
        }
        Some((value, span))
    }

    pub(crate) fn path(&mut self, key: &str, example: &str) -> Option<syn::Expr> {
        let arg = self.get(key)?;
        self.errors.take(arg.path(example))
    }

    pub(crate) fn finish<T>(self, value: T) -> syn::Result<T> {
        self.errors.finish().map(|()| value)
    }

    /// Reports a missing required key on the attribute itself.
    pub(crate) fn missing(&mut self, span: Span, message: impl std::fmt::Display) {
        self.errors.at(span, message);
    }
}
