//! Configuration by name, as an operator uses it: a file in a temporary directory, applied to
//! the registry, edited while the program runs. Each test runs in a registry of its own
//! (`#[resilience::test]`), in virtual time.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::{AppError, Runs};
use resilience::config::ProblemKind;
use resilience::{
    bulkhead, circuit_breaker, registry, retry, Bulkhead, CircuitBreaker, CircuitState, Config,
    ConfigError, Event, PolicyKind, RateLimiter, Source,
};
use tokio::sync::broadcast::Receiver;

/// A directory of its own for each test, removed at the end.
struct Dir(tempfile::TempDir);

impl Dir {
    fn new() -> Self {
        Dir(tempfile::tempdir().unwrap())
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }
}

fn config(text: &str) -> Config {
    Config::from_toml_str(text).unwrap()
}

/// The next configuration event about `about` (a policy's name, or a file's), skipping the
/// policies' own events and other tests' (events are process-wide).
async fn next_config_event(events: &mut Receiver<Event>, about: &str) -> Event {
    loop {
        let event = events.recv().await.unwrap();
        let ours = match &event {
            Event::ConfigApplied { changed, .. } => changed.iter().any(|c| c.name.contains(about)),
            Event::ConfigRejected { error, .. } => error.to_string().contains(about),
            _ => false,
        };
        if ours {
            return event;
        }
    }
}

#[circuit_breaker(name = "cfg-inventory", failure_threshold = 5, reset_timeout = "30s")]
async fn inventory(runs: &Runs, ok: bool) -> Result<u32, AppError> {
    let n = runs.tick();
    if ok {
        Ok(n)
    } else {
        Err(AppError::Down("inventory"))
    }
}

#[resilience::test]
async fn sources_stack_defaults_base_attribute_file() {
    let dir = Dir::new();
    let path = dir.write(
        "resilience.toml",
        r#"
[defaults.circuit_breaker]
reset_timeout = "20s"
success_threshold = 3

[base.flaky.circuit_breaker]
half_open_max_calls = 2
success_threshold = 2

[circuit_breaker.cfg-inventory]
base = "flaky"
failure_threshold = 3
"#,
    );
    registry().apply_file(&path).unwrap();
    let runs = Runs::new();
    for _ in 0..3 {
        let _ = inventory(&runs, false).await;
    }
    // The file's threshold (3) over the attribute's (5): open after three failures.
    let breaker = registry().circuit_breaker("cfg-inventory").unwrap();
    assert_eq!(breaker.state(), CircuitState::Open);
    let config = breaker.config();
    // The attribute's reset timeout over the file's defaults; the base over the defaults.
    assert_eq!(config.reset_timeout, Duration::from_secs(30));
    assert_eq!(config.half_open_max_calls, 2);
    assert_eq!(config.success_threshold, 2);

    let row = registry()
        .policies()
        .into_iter()
        .find(|p| p.kind() == PolicyKind::CircuitBreaker && p.name() == "cfg-inventory")
        .unwrap();
    assert_eq!(row.source_of("failure_threshold"), Source::File);
    assert_eq!(row.source_of("reset_timeout"), Source::Attribute);
    assert_eq!(row.source_of("half_open_max_calls"), Source::File);
    assert_eq!(row.source_of("slow_call"), Source::Default);
    let table = registry().snapshot().to_string();
    let line = table.lines().find(|l| l.contains("cfg-inventory")).unwrap();
    assert!(
        line.contains("attribute: reset_timeout; file: half_open_max_calls,success_threshold,failure_threshold"),
        "{table}"
    );
}

#[retry(name = "cfg-shared", max_attempts = 4, delay = "10ms")]
async fn with_settings(runs: &Runs) -> Result<u32, AppError> {
    runs.tick();
    Err(AppError::Down("shared"))
}

#[retry(name = "cfg-shared")]
async fn name_only(runs: &Runs) -> Result<u32, AppError> {
    runs.tick();
    Err(AppError::Down("shared"))
}

#[resilience::test]
async fn a_name_only_site_first_does_not_decide_the_settings() {
    let runs = Runs::new();
    // The name-only site runs first: it must not pin the defaults (3 attempts).
    let _ = name_only(&runs).await;
    assert_eq!(runs.get(), 3);
    let _ = with_settings(&runs).await;
    assert_eq!(runs.get(), 3 + 4);
    // Both sites now run with the explicit site's settings, and nothing conflicts.
    let _ = name_only(&runs).await;
    assert_eq!(runs.get(), 3 + 4 + 4);
    let row = registry()
        .policies()
        .into_iter()
        .find(|p| p.name() == "cfg-shared")
        .unwrap();
    assert!(row.conflicts().is_empty());
    assert_eq!(row.source_of("max_attempts"), Source::Attribute);
}

#[resilience::test]
async fn an_invalid_config_changes_nothing() {
    let breaker = registry()
        .circuit_breaker_or_register(
            CircuitBreaker::builder("cfg-rate")
                .failure_rate(0.5)
                .window_calls(10),
        )
        .unwrap();
    let retry = registry()
        .retry_or_register(resilience::Retry::builder("cfg-valid").max_attempts(2))
        .unwrap();
    let mut events = registry().subscribe();
    // `min_calls = 20` is fine alone, but not over the code's window of 10 calls; the retry
    // section is valid: all or nothing, neither applies.
    let bad = config(
        "[circuit_breaker.cfg-rate]\nmin_calls = 20\n\n[retry.cfg-valid]\nmax_attempts = 7\n",
    );
    let Err(ConfigError::Invalid(problems)) = registry().apply(&bad) else {
        panic!("applied a config that breaks a rule");
    };
    let problem = problems.iter().next().unwrap();
    assert_eq!(problem.section(), "circuit_breaker.cfg-rate");
    assert_eq!(problem.line(), 1);
    assert!(problem.message().contains("min_calls"), "{problem}");
    assert_eq!(retry.config().max_attempts, 2);
    assert_eq!(
        breaker.config().to_string(),
        "rate=0.5 window=10 min_calls=10 reset=30s half_open_timeout=30s"
    );
    assert!(matches!(
        next_config_event(&mut events, "cfg-rate").await,
        Event::ConfigRejected { .. }
    ));
    assert!(registry().config_error().is_some());

    // A good one applies, and clears the error.
    let good = config("[retry.cfg-valid]\nmax_attempts = 7\n");
    let report = registry().apply(&good).unwrap();
    assert_eq!(report.changed.len(), 1);
    assert_eq!(report.changed[0].keys, ["max_attempts"]);
    assert_eq!(retry.config().max_attempts, 7);
    assert!(registry().config_error().is_none());
    let Event::ConfigApplied { changed, .. } = next_config_event(&mut events, "cfg-valid").await
    else {
        panic!("expected ConfigApplied");
    };
    assert_eq!(changed, report.changed);

    // Applying the empty configuration takes the file's settings back.
    registry().apply(&Config::empty()).unwrap();
    assert_eq!(retry.config().max_attempts, 2);
}

#[resilience::test]
async fn an_open_breaker_stays_open_across_a_reload() {
    let runs = Runs::new();
    for _ in 0..5 {
        let _ = inventory(&runs, false).await;
    }
    let breaker = registry().circuit_breaker("cfg-inventory").unwrap();
    assert_eq!(breaker.state(), CircuitState::Open);
    let report = registry()
        .apply(&config(
            "[circuit_breaker.cfg-inventory]\nsuccess_threshold = 2\n",
        ))
        .unwrap();
    assert_eq!(report.changed[0].keys, ["success_threshold"]);
    assert_eq!(breaker.state(), CircuitState::Open);
    let rejected = inventory(&runs, true).await;
    assert_eq!(rejected.unwrap_err().code(), Some("CIRCUIT_OPEN"));
    assert_eq!(runs.get(), 5);
}

#[resilience::test]
async fn a_files_critical_marks_a_breaker_the_attribute_left_alone() {
    let runs = Runs::new();
    let _ = inventory(&runs, true).await;
    let breaker = registry().circuit_breaker("cfg-inventory").unwrap();
    assert!(!breaker.is_critical());
    let row = |name: &str| {
        registry()
            .policies()
            .into_iter()
            .find(|p| p.kind() == PolicyKind::CircuitBreaker && p.name() == name)
            .unwrap()
    };
    assert_eq!(row("cfg-inventory").source_of("critical"), Source::Default);

    let report = registry()
        .apply(&config(
            "[circuit_breaker.cfg-inventory]\ncritical = true\n",
        ))
        .unwrap();
    assert_eq!(report.changed[0].keys, ["critical"]);
    assert!(breaker.is_critical());
    let snapshot = row("cfg-inventory");
    assert_eq!(snapshot.source_of("critical"), Source::File);
    assert_eq!(snapshot.source_of("failure_threshold"), Source::Attribute);
    assert!(
        snapshot.config().ends_with(" critical"),
        "{}",
        snapshot.config()
    );
    let table = registry().snapshot().to_string();
    let line = table.lines().find(|l| l.contains("cfg-inventory")).unwrap();
    assert!(line.contains("file: critical"), "{table}");
    // The flag changes no call.
    assert_eq!(inventory(&runs, true).await.unwrap(), 2);

    // Without the file's key, the attribute's (none) is back: not critical.
    registry().apply(&Config::empty()).unwrap();
    assert!(!breaker.is_critical());
    assert_eq!(row("cfg-inventory").source_of("critical"), Source::Default);
}

#[circuit_breaker(name = "cfg-payments", critical)]
async fn payments(runs: &Runs) -> Result<u32, AppError> {
    Ok(runs.tick())
}

#[resilience::test]
async fn a_files_critical_false_overrides_the_attributes_flag() {
    let runs = Runs::new();
    registry()
        .apply(&config(
            "[circuit_breaker.cfg-payments]\ncritical = false\n",
        ))
        .unwrap();
    payments(&runs).await.unwrap();
    let breaker = registry().circuit_breaker("cfg-payments").unwrap();
    assert!(!breaker.is_critical());
    registry().apply(&Config::empty()).unwrap();
    assert!(breaker.is_critical(), "the attribute's flag again");
    let row = registry()
        .policies()
        .into_iter()
        .find(|p| p.name() == "cfg-payments")
        .unwrap();
    assert_eq!(row.source_of("critical"), Source::Attribute);
}

#[bulkhead(name = "cfg-render", max = 2, queue = 10, queue_timeout = "10s")]
async fn render(hold: Duration) -> Result<(), AppError> {
    tokio::time::sleep(hold).await;
    Ok(())
}

#[resilience::test]
async fn a_bulkheads_new_max_applies_at_once_growing_and_shrinking() {
    let long = Duration::from_secs(1);
    let calls: Vec<_> = (0..4)
        .map(|_| resilience::testing::spawn(render(long)))
        .collect();
    tokio::time::sleep(Duration::from_millis(1)).await;
    let bulkhead = registry().bulkhead("cfg-render").unwrap();
    assert_eq!(
        (bulkhead.stats().in_flight, bulkhead.stats().queued),
        (2, 2)
    );

    // Growing admits the queued callers at once.
    registry()
        .apply(&config("[bulkhead.cfg-render]\nmax = 4\n"))
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1)).await;
    assert_eq!(
        (bulkhead.stats().in_flight, bulkhead.stats().queued),
        (4, 0)
    );

    // Shrinking lets the four finish, and holds new callers to one.
    registry()
        .apply(&config("[bulkhead.cfg-render]\nmax = 1\n"))
        .unwrap();
    let more: Vec<_> = (0..2)
        .map(|_| resilience::testing::spawn(render(long)))
        .collect();
    tokio::time::sleep(Duration::from_millis(1)).await;
    assert_eq!(
        (bulkhead.stats().in_flight, bulkhead.stats().queued),
        (4, 2)
    );
    for call in calls {
        call.await.unwrap().unwrap();
    }
    tokio::time::sleep(Duration::from_millis(1)).await;
    assert_eq!(
        (bulkhead.stats().in_flight, bulkhead.stats().queued),
        (1, 1)
    );
    for call in more {
        call.await.unwrap().unwrap();
    }
    let stats = bulkhead.stats();
    assert_eq!((stats.in_flight, stats.queued, stats.available), (0, 0, 1));
}

#[resilience::test]
async fn a_limiters_new_rate_applies_from_the_next_call() {
    let limiter = registry()
        .rate_limiter_or_register(RateLimiter::builder("cfg-limiter").rate(1).burst(1))
        .unwrap();
    assert!(limiter.try_acquire().is_ok());
    assert!(limiter.try_acquire().is_err());
    registry()
        .apply(&config("[rate_limit.cfg-limiter]\nrate = 10\nburst = 10\n"))
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(limiter.try_acquire().is_ok());
    assert_eq!(limiter.config().burst, 10);
}

#[resilience::test]
async fn a_watched_file_is_reloaded_when_it_changes() {
    let dir = Dir::new();
    let path = dir.write("watched.toml", "[retry.cfg-watched]\nmax_attempts = 2\n");
    let retry = registry()
        .retry_or_register(resilience::Retry::builder("cfg-watched"))
        .unwrap();
    let mut events = registry().subscribe();
    let _watch = registry().watch_config(&path, Duration::from_secs(1));
    assert!(matches!(
        next_config_event(&mut events, "watched").await,
        Event::ConfigApplied { .. }
    ));
    assert_eq!(retry.config().max_attempts, 2);

    // An edit is picked up at the next look.
    std::fs::write(&path, "[retry.cfg-watched]\nmax_attempts = 6\n").unwrap();
    assert!(matches!(
        next_config_event(&mut events, "watched").await,
        Event::ConfigApplied { .. }
    ));
    assert_eq!(retry.config().max_attempts, 6);

    // A broken edit leaves the last good one in force, and says why.
    std::fs::write(&path, "[retry.cfg-watched]\nmax_attempts = 0\n").unwrap();
    let Event::ConfigRejected { error, .. } = next_config_event(&mut events, "watched").await
    else {
        panic!("expected a rejection");
    };
    assert!(error.to_string().contains("max_attempts"), "{error}");
    assert_eq!(retry.config().max_attempts, 6);

    // So does a file that disappears.
    std::fs::remove_file(&path).unwrap();
    let Event::ConfigRejected { error, .. } = next_config_event(&mut events, "watched").await
    else {
        panic!("expected a rejection");
    };
    assert!(matches!(
        error,
        ConfigError::Io {
            kind: std::io::ErrorKind::NotFound,
            ..
        }
    ));
    assert_eq!(retry.config().max_attempts, 6);

    // And it comes back.
    std::fs::write(&path, "[retry.cfg-watched]\nmax_attempts = 3\n").unwrap();
    assert!(matches!(
        next_config_event(&mut events, "watched").await,
        Event::ConfigApplied { .. }
    ));
    assert_eq!(retry.config().max_attempts, 3);
    assert!(registry().config_error().is_none());
}

#[test]
fn files_that_are_not_configurations_are_refused() {
    let dir = Dir::new();
    let big = dir.write("big.toml", &"# padding\n".repeat(1_100_000));
    assert!(matches!(
        Config::from_file(&big),
        Err(ConfigError::TooLarge { .. })
    ));
    let binary = dir.0.path().join("binary.toml");
    std::fs::write(&binary, [0xff, 0xfe, 0x00, 0x01]).unwrap();
    assert!(matches!(
        Config::from_file(&binary),
        Err(ConfigError::NotUtf8 { .. })
    ));
    let missing = dir.0.path().join("missing.toml");
    assert!(matches!(
        Config::from_file(&missing),
        Err(ConfigError::Io {
            kind: std::io::ErrorKind::NotFound,
            ..
        })
    ));
    let text = dir.write("not-toml.toml", "this is = = not toml");
    let Err(ConfigError::Invalid(problems)) = Config::from_file(&text) else {
        panic!("read text that is not TOML");
    };
    let problem = problems.iter().next().unwrap();
    assert_eq!(problem.kind(), ProblemKind::Syntax);
    assert_eq!(problem.file(), Some(text.as_path()));
    assert!(problem
        .to_string()
        .starts_with(&format!("{}:1:", text.display())));
}

#[resilience::test]
async fn unregistering_a_name_makes_the_next_registration_fresh_for_every_site() {
    let runs = Runs::new();
    for _ in 0..5 {
        let _ = inventory(&runs, false).await;
    }
    assert!(registry()
        .policy_names()
        .contains(&"cfg-inventory".to_owned()));
    assert!(registry().unregister_policy("cfg-inventory"));
    assert!(!registry()
        .policy_names()
        .contains(&"cfg-inventory".to_owned()));
    assert!(registry().circuit_breaker("cfg-inventory").is_none());
    assert!(!registry().unregister_policy("cfg-inventory"));

    // A new registration under the name, with other settings: the annotated site uses it.
    let fresh = registry()
        .circuit_breaker_or_register(CircuitBreaker::builder("cfg-inventory").failure_threshold(1))
        .unwrap();
    assert_eq!(fresh.state(), CircuitState::Closed);
    assert_eq!(inventory(&runs, true).await, Ok(6));
    let _ = inventory(&runs, false).await;
    assert_eq!(fresh.state(), CircuitState::Open);
    assert_eq!(fresh.stats().calls, 2);
}

#[resilience::test]
async fn reloads_under_concurrent_calls_lose_nothing() {
    let bulkhead = registry()
        .bulkhead_or_register(Bulkhead::builder("cfg-busy").max_concurrent(2).queue(100))
        .unwrap();
    let mut calls = Vec::new();
    for i in 0..40u64 {
        let bulkhead = bulkhead.clone();
        calls.push(resilience::testing::spawn(async move {
            bulkhead
                .call(async move {
                    tokio::time::sleep(Duration::from_millis(1 + i % 7)).await;
                    Ok::<_, resilience::Error>(())
                })
                .await
        }));
    }
    for max in [5, 1, 8, 3, 2, 6] {
        tokio::time::sleep(Duration::from_millis(3)).await;
        registry()
            .apply(&config(&format!(
                "[bulkhead.cfg-busy]\nmax = {max}\nqueue = 100\n"
            )))
            .unwrap();
        let stats = bulkhead.stats();
        assert!(stats.in_flight <= 8, "{stats:?}");
    }
    let mut admitted = 0;
    for call in calls {
        if call.await.unwrap().is_ok() {
            admitted += 1;
        }
    }
    let stats = bulkhead.stats();
    assert_eq!(admitted + stats.rejected, 40);
    assert_eq!((stats.in_flight, stats.queued), (0, 0));
    assert_eq!(stats.available, 6);
}

#[resilience::resilient(policy = "cfg-pay")]
async fn charge(runs: &Runs) -> Result<u32, AppError> {
    runs.tick();
    Err(AppError::Down("payments"))
}

#[resilience::test]
async fn a_composite_from_the_file_protects_its_sites_and_reloads_in_place() {
    let runs = Runs::new();
    // Nothing defines it yet: the call runs once, unprotected.
    let _ = charge(&runs).await;
    assert_eq!(runs.get(), 1);

    let dir = Dir::new();
    let path = dir.write(
        "composite.toml",
        r#"
[policy.cfg-pay]
retry = { max_attempts = 3, delay = "10ms" }
circuit_breaker = { failure_threshold = 5 }
timeout = "1s"
bulkhead = { max = 2 }
"#,
    );
    registry().apply_file(&path).unwrap();
    let _ = charge(&runs).await;
    assert_eq!(runs.get(), 1 + 3);
    let breaker = registry().circuit_breaker("cfg-pay").unwrap();
    assert_eq!(breaker.stats().failures, 3);

    // A composite member missing a required setting refuses the whole file.
    let broken = config("[policy.cfg-pay]\nretry = { max_attempts = 2 }\n[policy.cfg-other]\nbulkhead = { queue = 3 }\n");
    let Err(ConfigError::Invalid(problems)) = registry().apply(&broken) else {
        panic!("applied a composite with a bulkhead without `max`");
    };
    assert_eq!(
        problems.iter().next().unwrap().section(),
        "policy.cfg-other.bulkhead"
    );
    assert!(registry().pipeline("cfg-other").is_none());

    // A reload changes the members in place: the site keeps its composite.
    registry()
        .apply(&config(
            "[policy.cfg-pay]\nretry = { max_attempts = 2, delay = \"10ms\" }\ncircuit_breaker = { failure_threshold = 5 }\n",
        ))
        .unwrap();
    let _ = charge(&runs).await;
    assert_eq!(runs.get(), 1 + 3 + 2);
    assert_eq!(breaker.state(), CircuitState::Open);

    // A file that no longer names the composite leaves it as it is.
    registry().apply(&Config::empty()).unwrap();
    assert!(registry().pipeline("cfg-pay").is_some());
    let rejected = charge(&runs).await;
    assert_eq!(rejected.unwrap_err().code(), Some("CIRCUIT_OPEN"));
}
