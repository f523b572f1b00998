//! Health as a readiness probe sees it: every contributor's rule, in virtual time, each test in
//! a registry of its own.

mod common;

use std::time::Duration;

use common::AppError;
use resilience::{
    registry, Bulkhead, CircuitBreaker, Config, Contributor, Event, HealthMonitor, HealthStatus,
};
use tokio::time::Instant;

fn check<'a>(
    report: &'a resilience::HealthReport,
    contributor: Contributor,
    name: &str,
) -> &'a resilience::HealthCheck {
    report
        .checks
        .iter()
        .find(|c| c.contributor == contributor && c.name == name)
        .unwrap_or_else(|| panic!("no {contributor} `{name}` in {report:?}"))
}

#[resilience::test]
async fn nothing_registered_is_healthy_ready_and_live() {
    let report = registry().health().await;
    assert_eq!(report.status, HealthStatus::Healthy);
    assert!(report.checks.is_empty());
    assert!(registry().ready().await);
    assert!(registry().live());
}

#[resilience::test]
async fn an_open_breaker_degrades_and_a_critical_one_makes_unhealthy() {
    let inventory = registry()
        .circuit_breaker_or_register(CircuitBreaker::builder("h-inventory").failure_threshold(1))
        .unwrap();
    let payments = registry()
        .circuit_breaker_or_register(
            CircuitBreaker::builder("h-payments")
                .failure_threshold(1)
                .critical(true),
        )
        .unwrap();
    assert_eq!(registry().health().await.status, HealthStatus::Healthy);

    inventory.record_failure();
    let report = registry().health().await;
    assert_eq!(report.status, HealthStatus::Degraded);
    assert!(report.ready(), "an open breaker is coped with: still ready");
    assert_eq!(
        check(&report, Contributor::CircuitBreaker, "h-inventory").detail,
        "open"
    );

    payments.record_failure();
    let report = registry().health().await;
    assert_eq!(report.status, HealthStatus::Unhealthy);
    assert!(!report.ready());
    let row = check(&report, Contributor::CircuitBreaker, "h-payments");
    assert_eq!(row.detail, "open (critical)");
    // The worst first.
    assert_eq!(report.checks[0].name, "h-payments");

    // Half-open counts as open.
    tokio::time::advance(Duration::from_secs(31)).await;
    let probe = payments.try_acquire().unwrap();
    let report = registry().health().await;
    assert_eq!(
        check(&report, Contributor::CircuitBreaker, "h-payments").detail,
        "half-open (critical)"
    );
    probe.success();
    inventory.reset();
    assert_eq!(registry().health().await.status, HealthStatus::Healthy);
}

#[resilience::test]
async fn a_bulkhead_degrades_only_when_its_slots_and_queue_are_all_taken() {
    let bulkhead = registry()
        .bulkhead_or_register(Bulkhead::builder("h-render").max_concurrent(1).queue(1))
        .unwrap();
    let held = bulkhead.try_acquire().unwrap();
    assert_eq!(registry().health().await.status, HealthStatus::Healthy);
    let waiting = resilience::testing::spawn({
        let bulkhead = bulkhead.clone();
        async move {
            bulkhead
                .call(async { Ok::<_, resilience::Error>(()) })
                .await
        }
    });
    tokio::task::yield_now().await;
    let report = registry().health().await;
    assert_eq!(report.status, HealthStatus::Degraded);
    assert_eq!(
        check(&report, Contributor::Bulkhead, "h-render").detail,
        "full: 1/1 in flight, 1/1 queued"
    );
    drop(held);
    waiting.await.unwrap().unwrap();
    assert_eq!(registry().health().await.status, HealthStatus::Healthy);
}

#[resilience::test]
async fn checks_fail_by_error_panic_or_timeout_and_never_hold_health_past_their_timeout() {
    registry().add_check("h-ok", Duration::from_secs(1), || async {
        Ok::<_, String>(())
    });
    registry().add_check("h-db", Duration::from_secs(1), || async {
        Err::<(), _>(AppError::Down("database"))
    });
    registry()
        .add_check("h-disk", Duration::from_secs(1), || async {
            Err::<(), _>("disk 95% full")
        })
        .non_critical();
    registry().add_check("h-panics", Duration::from_secs(1), || async {
        panic!("the check broke");
        #[allow(unreachable_code)]
        Ok::<_, String>(())
    });
    registry().add_check("h-hangs", Duration::from_secs(2), || async {
        std::future::pending::<()>().await;
        Ok::<_, String>(())
    });

    let started = Instant::now();
    let report = registry().health().await;
    // All at once: the longest timeout, not the sum.
    assert_eq!(started.elapsed(), Duration::from_secs(2));
    assert_eq!(report.status, HealthStatus::Unhealthy);
    let detail = |name| check(&report, Contributor::Check, name).detail.clone();
    assert_eq!(detail("h-ok"), "ok");
    assert_eq!(detail("h-db"), "failed: down: database");
    assert_eq!(detail("h-disk"), "failed: disk 95% full (not critical)");
    assert_eq!(detail("h-panics"), "panicked: the check broke");
    assert_eq!(detail("h-hangs"), "timed out after 2s");
    assert_eq!(
        check(&report, Contributor::Check, "h-disk").status,
        HealthStatus::Degraded
    );

    // Without the critical ones, only the degraded disk is left.
    for name in ["h-db", "h-panics", "h-hangs"] {
        assert!(registry().remove_check(name));
    }
    assert!(!registry().remove_check("h-hangs"));
    let report = registry().health().await;
    assert_eq!(report.status, HealthStatus::Degraded);
    assert!(report.ready());
    assert_eq!(registry().check_names().len(), 2);
}

#[resilience::test]
async fn a_refused_configuration_is_unhealthy_until_a_good_one_applies() {
    assert!(registry()
        .apply(&Config::from_toml_str("[retry.h-x]\nmax_attempts = 2\n").unwrap())
        .is_ok());
    registry()
        .retry_or_register(resilience::Retry::builder("h-rate"))
        .unwrap();
    registry()
        .circuit_breaker_or_register(
            CircuitBreaker::builder("h-cb")
                .failure_rate(0.5)
                .window_calls(10),
        )
        .unwrap();
    let bad = Config::from_toml_str("[circuit_breaker.h-cb]\nmin_calls = 50\n").unwrap();
    assert!(registry().apply(&bad).is_err());
    let report = registry().health().await;
    assert_eq!(report.status, HealthStatus::Unhealthy);
    let row = check(&report, Contributor::Config, "config");
    assert!(row.detail.contains("min_calls"), "{}", row.detail);

    registry().apply(&Config::empty()).unwrap();
    assert_eq!(registry().health().await.status, HealthStatus::Healthy);
}

#[resilience::test]
async fn a_composite_called_by_name_and_defined_nowhere_degrades() {
    let ran: Result<u32, AppError> = registry().execute("h-undefined", || async { Ok(7) }).await;
    assert_eq!(ran, Ok(7));
    let report = registry().health().await;
    assert_eq!(report.status, HealthStatus::Degraded);
    assert!(check(&report, Contributor::Composite, "h-undefined")
        .detail
        .contains("unprotected"));
}

#[resilience::test]
async fn a_monitor_over_its_crash_limit_is_unhealthy_until_the_window_passes() {
    let monitor = registry()
        .health_monitor_or_register(
            HealthMonitor::builder("h-workers")
                .max_crashes(2)
                .window(Duration::from_secs(60)),
        )
        .unwrap();
    for worker in ["a", "b", "c"] {
        monitor.record_crash(worker, "exit code 1");
    }
    let report = registry().health().await;
    assert_eq!(report.status, HealthStatus::Unhealthy);
    assert_eq!(
        check(&report, Contributor::HealthMonitor, "h-workers").status,
        HealthStatus::Unhealthy
    );
    tokio::time::advance(Duration::from_secs(61)).await;
    assert_eq!(registry().health().await.status, HealthStatus::Healthy);
}

#[resilience::test]
async fn health_changes_are_events_and_the_snapshot_shows_health() {
    let mut events = registry().subscribe();
    let breaker = registry()
        .circuit_breaker_or_register(CircuitBreaker::builder("h-events").failure_threshold(1))
        .unwrap();
    registry().health().await;
    breaker.record_failure();
    registry().health().await;
    let changed = loop {
        match events.recv().await.unwrap() {
            Event::HealthChanged { from, to, .. } => break (from, to),
            _ => continue,
        }
    };
    assert_eq!(changed, (HealthStatus::Healthy, HealthStatus::Degraded));

    let snapshot = registry().snapshot();
    assert_eq!(snapshot.health().status, HealthStatus::Degraded);
    let table = snapshot.to_string();
    assert!(
        table.contains("health: degraded\n  degraded circuit_breaker `h-events`: open"),
        "{table}"
    );
}
