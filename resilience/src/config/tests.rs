//! Reading configuration text: every key of the table, every kind of mistake.

use std::time::Duration;

use resilience_settings::circuit_breaker::Window;
use resilience_settings::retry::{BackoffStrategy, JitterStrategy};
use resilience_settings::Attribute;

use super::layer::{Source, Value};
use super::{Config, ConfigProblem, ProblemKind};
use crate::ConfigError;

fn problems(text: &str) -> Vec<ConfigProblem> {
    match Config::from_toml_str(text) {
        Err(ConfigError::Invalid(problems)) => problems.iter().cloned().collect(),
        other => panic!("expected problems, got {other:?}"),
    }
}

fn kinds(text: &str) -> Vec<(String, ProblemKind)> {
    problems(text)
        .into_iter()
        .map(|p| (p.path(), p.kind()))
        .collect()
}

const EVERYTHING: &str = r#"
[defaults.circuit_breaker]
reset_timeout = "20s"

[base.slow.timeout]
duration = "10s"

[circuit_breaker.inventory]
failure_rate = 0.5
window = "60s"
min_calls = 20
half_open_max_calls = 2
success_threshold = 2
slow_call_ms = 2000
half_open_timeout = "5s"
critical = true

[circuit_breaker.cache]
critical = false

[retry."billing::charge"]
max_attempts = 5
backoff = "linear"
delay_ms = 50
max_delay = "2s"
jitter = "full"
max_elapsed = "10s"
retry_on = ["timeout", "circuit_open"]

[retry.schedule]
delays = ["100ms", "1s"]
jitter = 0.1

[timeout.reports]
base = "slow"

[bulkhead.render]
max = 20
queue = 50
queue_timeout = "2s"

[rate_limit.api]
rate = 100
per = "1s"
burst = 10
wait_ms = 500

[policy.payment-service]
retry = { max_attempts = 3, delay = "100ms" }
circuit_breaker = { failure_rate = 0.5, window = 100 }
timeout = "5s"
bulkhead = { max = 10 }
"#;

#[test]
fn every_key_reads_with_its_value() {
    let config = Config::from_toml_str(EVERYTHING).unwrap();
    let (_, breaker) = config.layers(Attribute::CircuitBreaker, "inventory");
    assert_eq!(breaker.get("failure_rate"), Some(&Value::Number(0.5)));
    assert_eq!(
        breaker.get("window"),
        Some(&Value::Window(Window::Time(Duration::from_secs(60))))
    );
    assert_eq!(
        breaker.get("slow_call"),
        Some(&Value::Duration(Duration::from_secs(2)))
    );
    assert_eq!(breaker.get("critical"), Some(&Value::Flag(true)));
    let (_, cache) = config.layers(Attribute::CircuitBreaker, "cache");
    assert_eq!(cache.get("critical"), Some(&Value::Flag(false)));
    let (_, retry) = config.layers(Attribute::Retry, "billing::charge");
    assert_eq!(
        retry.get("backoff"),
        Some(&Value::Backoff(BackoffStrategy::Linear))
    );
    assert_eq!(
        retry.get("delay"),
        Some(&Value::Duration(Duration::from_millis(50)))
    );
    assert_eq!(
        retry.get("jitter"),
        Some(&Value::Jitter(JitterStrategy::Full))
    );
    assert_eq!(
        retry.get("retry_on"),
        Some(&Value::Choices(vec!["timeout", "circuit_open"]))
    );
    let (_, schedule) = config.layers(Attribute::Retry, "schedule");
    assert_eq!(
        schedule.get("jitter"),
        Some(&Value::Jitter(JitterStrategy::Proportional(0.1)))
    );
    let (below, above) = config.layers(Attribute::Timeout, "reports");
    assert!(above.is_empty());
    assert_eq!(
        below.get("duration"),
        Some(&Value::Duration(Duration::from_secs(10)))
    );
    let (_, limiter) = config.layers(Attribute::RateLimit, "api");
    assert_eq!(
        limiter.get("wait"),
        Some(&Value::Duration(Duration::from_millis(500)))
    );
    let (_, member) = config.layers(Attribute::Timeout, "payment-service");
    assert_eq!(
        member.get("duration"),
        Some(&Value::Duration(Duration::from_secs(5)))
    );
    assert_eq!(config.composites(), ["payment-service"]);
    // The defaults apply to every breaker, below its own section.
    let (below, _) = config.layers(Attribute::CircuitBreaker, "anything");
    assert_eq!(
        below.get("reset_timeout"),
        Some(&Value::Duration(Duration::from_secs(20)))
    );
    assert!(below.iter().all(|(_, _, source)| source == Source::File));
}

#[test]
fn every_problem_is_reported_at_once_in_order() {
    let text = r#"
[circuit_breaker.inventory]
failure_treshold = 3
failure_rate = 2.0

[retry.api]
retries = 3
max_attempts = "three"
retry_if = "is_transient"

[bulkhead.render]
max = -1
queue_timeout = 5

[timeout.x]
duration = "-5s"

[rate_limiter.api]
rate = 1
"#;
    let found = kinds(text);
    assert_eq!(
        found,
        [
            (
                "circuit_breaker.inventory.failure_treshold".to_owned(),
                ProblemKind::UnknownKey
            ),
            (
                "circuit_breaker.inventory.failure_rate".to_owned(),
                ProblemKind::OutOfRange
            ),
            ("retry.api.retries".to_owned(), ProblemKind::UnknownKey),
            ("retry.api.max_attempts".to_owned(), ProblemKind::WrongType),
            ("retry.api.retry_if".to_owned(), ProblemKind::CodeOnly),
            ("bulkhead.render.max".to_owned(), ProblemKind::OutOfRange),
            (
                "bulkhead.render.queue_timeout".to_owned(),
                ProblemKind::WrongType
            ),
            ("timeout.x.duration".to_owned(), ProblemKind::OutOfRange),
            ("rate_limiter".to_owned(), ProblemKind::UnknownSection),
        ]
    );
    let all = problems(text);
    assert_eq!(all[0].suggestion(), Some("failure_threshold"));
    assert_eq!((all[0].line(), all[0].column()), (3, 1));
    // A name other libraries use points at ours.
    assert_eq!(all[2].suggestion(), Some("max_attempts"));
    assert_eq!(all[8].suggestion(), Some("rate_limit"));
    assert!(all[7].message().contains("negative"), "{}", all[7]);
}

#[test]
fn critical_takes_a_boolean_only() {
    for value in ["\"yes\"", "\"true\"", "1", "[true]"] {
        let text = format!("[circuit_breaker.db]\ncritical = {value}\n");
        let found = problems(&text);
        assert_eq!(found.len(), 1, "{value}");
        assert_eq!(found[0].path(), "circuit_breaker.db.critical");
        assert_eq!(found[0].kind(), ProblemKind::WrongType, "{value}");
        assert!(
            found[0]
                .message()
                .starts_with("expected `true` or `false`, like `critical = true`"),
            "{}",
            found[0]
        );
        assert_eq!((found[0].line(), found[0].column()), (2, 12));
    }
    // resilience4j's name for it points at ours.
    let found = problems("[circuit_breaker.db]\nallow_health_indicator_to_fail = true\n");
    assert_eq!(found[0].kind(), ProblemKind::UnknownKey);
    assert_eq!(found[0].suggestion(), Some("critical"));
}

#[test]
fn text_that_is_not_toml_says_where() {
    let found = problems("[retry.api\nmax_attempts = 3\n");
    assert_eq!(found[0].kind(), ProblemKind::Syntax);
    assert_eq!(found[0].line(), 1);
    let found = problems("max_attempts = = 3");
    assert_eq!(found[0].kind(), ProblemKind::Syntax);
}

#[test]
fn wrong_shapes_are_refused_not_panicked_on() {
    for text in [
        "retry = 3",
        "[retry]\napi = 3",
        "[policy.x]\nretry = 3",
        "[policy.x]\nbulkhead = \"5s\"",
        "[policy.x]\nfallback = {}",
        "[defaults.nope]\nmax = 1",
        "[fallback.x]\n",
        "[retry.x]\nname = \"y\"",
        "[retry.x]\ndelays = []",
        "[retry.x]\ndelays = [1, 2]",
        "[retry.x]\nretry_on = [\"timeout\", \"timeout\"]",
        "[retry.x]\nretry_on = [\"timout\"]",
        "[retry.x]\nbackoff = \"exponentail\"",
        "[retry.x]\njitter = false",
        "[retry.x]\ndelay = \"100ms\"\ndelay_ms = 100",
        "[retry.x]\ndelays = [\"1s\"]\nfactor = 3.0",
        "[circuit_breaker.x]\nwindow = true",
        "[circuit_breaker.x]\nfailure_threshold = 99999999999",
        "[timeout.x]\nduration = 1979-05-27T07:32:00Z",
        "[retry.x]\nbase = 3",
    ] {
        assert!(!problems(text).is_empty(), "{text}");
    }
}

#[test]
fn bad_names_are_refused() {
    for text in [
        "[retry.\"\"]\nmax_attempts = 3",
        "[retry.\" api\"]\nmax_attempts = 3",
        "[retry.\"a\\u0007b\"]\nmax_attempts = 3",
    ] {
        assert_eq!(kinds(text)[0].1, ProblemKind::BadName, "{text}");
    }
    let long = format!("[retry.{}]\nmax_attempts = 3", "a".repeat(300));
    assert_eq!(kinds(&long)[0].1, ProblemKind::BadName);
    // Module paths and generic types are names like any other.
    assert!(
        Config::from_toml_str("[retry.\"app::Client<app::Http>::get\"]\nmax_attempts = 3").is_ok()
    );
}

#[test]
fn bases_chain_and_cycles_are_refused() {
    let chain = r#"
[base.a.retry]
max_attempts = 7
base = "b"
[base.b.retry]
max_attempts = 2
max_delay = "5s"
[retry.x]
base = "a"
"#;
    let config = Config::from_toml_str(chain).unwrap();
    let (below, _) = config.layers(Attribute::Retry, "x");
    // The nearer base wins over the one it names.
    assert_eq!(below.get("max_attempts"), Some(&Value::Count(7)));
    assert_eq!(
        below.get("max_delay"),
        Some(&Value::Duration(Duration::from_secs(5)))
    );

    let cycle =
        "[base.a.retry]\nbase = \"b\"\n[base.b.retry]\nbase = \"a\"\n[retry.x]\nbase = \"a\"\n";
    assert!(kinds(cycle)
        .iter()
        .any(|(_, kind)| *kind == ProblemKind::BaseCycle));
    let unknown = "[base.slow.retry]\nmax_attempts = 2\n[retry.x]\nbase = \"slwo\"\n";
    let found = problems(unknown);
    assert_eq!(found[0].kind(), ProblemKind::UnknownBase);
    assert_eq!(found[0].suggestion(), Some("slow"));
}

#[test]
fn a_policy_configured_twice_is_refused() {
    let text = "[retry.pay]\nmax_attempts = 2\n[policy.pay]\nretry = { max_attempts = 3 }\n";
    assert_eq!(
        kinds(text),
        [("retry.pay".to_owned(), ProblemKind::Duplicate)]
    );
}

#[test]
fn a_large_text_is_refused_before_it_is_read() {
    let text = "#".repeat(super::MAX_FILE_BYTES as usize + 1);
    assert!(matches!(
        Config::from_toml_str(&text),
        Err(ConfigError::TooLarge { .. })
    ));
}

#[test]
fn shared_is_a_boolean_for_breakers_and_limiters() {
    let config = Config::from_toml_str(
        "[circuit_breaker.payments]\nshared = true\n\n[rate_limit.api]\nrate = 10\nshared = false\n",
    )
    .unwrap();
    let (_, breaker) = config.layers(Attribute::CircuitBreaker, "payments");
    assert_eq!(breaker.get("shared"), Some(&Value::Flag(true)));
    let (_, limiter) = config.layers(Attribute::RateLimit, "api");
    assert_eq!(limiter.get("shared"), Some(&Value::Flag(false)));
    for section in ["circuit_breaker.db", "rate_limit.db"] {
        let found = problems(&format!("[{section}]\nshared = \"yes\"\n"));
        assert_eq!(found.len(), 1, "{section}");
        assert_eq!(found[0].kind(), ProblemKind::WrongType, "{section}");
        assert_eq!(found[0].path(), format!("{section}.shared"));
    }
}
