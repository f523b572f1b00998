//! The attributes accept exactly what the shared checks of `resilience-settings` accept: random
//! settings are written out as `key = value` arguments, in any of their spellings, and the
//! attribute's validation must agree with the checks the runtime builders run. Then the new keys
//! (`crate`, `half_open_timeout`) and the cases that once disagreed.

use std::str::FromStr;
use std::time::Duration;

use proc_macro2::{Span, TokenStream};
use proptest::prelude::*;
use proptest::sample::select;
use resilience_settings::bulkhead::BulkheadSettings;
use resilience_settings::circuit_breaker::{BreakerSettings, Window};
use resilience_settings::rate_limit::{RateLimitSettings, MAX_REFILL};
use resilience_settings::retry::{self, BackoffStrategy, JitterStrategy, RetrySettings};
use resilience_settings::timeout::TimeoutSettings;
use resilience_settings::{check_name, Attribute, ValueKind};

use crate::attrs::{self, Kind, PolicyAttr, Settings};

fn duration() -> impl Strategy<Value = Duration> {
    prop_oneof![
        Just(Duration::ZERO),
        (0u64..=60_000).prop_map(Duration::from_millis),
        any::<u64>().prop_map(Duration::from_nanos),
        any::<u64>().prop_map(Duration::from_secs),
        (any::<u64>(), 0u32..1_000_000_000).prop_map(|(secs, nanos)| Duration::new(secs, nanos)),
        Just(Duration::MAX),
        (0u64..=2).prop_map(|n| MAX_REFILL - Duration::from_nanos(1) + Duration::from_nanos(n)),
    ]
}

fn count() -> impl Strategy<Value = u32> {
    prop_oneof![
        Just(0u32),
        Just(1u32),
        0u32..=200,
        any::<u32>(),
        Just(u32::MAX)
    ]
}

/// Finite numbers only: a literal cannot be NaN or infinite (the builders' test covers those).
fn float() -> impl Strategy<Value = f64> {
    prop_oneof![
        -2.0f64..3.0,
        any::<f64>().prop_filter("finite", |f| f.is_finite()),
        Just(0.0),
        Just(-0.0),
        Just(1.0),
        Just(1.0 + f64::EPSILON),
        Just(f64::MIN_POSITIVE),
    ]
}

fn some<T: std::fmt::Debug + Clone>(
    value: impl Strategy<Value = T>,
) -> impl Strategy<Value = Option<T>> {
    prop::option::weighted(0.6, value)
}

fn name() -> impl Strategy<Value = Option<String>> {
    prop::option::weighted(0.3, "[ \t]{0,2}|[a-z:\" ]{1,8}")
}

/// The arguments written out, in a random order.
#[derive(Debug, Default)]
struct Written(Vec<String>);

impl Written {
    fn push(&mut self, argument: String) {
        self.0.push(argument);
    }

    /// A duration in one of the spellings that say it exactly: `key = "…s …ns"`, or
    /// `key_ms = …` when it is whole milliseconds and `prefer_ms` says so.
    fn duration(&mut self, key: &str, value: Duration, prefer_ms: bool) {
        let millis = (value.subsec_nanos() % 1_000_000 == 0)
            .then(|| value.as_secs().checked_mul(1000))
            .flatten()
            .and_then(|ms| ms.checked_add(u64::from(value.subsec_millis())));
        match millis {
            Some(ms) if prefer_ms => self.push(format!("{key}_ms = {ms}")),
            _ => self.push(format!(
                "{key} = \"{}s {}ns\"",
                value.as_secs(),
                value.subsec_nanos()
            )),
        }
    }

    fn name(&mut self, name: &Option<String>) {
        if let Some(name) = name {
            self.push(format!("name = {name:?}"));
        }
    }

    fn tokens(mut self, order: &[usize]) -> TokenStream {
        let mut shuffled = Vec::with_capacity(self.0.len());
        for &index in order {
            if !self.0.is_empty() {
                shuffled.push(self.0.remove(index % self.0.len()));
            }
        }
        shuffled.append(&mut self.0);
        TokenStream::from_str(&shuffled.join(", ")).unwrap_or_default()
    }
}

fn number(value: f64) -> String {
    // `{:?}` writes the shortest text that reads back as the same `f64`.
    format!("{value:?}")
}

fn order() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(any::<usize>(), 0..12)
}

fn parse(kind: Kind, tokens: TokenStream) -> syn::Result<PolicyAttr> {
    attrs::parse(kind, tokens, Span::call_site())
}

/// The verdicts agree; on disagreement, say what was written and why each side decided.
fn agree(
    kind: Kind,
    tokens: TokenStream,
    checked: Result<(), resilience_settings::Problem>,
    name: &Option<String>,
) -> Result<(), TestCaseError> {
    let written = tokens.to_string();
    let parsed = parse(kind, tokens);
    let checked = checked.and_then(|()| name.as_deref().map_or(Ok(()), check_name));
    match (&parsed, &checked) {
        (Ok(_), Ok(())) | (Err(_), Err(_)) => Ok(()),
        (Ok(_), Err(problem)) => Err(TestCaseError::fail(format!(
            "#[{}({written})] compiles, but the checks refuse it: {problem}",
            kind.name()
        ))),
        (Err(error), Ok(())) => Err(TestCaseError::fail(format!(
            "#[{}({written})] is refused ({error}), but the checks accept it",
            kind.name()
        ))),
    }
}

fn retry_settings() -> impl Strategy<Value = (RetrySettings, Vec<bool>)> {
    let strategy = prop_oneof![
        Just(BackoffStrategy::Exponential),
        Just(BackoffStrategy::Fixed),
        Just(BackoffStrategy::Linear),
        Just(BackoffStrategy::None),
    ];
    let jitter = prop_oneof![
        float().prop_map(JitterStrategy::Proportional),
        Just(JitterStrategy::Proportional(retry::DEFAULT_JITTER_FRACTION)),
        Just(JitterStrategy::Full),
        Just(JitterStrategy::Equal),
        Just(JitterStrategy::Decorrelated),
    ];
    (
        (
            some(count()),
            some(strategy),
            some(duration()),
            some(float()),
            some(duration()),
        ),
        (
            prop::option::weighted(0.2, prop::collection::vec(duration(), 0..4)),
            prop::bool::weighted(0.1),
            some(jitter),
            some(duration()),
        ),
        prop::collection::vec(any::<bool>(), 4),
    )
        .prop_map(
            |(
                (max_attempts, backoff, delay, factor, max_delay),
                (delays, backoff_fn, jitter, max_elapsed),
                spelling,
            )| {
                let settings = RetrySettings {
                    max_attempts,
                    backoff,
                    delay,
                    factor,
                    max_delay,
                    delays,
                    backoff_fn,
                    jitter,
                    max_elapsed,
                };
                (settings, spelling)
            },
        )
}

fn write_retry(settings: &RetrySettings, spelling: &[bool]) -> Written {
    let ms = |i: usize| spelling.get(i).copied().unwrap_or(false);
    let mut written = Written::default();
    if let Some(n) = settings.max_attempts {
        written.push(format!("max_attempts = {n}"));
    }
    if let Some(strategy) = settings.backoff {
        written.push(format!("backoff = {:?}", strategy.name()));
    }
    if let Some(delay) = settings.delay {
        written.duration("delay", delay, ms(0));
    }
    if let Some(factor) = settings.factor {
        written.push(format!("factor = {}", number(factor)));
    }
    if let Some(max_delay) = settings.max_delay {
        written.duration("max_delay", max_delay, ms(1));
    }
    if let Some(delays) = &settings.delays {
        let entries: Vec<String> = delays
            .iter()
            .map(|d| format!("\"{}s {}ns\"", d.as_secs(), d.subsec_nanos()))
            .collect();
        written.push(format!("delays = [{}]", entries.join(", ")));
    }
    if settings.backoff_fn {
        written.push("backoff_fn = my_schedule".to_owned());
    }
    match settings.jitter {
        Some(JitterStrategy::Proportional(f)) if f == retry::DEFAULT_JITTER_FRACTION && ms(2) => {
            written.push("jitter".to_owned());
        }
        Some(JitterStrategy::Proportional(f)) => written.push(format!("jitter = {}", number(f))),
        Some(JitterStrategy::Full) => written.push("jitter = \"full\"".to_owned()),
        Some(JitterStrategy::Equal) => written.push("jitter = \"equal\"".to_owned()),
        Some(JitterStrategy::Decorrelated) => written.push("jitter = \"decorrelated\"".to_owned()),
        None => {}
    }
    if let Some(max_elapsed) = settings.max_elapsed {
        written.duration("max_elapsed", max_elapsed, ms(3));
    }
    written
}

fn breaker_settings() -> impl Strategy<Value = (BreakerSettings, Vec<bool>)> {
    let window = prop_oneof![
        count().prop_map(Window::Calls),
        duration().prop_map(Window::Time),
    ];
    (
        (some(count()), some(float()), some(window), some(count())),
        (
            some(duration()),
            some(count()),
            some(count()),
            some(duration()),
            some(duration()),
            some(any::<bool>()),
        ),
        prop::collection::vec(any::<bool>(), 4),
    )
        .prop_map(
            |(
                (failure_threshold, failure_rate, window, min_calls),
                (
                    reset_timeout,
                    half_open_max_calls,
                    success_threshold,
                    slow_call,
                    half_open_timeout,
                    critical,
                ),
                spelling,
            )| {
                let settings = BreakerSettings {
                    failure_threshold,
                    failure_rate,
                    window,
                    min_calls,
                    reset_timeout,
                    half_open_max_calls,
                    success_threshold,
                    slow_call,
                    half_open_timeout,
                    critical,
                    shared: None,
                };
                (settings, spelling)
            },
        )
}

fn write_breaker(settings: &BreakerSettings, spelling: &[bool]) -> Written {
    let ms = |i: usize| spelling.get(i).copied().unwrap_or(false);
    let mut written = Written::default();
    if let Some(n) = settings.failure_threshold {
        written.push(format!("failure_threshold = {n}"));
    }
    if let Some(rate) = settings.failure_rate {
        written.push(format!("failure_rate = {}", number(rate)));
    }
    match settings.window {
        Some(Window::Calls(calls)) => written.push(format!("window = {calls}")),
        Some(Window::Time(d)) => written.push(format!(
            "window = \"{}s {}ns\"",
            d.as_secs(),
            d.subsec_nanos()
        )),
        None => {}
    }
    if let Some(n) = settings.min_calls {
        written.push(format!("min_calls = {n}"));
    }
    if let Some(d) = settings.reset_timeout {
        written.duration("reset_timeout", d, ms(0));
    }
    if let Some(n) = settings.half_open_max_calls {
        written.push(format!("half_open_max_calls = {n}"));
    }
    if let Some(n) = settings.success_threshold {
        written.push(format!("success_threshold = {n}"));
    }
    if let Some(d) = settings.slow_call {
        written.duration("slow_call", d, ms(1));
    }
    if let Some(d) = settings.half_open_timeout {
        written.duration("half_open_timeout", d, ms(2));
    }
    match settings.critical {
        // `spelling[3]` writes the flag alone.
        Some(true) if ms(3) => written.push("critical".to_owned()),
        Some(critical) => written.push(format!("critical = {critical}")),
        None => {}
    }
    written
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 1000,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn retry_accepts_what_the_checks_accept(
        (settings, spelling) in retry_settings(),
        name in name(),
        order in order(),
    ) {
        let mut written = write_retry(&settings, &spelling);
        written.name(&name);
        agree(Kind::Retry, written.tokens(&order), settings.check(), &name)?;
    }

    #[test]
    fn circuit_breaker_accepts_what_the_checks_accept(
        (settings, spelling) in breaker_settings(),
        name in name(),
        order in order(),
    ) {
        let mut written = write_breaker(&settings, &spelling);
        written.name(&name);
        agree(Kind::CircuitBreaker, written.tokens(&order), settings.check(), &name)?;
    }

    #[test]
    fn timeout_accepts_what_the_checks_accept(
        duration in some(duration()),
        spelling in 0u8..3,
        name in name(),
        order in order(),
    ) {
        let mut written = Written::default();
        if let Some(d) = duration {
            let whole_secs = d.subsec_nanos() == 0;
            match spelling {
                1 if whole_secs => written.push(format!("secs = {}", d.as_secs())),
                _ => written.duration("duration", d, spelling == 0),
            }
        }
        // `duration_ms` is no key of `#[timeout]`: its milliseconds are `ms`.
        let written = Written(
            written.0.into_iter().map(|a| a.replace("duration_ms", "ms")).collect(),
        );
        let mut written = written;
        written.name(&name);
        agree(Kind::Timeout, written.tokens(&order), TimeoutSettings { duration }.check(), &name)?;
    }

    #[test]
    fn bulkhead_accepts_what_the_checks_accept(
        max in some(count()),
        queue in some(count()),
        queue_timeout in some(duration()),
        ms in any::<bool>(),
        name in name(),
        order in order(),
    ) {
        let mut written = Written::default();
        if let Some(n) = max {
            written.push(format!("max = {n}"));
        }
        if let Some(n) = queue {
            written.push(format!("queue = {n}"));
        }
        if let Some(d) = queue_timeout {
            written.duration("queue_timeout", d, ms);
        }
        written.name(&name);
        let settings = BulkheadSettings { max, queue, queue_timeout };
        agree(Kind::Bulkhead, written.tokens(&order), settings.check(), &name)?;
    }

    #[test]
    fn rate_limit_accepts_what_the_checks_accept(
        rate in some(count()),
        per in some(duration()),
        burst in some(count()),
        wait in some(duration()),
        ms in any::<(bool, bool)>(),
        name in name(),
        order in order(),
    ) {
        let mut written = Written::default();
        if let Some(n) = rate {
            written.push(format!("rate = {n}"));
        }
        if let Some(d) = per {
            written.duration("per", d, ms.0);
        }
        if let Some(n) = burst {
            written.push(format!("burst = {n}"));
        }
        if let Some(d) = wait {
            written.duration("wait", d, ms.1);
        }
        written.name(&name);
        let settings = RateLimitSettings { rate, per, burst, wait, shared: None };
        agree(Kind::RateLimit, written.tokens(&order), settings.check(), &name)?;
    }

    /// A whole number no `u32` holds (negative, or past `u32::MAX`) is refused for every count
    /// key, with the table's range in the message, where 1 is accepted.
    #[test]
    fn counts_outside_u32_are_refused(
        (kind, key) in select(count_keys()),
        value in prop_oneof![
            i128::from(i64::MIN)..0,
            i128::from(u32::MAX) + 1..=i128::from(u64::MAX),
            Just(i128::MAX),
        ],
    ) {
        let context = context(kind, key);
        let with = |value: &str| {
            let tokens = TokenStream::from_str(&format!("{context}{key} = {value}")).unwrap_or_default();
            parse(kind, tokens)
        };
        prop_assert!(with("1").is_ok(), "{} = 1 in {:?}", key, kind);
        let error = match with(&value.to_string()) {
            Ok(_) => return Err(TestCaseError::fail(format!("{key} = {value} accepted"))),
            Err(error) => error.to_string(),
        };
        let allowed = kind.key(key).map_or("", |spec| spec.allowed);
        prop_assert!(error.contains(allowed), "{}", error);
    }
}

/// Every count key of every attribute.
fn count_keys() -> Vec<(Kind, &'static str)> {
    Kind::ALL
        .into_iter()
        .flat_map(|kind| {
            kind.keys()
                .iter()
                .filter(|spec| {
                    matches!(
                        spec.value,
                        ValueKind::Count { .. } | ValueKind::CountOrDuration
                    )
                })
                .map(move |spec| (kind, spec.key))
        })
        .collect()
}

/// The other arguments a count key needs to be accepted: the required keys, the rate rule.
fn context(kind: Kind, key: &str) -> String {
    let mut context = String::new();
    for (attribute, required) in [(Attribute::Bulkhead, "max"), (Attribute::RateLimit, "rate")] {
        if kind == attribute && key != required {
            context.push_str(&format!("{required} = 1, "));
        }
    }
    if matches!(key, "window" | "min_calls") {
        context.push_str("failure_rate = 0.5, ");
    }
    // A keyed limiter's or breaker's settings need its key.
    if matches!(
        kind,
        Attribute::RateLimit | Attribute::CircuitBreaker | Attribute::Bulkhead
    ) && (key.starts_with("key_idle") || key == "max_keys")
    {
        context.push_str("key = user, ");
    }
    context
}

fn tokens(text: &str) -> TokenStream {
    TokenStream::from_str(text).unwrap_or_default()
}

fn error(kind: Kind, text: &str) -> String {
    match parse(kind, tokens(text)) {
        Ok(_) => panic!("`#[{}({text})]` was accepted", kind.name()),
        Err(error) => error
            .into_iter()
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
            .join("\n"),
    }
}

#[test]
fn crate_takes_a_path_as_a_string_on_every_attribute() {
    for (kind, rest) in [
        (Kind::Retry, ""),
        (Kind::CircuitBreaker, ""),
        (Kind::Timeout, "ms = 5, "),
        (Kind::Bulkhead, "max = 1, "),
        (Kind::RateLimit, "rate = 1, "),
        (Kind::Fallback, "serve_cached, "),
    ] {
        let parsed = parse(
            kind,
            tokens(&format!("{rest}crate = \"my_facade::resilience\"")),
        );
        let krate = parsed.map(|attr| attr.krate).map_err(|e| e.to_string());
        let expected: syn::Path = syn::parse_quote!(my_facade::resilience);
        assert_eq!(krate, Ok(Some(expected)), "{kind:?}");
        let absolute = parse(kind, tokens(&format!("{rest}crate = \"::resilience\"")));
        assert!(absolute.is_ok_and(|attr| attr.krate.is_some()), "{kind:?}");
        assert!(parse(kind, tokens(rest.trim_end_matches(", "))).is_ok_and(|a| a.krate.is_none()));

        let message = "`crate` takes the path of the resilience crate as a string, like `crate = \"my_facade::resilience\"`";
        for bad in ["\"not a path!\"", "\"\"", "my_facade::resilience", "5"] {
            assert_eq!(
                error(kind, &format!("{rest}crate = {bad}")),
                message,
                "{bad}"
            );
        }
    }
    assert!(error(Kind::Retry, "krate = \"x\"").contains("did you mean `crate`?"));
    assert!(error(Kind::Retry, "no_such_key").contains("`name`, `crate`"));
}

#[test]
fn half_open_timeout_is_a_positive_duration() {
    let breaker = |text: &str| match parse(Kind::CircuitBreaker, tokens(text)) {
        Ok(PolicyAttr {
            settings: Settings::CircuitBreaker(args),
            ..
        }) => Ok(args.half_open_timeout),
        Ok(_) => Err("not a breaker".to_owned()),
        Err(error) => Err(error.to_string()),
    };
    assert_eq!(
        breaker("half_open_timeout = \"10s\""),
        Ok(Some(Duration::from_secs(10)))
    );
    assert_eq!(
        breaker("half_open_timeout_ms = 250"),
        Ok(Some(Duration::from_millis(250)))
    );
    assert_eq!(breaker("failure_threshold = 3"), Ok(None));
    assert_eq!(
        breaker("half_open_timeout = \"0s\""),
        Err(
            "`half_open_timeout` must be longer than zero, like `half_open_timeout = \"10s\"`"
                .to_owned()
        )
    );
    assert_eq!(
        breaker("half_open_timeout_ms = 0"),
        Err(
            "`half_open_timeout_ms` must be longer than zero, like `half_open_timeout_ms = 10000`"
                .to_owned()
        )
    );
    assert!(error(
        Kind::CircuitBreaker,
        "half_open_timeout = \"1s\", half_open_timeout_ms = 5"
    )
    .contains("`half_open_timeout_ms` cannot be combined with `half_open_timeout`"));
    assert!(error(Kind::CircuitBreaker, "half_open_timout = \"1s\"")
        .contains("did you mean `half_open_timeout`?"));
    assert!(error(Kind::CircuitBreaker, "probe_timeout = \"1s\"")
        .contains("did you mean `half_open_timeout`?"));
}

#[test]
fn critical_is_a_flag_alone_or_with_a_bool() {
    let breaker = |text: &str| match parse(Kind::CircuitBreaker, tokens(text)) {
        Ok(PolicyAttr {
            settings: Settings::CircuitBreaker(args),
            ..
        }) => Ok(args.critical),
        Ok(_) => Err("not a breaker".to_owned()),
        Err(error) => Err(error.to_string()),
    };
    assert_eq!(breaker("critical"), Ok(Some(true)));
    assert_eq!(breaker("critical = true"), Ok(Some(true)));
    assert_eq!(breaker("critical = false"), Ok(Some(false)));
    assert_eq!(breaker("name = \"db\", critical"), Ok(Some(true)));
    assert_eq!(breaker("failure_threshold = 3"), Ok(None));
    let flag = "`critical` is a flag: write `critical` alone (the same as `critical = true`), or `critical = false`";
    for bad in ["\"yes\"", "1", "yes", "[true]"] {
        assert_eq!(
            breaker(&format!("critical = {bad}")),
            Err(flag.to_owned()),
            "{bad}"
        );
    }
    assert_eq!(
        breaker("critical = \"true\""),
        Err("`critical` takes `true` or `false`, not a string: write `critical = true`".to_owned())
    );
    assert!(error(Kind::CircuitBreaker, "critical, critical = false")
        .contains("duplicate `#[circuit_breaker]` argument `critical`"));
    assert!(error(Kind::CircuitBreaker, "critcal").contains("did you mean `critical`?"));
    assert!(error(
        Kind::CircuitBreaker,
        "allow_health_indicator_to_fail = true"
    )
    .contains("`critical`"));
    // A bad flag does not hide the other mistakes of the attribute.
    let both = error(Kind::CircuitBreaker, "critical = 2, failure_threshold = 0");
    assert_eq!(both.lines().count(), 2, "{both}");
}

/// The settings that once compiled and then failed to build, or built with another meaning.
#[test]
fn what_once_compiled_and_failed_to_build_is_a_compile_error() {
    let message = error(Kind::RateLimit, "rate = 1, per = \"150years\"");
    assert!(message.contains("at most 100 years"), "{message}");
    assert!(parse(Kind::RateLimit, tokens("rate = 1, per = \"100years\"")).is_ok());

    let message = error(Kind::Retry, "backoff = \"fixed\", delay = \"1m\"");
    assert_eq!(
        message,
        "`delay` (60s) is longer than `max_delay` (30s by default): every delay would be cut to it; raise `max_delay` too, or shorten `delay`"
    );
    assert!(parse(Kind::Retry, tokens("delay = \"1m\", max_delay = \"1m\"")).is_ok());
}

/// A value that did not parse has its own error; a check across keys is not made with a
/// default in its place.
#[test]
fn a_malformed_value_is_reported_once() {
    // `max_delay` is malformed: no "delay longer than the default cap" on top.
    let message = error(Kind::Retry, "delay = \"1m\", max_delay = \"soon\"");
    assert_eq!(message.lines().count(), 1, "{message}");
    assert!(
        message.starts_with("`max_delay`: \"soon\" is not a duration"),
        "{message}"
    );
    // A malformed `per`: no refill or rate verdict made with the default period.
    let message = error(Kind::RateLimit, "rate = 4000000000, per = 5");
    assert_eq!(message.lines().count(), 1, "{message}");
    // A malformed `max` is not also missing.
    let message = error(Kind::Bulkhead, "max = \"ten\"");
    assert_eq!(message.lines().count(), 1, "{message}");
}
