//! Strict names: a site that gives only a `name` expects the name's settings from elsewhere;
//! when nothing gave them, the snapshot and an event say so instead of running on defaults in
//! silence. Each test has a registry of its own (`#[resilience::test]`), so strictness set in one
//! does not leak into another.

mod common;

use common::AppError;
use resilience::{circuit_breaker, registry, retry, CircuitBreaker, Event};

#[circuit_breaker(name = "strict-paymnets")] // a typo of "strict-payments"
async fn charge() -> Result<(), AppError> {
    Ok(())
}

#[retry(name = "strict-ledger-retry")]
#[circuit_breaker(name = "strict-ledger")]
async fn post() -> Result<(), AppError> {
    Ok(())
}

#[circuit_breaker(name = "strict-configured", failure_threshold = 2)]
async fn configured() -> Result<(), AppError> {
    Ok(())
}

fn row(name: &str) -> resilience::PolicySnapshot {
    registry()
        .policies()
        .into_iter()
        .find(|p| p.name() == name)
        .unwrap_or_else(|| panic!("no policy named {name}"))
}

#[resilience::test]
async fn a_name_nothing_configured_is_reported_missing() {
    let mut events = registry().subscribe();
    registry().strict_names(true);
    charge().await.unwrap();

    assert!(row("strict-paymnets").missing());
    assert!(registry()
        .snapshot()
        .to_string()
        .contains("MISSING(no settings given for this name)"));
    // Events are not isolated: the other tests' arrive too.
    let mut reported = false;
    while let Ok(event) = events.try_recv() {
        reported |=
            matches!(&event, Event::PolicyMissing { name, .. } if &**name == "strict-paymnets");
    }
    assert!(reported, "no PolicyMissing event for the misspelt name");
}

#[resilience::test]
async fn a_name_registered_at_startup_or_configured_at_a_site_is_not_missing() {
    registry().strict_names(true);
    registry()
        .circuit_breaker_or_register(CircuitBreaker::builder("strict-ledger").failure_threshold(3))
        .unwrap();
    post().await.unwrap();
    assert!(!row("strict-ledger").missing());
    // The retry of the same site gave only its name too, and nothing registered it.
    assert!(row("strict-ledger-retry").missing());

    configured().await.unwrap();
    assert!(!row("strict-configured").missing());
}

#[resilience::test]
async fn without_strict_names_a_name_only_site_registers_the_defaults_silently() {
    assert!(!registry().is_strict_names());
    charge().await.unwrap();
    assert!(!row("strict-paymnets").missing());
}
