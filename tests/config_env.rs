//! `RESILIENCE_CONFIG`: the file the global registry applies when it is first used. A process
//! of its own (the variable is read once), with one test.

use std::time::Duration;

use resilience::{registry, Retry, Source};

#[test]
fn the_file_named_by_resilience_config_is_applied_on_first_use() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("resilience.toml");
    std::fs::write(
        &path,
        "[retry.env-retry]\nmax_attempts = 6\ndelay = \"5ms\"\n",
    )
    .unwrap();
    // Set before anything in this process touches the registry.
    std::env::set_var(resilience::CONFIG_ENV, &path);

    let retry = registry()
        .retry_or_register(Retry::builder("env-retry").max_attempts(2))
        .unwrap();
    assert_eq!(retry.config().max_attempts, 6);
    assert!(registry().config_error().is_none());
    assert_eq!(registry().config().file(), Some(path.as_path()));
    let row = registry()
        .policies()
        .into_iter()
        .find(|p| p.name() == "env-retry")
        .unwrap();
    assert_eq!(row.source_of("max_attempts"), Source::File);
    assert_eq!(
        retry.config().backoff,
        resilience::Backoff::Exponential {
            base: Duration::from_millis(5),
            factor: 2.0
        }
    );
}
