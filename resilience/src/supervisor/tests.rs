use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::test_child::{settle, Command, Driver};
use super::*;
use crate::{
    registry, Backoff, ConfigError, Contributor, Event, HealthStatus, PolicyKind, PolicyStats,
};

fn log(entries: &[&str]) -> Vec<String> {
    entries.iter().map(|entry| (*entry).to_owned()).collect()
}

fn three(driver: &Driver, name: &str, strategy: Strategy) -> Supervisor {
    Supervisor::builder(name)
        .strategy(strategy)
        .intensity(10, Duration::from_secs(5))
        .child(driver.child("a", Restart::Permanent, false))
        .child(driver.child("b", Restart::Permanent, false))
        .child(driver.child("c", Restart::Permanent, false))
        .build()
        .unwrap()
}

#[tokio::test(start_paused = true)]
async fn children_start_in_order_and_one_for_one_restarts_only_the_one() {
    let driver = Driver::default();
    let supervisor = three(&driver, "t-one-for-one", Strategy::OneForOne);
    let run = tokio::spawn(async move { supervisor.run().await });
    settle().await;
    assert_eq!(driver.take_log(), log(&["start a", "start b", "start c"]));
    driver.send("b", Command::Crash);
    settle().await;
    assert_eq!(driver.take_log(), log(&["start b"]));
    run.abort();
}

#[tokio::test(start_paused = true)]
async fn one_for_all_stops_the_others_in_reverse_then_starts_all_in_order() {
    let driver = Driver::default();
    let supervisor = three(&driver, "t-one-for-all", Strategy::OneForAll);
    let run = tokio::spawn(async move { supervisor.run().await });
    settle().await;
    driver.take_log();
    driver.send("b", Command::Crash);
    settle().await;
    assert_eq!(
        driver.take_log(),
        log(&["stop c", "stop a", "start a", "start b", "start c"])
    );
    run.abort();
}

#[tokio::test(start_paused = true)]
async fn rest_for_one_restarts_the_one_and_those_after_it() {
    let driver = Driver::default();
    let supervisor = three(&driver, "t-rest-for-one", Strategy::RestForOne);
    let run = tokio::spawn(async move { supervisor.run().await });
    settle().await;
    driver.take_log();
    driver.send("b", Command::Crash);
    settle().await;
    assert_eq!(driver.take_log(), log(&["stop c", "start b", "start c"]));
    run.abort();
}

#[tokio::test(start_paused = true)]
async fn restart_types_decide_and_run_ends_when_nothing_is_left() {
    let driver = Driver::default();
    let supervisor = Supervisor::builder("t-restart-types")
        .child(driver.child("permanent", Restart::Permanent, false))
        .child(driver.child("transient", Restart::Transient, false))
        .child(driver.child("temporary", Restart::Temporary, false))
        .build()
        .unwrap();
    let run = tokio::spawn(async move { supervisor.run().await });
    settle().await;
    driver.take_log();
    driver.send("transient", Command::Exit);
    driver.send("temporary", Command::Crash);
    settle().await;
    assert_eq!(driver.take_log(), Vec::<String>::new(), "neither restarted");
    driver.send("permanent", Command::Exit);
    settle().await;
    assert_eq!(
        driver.take_log(),
        log(&["start permanent"]),
        "a normal exit too"
    );
    assert!(!run.is_finished());
    // A transient child's crash is restarted.
    let driver2 = Driver::default();
    let transient = Supervisor::builder("t-restart-transient")
        .child(driver2.child("job", Restart::Transient, false))
        .build()
        .unwrap();
    let run2 = tokio::spawn(async move { transient.run().await });
    settle().await;
    driver2.send("job", Command::Crash);
    settle().await;
    assert_eq!(driver2.take_log(), log(&["start job", "start job"]));
    driver2.send("job", Command::Exit);
    settle().await;
    assert_eq!(run2.await.unwrap(), Ok(()), "nothing left to run");
    run.abort();
}

#[tokio::test(start_paused = true)]
async fn a_panic_is_a_crash() {
    let mut events = registry().subscribe();
    let driver = Driver::default();
    let supervisor = Supervisor::builder("t-panic")
        .child(driver.child("job", Restart::Transient, false))
        .build()
        .unwrap();
    let run = tokio::spawn(async move { supervisor.run().await });
    settle().await;
    driver.send("job", Command::Panic);
    settle().await;
    assert_eq!(driver.take_log(), log(&["start job", "start job"]));
    let reason = loop {
        match events.recv().await.unwrap() {
            Event::ChildRestarted {
                supervisor, reason, ..
            } if &*supervisor == "t-panic" => break reason,
            _ => {}
        }
    };
    assert_eq!(reason, "panicked: job panicked");
    run.abort();
}

#[tokio::test(start_paused = true)]
async fn more_restarts_than_the_intensity_stops_everything_and_gives_up() {
    let mut events = registry().subscribe();
    let driver = Driver::default();
    let supervisor = Supervisor::builder("t-give-up")
        .intensity(2, Duration::from_secs(5))
        .child(driver.child("a", Restart::Permanent, false))
        .child(driver.child("b", Restart::Permanent, false))
        .child(driver.child("c", Restart::Permanent, false))
        .build()
        .unwrap();
    let supervisor = Arc::new(supervisor);
    let running = Arc::clone(&supervisor);
    let run = tokio::spawn(async move { running.run().await });
    settle().await;
    driver.take_log();
    driver.send("b", Command::Crash);
    settle().await;
    tokio::time::advance(Duration::from_secs(5)).await;
    driver.send("b", Command::Crash);
    settle().await;
    // 5.001 s after the first restart: it fell out of the period.
    driver.send("b", Command::Crash);
    settle().await;
    assert_eq!(driver.take_log(), log(&["start b", "start b", "start b"]));
    let gave_up = || {
        registry()
            .supervisors_gave_up()
            .contains(&Arc::from("t-give-up"))
    };
    assert!(!gave_up());
    driver.send("b", Command::Crash);
    let result = run.await.unwrap();
    assert_eq!(
        result,
        Err(SupervisorError::GaveUp {
            supervisor: Arc::from("t-give-up"),
            child: Arc::from("b"),
            restarts: 3,
        })
    );
    assert_eq!(
        driver.take_log(),
        log(&["stop c", "stop a"]),
        "stopped in reverse"
    );
    assert!(supervisor.stats().gave_up);
    assert_eq!(supervisor.stats().running, 0);
    assert_eq!(supervisor.stats().restarts, 3);

    assert!(!registry().live());
    let health = registry().health_now();
    let row = health
        .checks
        .iter()
        .find(|c| c.contributor == Contributor::Supervisor && c.name == "t-give-up")
        .unwrap();
    assert_eq!(row.status, HealthStatus::Unhealthy);
    let monitor = registry().health_monitor("t-give-up").unwrap();
    assert_eq!(
        monitor.stats().total_crashes,
        3,
        "each restart fed the monitor"
    );

    let mut restarted = 0;
    let gave_up_event = loop {
        match events.recv().await.unwrap() {
            Event::ChildRestarted { supervisor, .. } if &*supervisor == "t-give-up" => {
                restarted += 1;
            }
            event @ Event::SupervisorGaveUp { .. } if event.name() == Some("t-give-up") => {
                break event
            }
            _ => {}
        }
    };
    assert_eq!(restarted, 3);
    assert_eq!(gave_up_event.kind(), Some(PolicyKind::Supervisor));

    // Running again clears it.
    let again = Arc::clone(&supervisor);
    let rerun = tokio::spawn(async move { again.run().await });
    settle().await;
    assert!(!supervisor.stats().gave_up);
    assert!(!gave_up());
    rerun.abort();
}

#[tokio::test(start_paused = true)]
async fn a_child_that_ignores_the_stop_is_aborted_after_its_shutdown_timeout() {
    let driver = Driver::default();
    let supervisor = Supervisor::builder("t-stubborn")
        .strategy(Strategy::OneForAll)
        .child(
            driver
                .child("stubborn", Restart::Permanent, true)
                .shutdown_timeout(Duration::from_secs(2)),
        )
        .child(driver.child("b", Restart::Permanent, false))
        .build()
        .unwrap();
    let run = tokio::spawn(async move { supervisor.run().await });
    settle().await;
    driver.take_log();
    let crashed_at = Instant::now();
    driver.send("b", Command::Crash);
    // The first start of `stubborn` is aborted 2 s on, then both start again.
    tokio::time::sleep(Duration::from_millis(1999)).await;
    assert_eq!(
        driver.take_log(),
        Vec::<String>::new(),
        "still waiting for it"
    );
    tokio::time::sleep(Duration::from_millis(2)).await;
    assert_eq!(driver.take_log(), log(&["start stubborn", "start b"]));
    assert!(Instant::now() - crashed_at >= Duration::from_secs(2));
    run.abort();
}

#[tokio::test(start_paused = true)]
async fn backoff_delays_the_restart() {
    let starts = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = Arc::clone(&starts);
    let began = Instant::now();
    let supervisor = Supervisor::builder("t-backoff")
        .intensity(3, Duration::from_secs(60))
        .backoff(Backoff::Exponential {
            base: Duration::from_secs(1),
            factor: 2.0,
        })
        .child(ChildSpec::new("flaky", move || {
            seen.lock().unwrap().push(began.elapsed());
            async { Err::<(), _>("down") }
        }))
        .build()
        .unwrap();
    let result = supervisor.run().await;
    assert!(matches!(
        result,
        Err(SupervisorError::GaveUp { restarts: 4, .. })
    ));
    let secs: Vec<u64> = starts.lock().unwrap().iter().map(|d| d.as_secs()).collect();
    assert_eq!(secs, [0, 1, 3, 7], "1 s, 2 s, 4 s between restarts");
}

#[tokio::test(start_paused = true)]
async fn a_nested_supervisor_that_gives_up_is_its_parents_crash() {
    let inner_starts = Arc::new(AtomicU32::new(0));
    let counted = Arc::clone(&inner_starts);
    let parent = Supervisor::builder("t-parent")
        .intensity(1, Duration::from_secs(5))
        .child(ChildSpec::new("inner", move || {
            let counted = Arc::clone(&counted);
            async move {
                let inner = Supervisor::builder("t-inner")
                    .intensity(1, Duration::from_secs(5))
                    .child(ChildSpec::new("worker", move || {
                        counted.fetch_add(1, Ordering::Relaxed);
                        async { Err::<(), _>("broken") }
                    }))
                    .build()
                    .map_err(|e| e.to_string())?;
                inner.run().await.map_err(|e| e.to_string())
            }
        }))
        .build()
        .unwrap();
    let result = parent.run().await;
    assert!(
        matches!(&result, Err(SupervisorError::GaveUp { child, restarts: 2, .. }) if &**child == "inner"),
        "{result:?}"
    );
    assert_eq!(
        inner_starts.load(Ordering::Relaxed),
        4,
        "two runs of the inner one, each a start and a restart"
    );
}

#[tokio::test(start_paused = true)]
async fn a_nested_supervisor_stopped_by_its_parent_stops_its_children() {
    let driver = Driver::default();
    let inner_driver = driver.clone();
    let parent = Supervisor::builder("t-parent-stop")
        .strategy(Strategy::OneForAll)
        .child(ChildSpec::new("inner", move || {
            let driver = inner_driver.clone();
            async move {
                let inner = Supervisor::builder("t-inner-stop")
                    .child(driver.child("x", Restart::Permanent, false))
                    .child(driver.child("y", Restart::Permanent, false))
                    .build()
                    .map_err(|e| e.to_string())?;
                inner.run().await.map_err(|e| e.to_string())
            }
        }))
        .child(driver.child("sibling", Restart::Permanent, false))
        .build()
        .unwrap();
    let run = tokio::spawn(async move { parent.run().await });
    settle().await;
    // The inner supervisor starts its children when its task first runs: after the parent
    // spawned `sibling`.
    assert_eq!(
        driver.take_log(),
        log(&["start sibling", "start x", "start y"])
    );
    driver.send("sibling", Command::Crash);
    settle().await;
    assert_eq!(
        driver.take_log(),
        log(&["stop y", "stop x", "start sibling", "start x", "start y"]),
        "the inner one stopped its children in reverse before it ended"
    );
    run.abort();
}

#[tokio::test(start_paused = true)]
async fn dropping_the_run_aborts_the_children() {
    let driver = Driver::default();
    let supervisor = three(&driver, "t-drop", Strategy::OneForOne);
    let probe = Arc::new(());
    let held = Arc::clone(&probe);
    let supervisor = Supervisor::builder("t-drop-probe")
        .child(ChildSpec::new("holder", move || {
            let held = Arc::clone(&held);
            async move {
                std::future::pending::<()>().await;
                drop(held);
                Ok::<(), String>(())
            }
        }))
        .build()
        .map(|probe_supervisor| (supervisor, probe_supervisor))
        .unwrap();
    let (plain, probed) = supervisor;
    let run = tokio::spawn(async move { tokio::join!(plain.run(), probed.run()) });
    settle().await;
    assert_eq!(
        Arc::strong_count(&probe),
        3,
        "the factory's copy and the child's"
    );
    run.abort();
    settle().await;
    assert_eq!(
        Arc::strong_count(&probe),
        1,
        "the child's task is gone with the run"
    );
}

#[tokio::test(start_paused = true)]
async fn the_registry_shows_the_supervisor() {
    let driver = Driver::default();
    let supervisor = three(&driver, "t-registry", Strategy::RestForOne);
    let run = tokio::spawn(async move { supervisor.run().await });
    settle().await;
    driver.send("c", Command::Crash);
    settle().await;
    let row = registry()
        .policies()
        .into_iter()
        .find(|p| p.kind() == PolicyKind::Supervisor && p.name() == "t-registry")
        .unwrap();
    let PolicyStats::Supervisor(stats) = row.stats() else {
        panic!("{row:?}");
    };
    assert_eq!((stats.children, stats.running, stats.restarts), (3, 3, 1));
    assert_eq!(
        row.config(),
        "rest_for_one, at most 10 restart(s) in 5s, 3 child(ren)"
    );
    assert!(registry().snapshot().to_string().contains("t-registry"));
    run.abort();
}

#[test]
fn build_refuses_settings_it_cannot_honour() {
    let twice = Supervisor::builder("t-build")
        .child(ChildSpec::new("w", || async { Ok::<(), String>(()) }))
        .child(ChildSpec::new("w", || async { Ok::<(), String>(()) }))
        .build();
    assert!(matches!(
        twice,
        Err(ConfigError::OutOfRange { key: "child", .. })
    ));
    let zero = Supervisor::builder("t-build")
        .intensity(1, Duration::ZERO)
        .build();
    assert!(matches!(
        zero,
        Err(ConfigError::OutOfRange { key: "period", .. })
    ));
    let blank = Supervisor::builder(" ").build();
    assert!(matches!(
        blank,
        Err(ConfigError::OutOfRange { key: "name", .. })
    ));
    let factor = Supervisor::builder("t-build")
        .backoff(Backoff::Exponential {
            base: Duration::from_secs(1),
            factor: 0.5,
        })
        .build();
    assert!(matches!(
        factor,
        Err(ConfigError::OutOfRange { key: "factor", .. })
    ));
    let jitter = Supervisor::builder("t-build")
        .jitter(crate::Jitter::Proportional(1.5))
        .build();
    assert!(matches!(
        jitter,
        Err(ConfigError::OutOfRange { key: "jitter", .. })
    ));
}
