//! Health monitors in the registry: shared by name, listed, reset, unregistered, and shown in
//! the snapshot's table. In virtual time.

use std::time::Duration;

use resilience::{registry, Event, HealthMonitor, PolicyKind, PolicyStats, Source};

fn row(name: &str) -> resilience::PolicySnapshot {
    registry()
        .policies()
        .into_iter()
        .find(|p| p.kind() == PolicyKind::HealthMonitor && p.name() == name)
        .unwrap_or_else(|| panic!("no health_monitor row named {name}"))
}

#[tokio::test(start_paused = true)]
async fn a_name_shares_one_monitor_and_the_first_registration_wins() {
    let mut events = registry().subscribe();
    let first = registry()
        .health_monitor_or_register(HealthMonitor::builder("reg-pool").max_crashes(2))
        .unwrap();
    let second = registry()
        .health_monitor_or_register(HealthMonitor::builder("reg-pool").max_crashes(5))
        .unwrap();
    assert!(std::sync::Arc::ptr_eq(&first, &second));
    assert_eq!(second.max_crashes(), 2, "the first registration's settings");
    first.record_crash("w1", "boom");
    assert_eq!(
        registry()
            .health_monitor("reg-pool")
            .unwrap()
            .stats()
            .total_crashes,
        1
    );
    assert!(registry().health_monitor("reg-nobody").is_none());

    // The disagreement is reported, and shown in the row.
    assert_eq!(row("reg-pool").conflicts(), ["max_crashes"]);
    let conflict = std::iter::from_fn(|| events.try_recv().ok()).find(|event| {
        matches!(event, Event::ConfigConflict { kind: PolicyKind::HealthMonitor, name, .. } if &**name == "reg-pool")
    });
    match conflict {
        Some(Event::ConfigConflict { keys, .. }) => assert_eq!(keys, ["max_crashes"]),
        other => panic!("no conflict event: {other:?}"),
    }
    // A registration that agrees, or gives only the name, is no conflict.
    registry()
        .health_monitor_or_register(HealthMonitor::builder("reg-pool").max_crashes(2))
        .unwrap();
    registry()
        .health_monitor_or_register(HealthMonitor::builder("reg-pool"))
        .unwrap();
    assert_eq!(row("reg-pool").conflicts(), ["max_crashes"]);
}

#[test]
fn a_refused_builder_is_an_error_even_when_the_name_exists() {
    registry()
        .health_monitor_or_register(HealthMonitor::builder("reg-refused"))
        .unwrap();
    let refused = registry()
        .health_monitor_or_register(HealthMonitor::builder("reg-refused").max_worker_crashes(0));
    assert!(matches!(
        refused,
        Err(resilience::ConfigError::OutOfRange {
            key: "max_worker_crashes",
            ..
        })
    ));
    assert!(registry()
        .health_monitor_or_register(HealthMonitor::builder("reg-never").window(Duration::ZERO))
        .is_err());
    assert!(registry().health_monitor("reg-never").is_none());
}

#[tokio::test(start_paused = true)]
async fn the_snapshot_shows_a_monitor_row() {
    let monitor = registry()
        .health_monitor_or_register(
            HealthMonitor::builder("reg-table")
                .max_crashes(1)
                .window(Duration::from_secs(30)),
        )
        .unwrap();
    let row_now = row("reg-table");
    assert_eq!(
        row_now.config(),
        "max_crashes=1 window=30s max_worker_crashes=3"
    );
    assert_eq!(row_now.source_of("max_crashes"), Source::Code);
    assert_eq!(row_now.source_of("window"), Source::Code);
    assert_eq!(row_now.source_of("max_worker_crashes"), Source::Default);
    let line = |table: String| {
        table
            .lines()
            .find(|line| line.contains("reg-table"))
            .unwrap()
            .to_owned()
    };
    let healthy = line(registry().snapshot().to_string());
    assert!(healthy.starts_with("health_monitor"), "{healthy}");
    assert!(healthy.contains(" healthy "), "{healthy}");
    assert!(healthy.ends_with("crashes=0 in_window=0"), "{healthy}");

    monitor.record_crash("w1", "boom");
    monitor.record_crash("w2", "boom");
    let unhealthy = line(registry().snapshot().to_string());
    assert!(unhealthy.contains(" unhealthy "), "{unhealthy}");
    assert!(unhealthy.ends_with("crashes=2 in_window=2"), "{unhealthy}");
    match row("reg-table").stats() {
        PolicyStats::HealthMonitor(stats) => {
            assert!(!stats.healthy);
            assert_eq!(stats.tracked_workers, 2);
        }
        other => panic!("{other:?}"),
    }

    tokio::time::advance(Duration::from_secs(30)).await;
    let aged = line(registry().snapshot().to_string());
    assert!(
        aged.contains(" healthy ") && aged.ends_with("crashes=2 in_window=0"),
        "{aged}"
    );
}

#[tokio::test(start_paused = true)]
async fn reset_and_unregister_reach_monitors() {
    let monitor = registry()
        .health_monitor_or_register(HealthMonitor::builder("reg-life").max_crashes(1))
        .unwrap();
    monitor.record_crash("w", "boom");
    monitor.record_crash("w", "boom");
    assert!(registry().policy_names().contains(&"reg-life".to_owned()));
    assert!(registry().reset("reg-life"));
    assert!(monitor.healthy());
    assert_eq!(monitor.stats().total_crashes, 0);

    monitor.record_crash("w", "boom");
    assert!(registry().unregister_policy("reg-life"));
    assert!(registry().health_monitor("reg-life").is_none());
    assert!(!registry().policy_names().contains(&"reg-life".to_owned()));
    assert!(!registry().policies().iter().any(|p| p.name() == "reg-life"));

    // The next registration revives the same object, fresh, with its own settings: whoever
    // holds the monitor records into the registered one.
    let again = registry()
        .health_monitor_or_register(HealthMonitor::builder("reg-life").max_crashes(7))
        .unwrap();
    assert!(std::sync::Arc::ptr_eq(&monitor, &again));
    assert_eq!(again.max_crashes(), 7);
    assert_eq!(again.stats().total_crashes, 0);
}
