//! A `RESILIENCE_CONFIG` file that fails to load: the registry runs on the other sources and
//! says why, never panicking. A process of its own (the variable is read once).

use resilience::{registry, ConfigError, Retry};

#[test]
fn a_bad_file_never_panics_and_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("resilience.toml");
    std::fs::write(&path, "[retry.env-bad]\nmax_attempts = 0\nbogus = 1\n").unwrap();
    std::env::set_var(resilience::CONFIG_ENV, &path);

    let retry = registry()
        .retry_or_register(Retry::builder("env-bad").max_attempts(2))
        .unwrap();
    assert_eq!(retry.config().max_attempts, 2);
    let Some(ConfigError::Invalid(problems)) = registry().config_error() else {
        panic!("no error recorded for a bad RESILIENCE_CONFIG");
    };
    assert_eq!(problems.len(), 2);
    assert!(problems.iter().all(|p| p.file() == Some(path.as_path())));
    assert!(registry().config().file().is_none());
    // Health says so, loudly: a readiness probe fails.
    let health = registry().health_now();
    assert_eq!(health.status, resilience::HealthStatus::Unhealthy);
    assert!(health.checks[0].detail.contains("max_attempts"), "{health}");
}
