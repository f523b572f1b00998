//! The monitor in virtual time: windows, limits, forgetting, and bounded memory.

use std::time::Duration;

use tokio::time::advance;

use super::HealthMonitor;
use crate::ConfigError;

fn monitor(max_crashes: u32, window_secs: u64, max_worker_crashes: u32) -> HealthMonitor {
    HealthMonitor::builder("monitor-test")
        .max_crashes(max_crashes)
        .window(Duration::from_secs(window_secs))
        .max_worker_crashes(max_worker_crashes)
        .build()
        .unwrap()
}

#[test]
fn defaults_are_ten_crashes_in_sixty_seconds_and_three_per_worker() {
    let monitor = HealthMonitor::builder("defaults").build().unwrap();
    assert_eq!(monitor.name(), "defaults");
    assert_eq!(monitor.max_crashes(), 10);
    assert_eq!(monitor.window(), Duration::from_secs(60));
    assert_eq!(monitor.max_worker_crashes(), 3);
    assert_eq!(
        monitor.config_line(),
        "max_crashes=10 window=60s max_worker_crashes=3"
    );
    assert!(monitor.healthy());
    let stats = monitor.stats();
    assert_eq!((stats.total_crashes, stats.crashes_in_window), (0, 0));
    assert_eq!((stats.tracked_workers, stats.last_crash), (0, None));
}

#[test]
fn settings_out_of_range_are_refused_naming_the_key() {
    let key = |builder: super::HealthMonitorBuilder| match builder.build() {
        Err(ConfigError::OutOfRange { key, .. }) => key,
        other => panic!("expected OutOfRange, got {other:?}"),
    };
    let b = || HealthMonitor::builder("bad");
    assert_eq!(key(b().max_crashes(0)), "max_crashes");
    assert_eq!(key(b().max_crashes(100_001)), "max_crashes");
    assert_eq!(key(b().window(Duration::ZERO)), "window");
    assert_eq!(key(b().max_worker_crashes(0)), "max_worker_crashes");
    assert_eq!(key(b().max_worker_crashes(101)), "max_worker_crashes");
    assert_eq!(key(HealthMonitor::builder(" ")), "name");
    // The extremes that are allowed build.
    assert!(b()
        .max_crashes(100_000)
        .max_worker_crashes(100)
        .window(Duration::from_nanos(1))
        .build()
        .is_ok());
    assert!(b().window(Duration::MAX).build().is_ok());
}

#[tokio::test(start_paused = true)]
async fn max_crashes_in_the_window_is_healthy_one_more_is_not() {
    let monitor = monitor(3, 60, 100);
    for _ in 0..3 {
        monitor.record_crash("w", "boom");
    }
    assert!(monitor.healthy(), "at the limit");
    monitor.record_crash("w", "boom");
    assert!(!monitor.healthy(), "over the limit");
    let stats = monitor.stats();
    assert!(!stats.healthy);
    assert_eq!((stats.total_crashes, stats.crashes_in_window), (4, 4));
}

#[tokio::test(start_paused = true)]
async fn crashes_age_out_of_the_window_and_health_returns() {
    let monitor = monitor(2, 10, 3);
    // One crash a second, at 0, 1 and 2 s: over the limit.
    for second in 0..3 {
        monitor.record_crash(format!("w{second}"), "boom");
        advance(Duration::from_secs(1)).await;
    }
    assert!(!monitor.healthy());
    // At 10 s the first crash is exactly a window old: out of it.
    advance(Duration::from_secs(7) - Duration::from_millis(1)).await;
    assert!(
        !monitor.healthy(),
        "a millisecond before the first crash ages out"
    );
    advance(Duration::from_millis(1)).await;
    assert!(monitor.healthy());
    assert_eq!(monitor.stats().crashes_in_window, 2);
    advance(Duration::from_secs(2)).await;
    let stats = monitor.stats();
    assert_eq!((stats.crashes_in_window, stats.total_crashes), (0, 3));
    assert!(stats.healthy);
}

#[tokio::test(start_paused = true)]
async fn a_worker_is_unhealthy_past_its_own_limit_and_others_are_not() {
    let monitor = monitor(100, 60, 3);
    for _ in 0..3 {
        monitor.record_crash("flaky", "segfault");
    }
    monitor.record_crash("steady", "oom");
    let flaky = monitor.worker_health("flaky").unwrap();
    assert!(flaky.healthy, "3 crashes: at its limit");
    assert_eq!(flaky.crash_count, 3);
    monitor.record_crash("flaky", "segfault again");
    let flaky = monitor.worker_health("flaky").unwrap();
    assert!(!flaky.healthy);
    assert_eq!(flaky.crash_count, 4);
    assert_eq!(flaky.last_reason, "segfault again");
    let steady = monitor.worker_health("steady").unwrap();
    assert!(steady.healthy);
    assert_eq!(steady.crash_count, 1);
    assert!(
        monitor.healthy(),
        "5 crashes of the pool are within its limit of 100"
    );
    assert_eq!(monitor.worker_health("never-crashed"), None);

    // Past the limit the count stops at limit + 1: the worker is unhealthy either way.
    for _ in 0..10 {
        monitor.record_crash("flaky", "segfault");
    }
    assert_eq!(monitor.worker_health("flaky").unwrap().crash_count, 4);

    // Its crashes age out one by one, and it recovers.
    advance(Duration::from_secs(59)).await;
    monitor.record_crash("flaky", "once more");
    advance(Duration::from_secs(1)).await;
    let flaky = monitor.worker_health("flaky").unwrap();
    assert!(flaky.healthy);
    assert_eq!(flaky.crash_count, 1);
}

#[tokio::test(start_paused = true)]
async fn workers_idle_for_a_whole_window_are_forgotten() {
    let monitor = monitor(100, 60, 3);
    monitor.record_crash("idle", "boom");
    monitor.record_crash("busy", "boom");
    advance(Duration::from_secs(50)).await;
    monitor.record_crash("busy", "boom");
    assert_eq!(monitor.stats().tracked_workers, 2);
    advance(Duration::from_secs(10)).await;
    // "idle" crashed a window ago: forgotten; "busy" crashed 10 s ago: tracked, one crash in.
    assert_eq!(monitor.worker_health("idle"), None);
    assert_eq!(monitor.worker_health("busy").unwrap().crash_count, 1);
    assert_eq!(monitor.stats().tracked_workers, 1);
    advance(Duration::from_secs(50)).await;
    assert_eq!(monitor.worker_health("busy"), None);
    assert_eq!(monitor.stats().tracked_workers, 0);
    assert_eq!(monitor.footprint().1, (0, 0, 0));
}

#[tokio::test(start_paused = true)]
async fn a_million_distinct_workers_keep_the_tracked_count_bounded() {
    let monitor = monitor(10, 60, 3);
    let cap = HealthMonitor::MAX_TRACKED_WORKERS;
    for id in 0..1_000_000u32 {
        monitor.record_crash(id.to_string(), "boom");
        if id % 1_000 == 999 {
            // 1 ms per thousand crashes: a million take 1 s, well inside the window.
            advance(Duration::from_millis(1)).await;
        }
        if id % 100_000 == 99_999 {
            let (_, (workers, index, times)) = monitor.footprint();
            assert!(workers <= cap && index == workers && times == workers);
        }
    }
    let stats = monitor.stats();
    assert_eq!(stats.tracked_workers, cap);
    assert_eq!(stats.total_crashes, 1_000_000);
    assert_eq!(stats.crashes_in_window, 1_000_000, "all in one window");
    assert!(!stats.healthy);
    // The newest `cap` workers are tracked; the older ones made room for them.
    for id in [999_999u32, 995_000, 1_000_000 - 10_000] {
        let worker = monitor.worker_health(&id.to_string()).unwrap();
        assert!(worker.healthy);
        assert_eq!(worker.crash_count, 1);
    }
    for id in [0u32, 500_000, 1_000_000 - 10_001] {
        assert_eq!(monitor.worker_health(&id.to_string()), None, "{id}");
    }
    advance(Duration::from_secs(60)).await;
    let stats = monitor.stats();
    assert_eq!((stats.tracked_workers, stats.crashes_in_window), (0, 0));
    assert!(stats.healthy);
}

#[tokio::test(start_paused = true)]
async fn the_worker_idle_longest_makes_room_not_one_that_crashed_again() {
    let monitor = monitor(10, 60, 3);
    let cap = HealthMonitor::MAX_TRACKED_WORKERS;
    monitor.record_crash("first", "boom");
    monitor.record_crash("second", "boom");
    for id in 2..cap {
        monitor.record_crash(id.to_string(), "boom");
    }
    // "first" crashes again: now "second" is the one idle longest.
    monitor.record_crash("first", "boom");
    monitor.record_crash("newcomer", "boom");
    assert_eq!(monitor.stats().tracked_workers, cap);
    assert_eq!(monitor.worker_health("second"), None);
    assert_eq!(monitor.worker_health("first").unwrap().crash_count, 2);
    assert!(monitor.worker_health("newcomer").is_some());
}

#[tokio::test(start_paused = true)]
async fn a_million_crashes_of_one_worker_keep_memory_bounded() {
    let monitor = monitor(10, 60, 3);
    for n in 0..1_000_000u32 {
        monitor.record_crash("crashloop", "boom");
        if n % 10_000 == 0 {
            advance(Duration::from_millis(1)).await;
        }
    }
    let ((times, capacity), (workers, index, worker_times)) = monitor.footprint();
    assert_eq!(times, 11, "max_crashes + 1");
    assert!(capacity <= 32, "room for {capacity} times");
    assert_eq!(
        (workers, index, worker_times),
        (1, 1, 4),
        "max_worker_crashes + 1"
    );
    let stats = monitor.stats();
    assert_eq!(stats.total_crashes, 1_000_000);
    assert_eq!(stats.crashes_in_window, 1_000_000);
    let worker = monitor.worker_health("crashloop").unwrap();
    assert!(!worker.healthy);
    assert_eq!(worker.crash_count, 4);
}

#[tokio::test(start_paused = true)]
async fn the_count_past_the_limit_follows_the_window() {
    let monitor = monitor(10, 60, 3);
    // 100 crashes a second for two minutes.
    for _ in 0..120 {
        for worker in 0..100 {
            monitor.record_crash(worker.to_string(), "boom");
        }
        advance(Duration::from_secs(1)).await;
    }
    // The last 60 seconds hold 6000 crashes; the count may include up to one slot (60/64 s)
    // more of the oldest, never fewer.
    let in_window = monitor.stats().crashes_in_window;
    assert!((6_000..=6_100).contains(&in_window), "{in_window}");
    assert!(!monitor.healthy());
}

#[tokio::test(start_paused = true)]
async fn reset_forgets_every_crash_and_keeps_the_settings() {
    let monitor = monitor(1, 60, 1);
    monitor.record_crash("a", "boom");
    monitor.record_crash("a", "boom");
    assert!(!monitor.healthy());
    monitor.reset();
    assert!(monitor.healthy());
    assert_eq!(
        monitor.stats(),
        super::HealthMonitorStats {
            healthy: true,
            ..Default::default()
        }
    );
    assert_eq!(monitor.worker_health("a"), None);
    assert_eq!(monitor.max_crashes(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_reason_is_kept_short_whatever_it_writes() {
    struct Endless;
    impl std::fmt::Display for Endless {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            // Stops as soon as the writer refuses more.
            loop {
                f.write_str("spam ")?;
            }
        }
    }
    let monitor = monitor(10, 60, 3);
    monitor.record_crash("w", Endless);
    let reason = monitor.stats().last_reason.unwrap();
    assert!(reason.len() <= 256 && reason.ends_with('…'), "{reason}");
    assert_eq!(monitor.worker_health("w").unwrap().last_reason, reason);
    assert!(monitor.stats().last_crash.is_some());
}

#[test]
fn debug_shows_the_settings_and_counts_not_every_worker() {
    let monitor = HealthMonitor::builder("debug").build().unwrap();
    monitor.record_crash("worker-with-a-long-name", "boom");
    let text = format!("{monitor:?}");
    assert!(
        text.contains("\"debug\"") && text.contains("total_crashes: 1"),
        "{text}"
    );
    assert!(!text.contains("worker-with-a-long-name"), "{text}");
}
