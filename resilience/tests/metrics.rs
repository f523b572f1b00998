//! The `metrics` feature: what reaches an installed recorder, and what does not.
//!
//! Run with `cargo test -p resilience --all-features`.

#![cfg(feature = "metrics")]

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use resilience::{registry, Bulkhead, CircuitBreaker, Error, HealthMonitor, Retry, Timeout};

/// The one recorder of this test binary: the facade takes a single global recorder.
fn snapshotter() -> &'static Snapshotter {
    static SNAPSHOTTER: OnceLock<Snapshotter> = OnceLock::new();
    SNAPSHOTTER.get_or_init(|| {
        let recorder = DebuggingRecorder::new();
        let snapshotter = recorder.snapshotter();
        recorder
            .install()
            .expect("no other recorder is installed in this binary");
        snapshotter
    })
}

/// The recorder and the registry are process-wide, and `record_metrics` exports every registered
/// policy: a test exporting while another one moves its breaker could write a stale gauge over
/// the other's. The tests of this file therefore run one at a time.
async fn one_at_a_time() -> tokio::sync::MutexGuard<'static, ()> {
    static LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    LOCK.lock().await
}

/// The value of the metric with exactly these labels, if it was recorded.
fn value(name: &str, labels: &[(&str, &str)]) -> Option<DebugValue> {
    snapshotter()
        .snapshot()
        .into_vec()
        .into_iter()
        .find(|(key, _, _, _)| {
            let key = key.key();
            let mut recorded: Vec<(&str, &str)> =
                key.labels().map(|l| (l.key(), l.value())).collect();
            let mut wanted = labels.to_vec();
            recorded.sort_unstable();
            wanted.sort_unstable();
            key.name() == name && recorded == wanted
        })
        .map(|(_, _, _, value)| value)
}

fn counter(name: &str, labels: &[(&str, &str)]) -> u64 {
    match value(name, labels) {
        Some(DebugValue::Counter(n)) => n,
        other => panic!("{name}{labels:?} is not a recorded counter: {other:?}"),
    }
}

fn gauge(name: &str, labels: &[(&str, &str)]) -> f64 {
    match value(name, labels) {
        Some(DebugValue::Gauge(g)) => g.into_inner(),
        other => panic!("{name}{labels:?} is not a recorded gauge: {other:?}"),
    }
}

async fn fail() -> Result<(), Error> {
    Err(Error::BulkheadFull {
        name: "dependency".into(),
        max_concurrent: 1,
    })
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn breaker_transitions_and_rejections_are_counted_as_they_happen() {
    let _serial = one_at_a_time().await;
    snapshotter();
    let name = "metrics-breaker";
    let breaker = registry()
        .circuit_breaker_or_register(
            CircuitBreaker::builder(name)
                .failure_threshold(2)
                .reset_timeout(Duration::from_secs(10)),
        )
        .unwrap();
    breaker.record_failure();
    breaker.record_failure();
    let rejected: Result<(), Error> = breaker.call(async { Ok(()) }).await;
    assert!(matches!(rejected, Err(Error::CircuitOpen { .. })));

    let labels = [("name", name), ("from", "closed"), ("to", "open")];
    assert_eq!(counter("resilience_circuit_transitions_total", &labels), 1);
    assert_eq!(gauge("resilience_circuit_state", &[("name", name)]), 1.0);
    let labels = [("kind", "circuit_breaker"), ("name", name)];
    assert_eq!(counter("resilience_rejections_total", &labels), 1);

    tokio::time::advance(Duration::from_secs(10)).await;
    let probe: Result<(), Error> = breaker.call(async { Ok(()) }).await;
    assert!(probe.is_ok());
    // Open -> half-open -> closed: the gauge follows the last transition.
    assert_eq!(gauge("resilience_circuit_state", &[("name", name)]), 0.0);
    let labels = [("name", name), ("from", "half-open"), ("to", "closed")];
    assert_eq!(counter("resilience_circuit_transitions_total", &labels), 1);
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn retries_exhaustion_and_timeouts_are_counted() {
    let _serial = one_at_a_time().await;
    snapshotter();
    let retry = registry()
        .retry_or_register(Retry::builder("metrics-retry").max_attempts(3).no_backoff())
        .unwrap();
    assert!(retry.call(fail).await.is_err());
    assert_eq!(
        counter("resilience_retries_total", &[("name", "metrics-retry")]),
        2
    );
    assert_eq!(
        counter(
            "resilience_retries_exhausted_total",
            &[("name", "metrics-retry")]
        ),
        1
    );

    let timeout = registry()
        .timeout_or_register(Timeout::builder("metrics-timeout").duration(Duration::from_millis(5)))
        .unwrap();
    let slow = timeout
        .call(async {
            tokio::time::sleep(Duration::from_secs(1)).await;
            Ok::<(), Error>(())
        })
        .await;
    assert!(matches!(slow, Err(Error::Timeout { .. })));
    assert_eq!(
        counter("resilience_timeouts_total", &[("name", "metrics-timeout")]),
        1
    );
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn record_metrics_exports_success_counts_and_live_gauges() {
    let _serial = one_at_a_time().await;
    snapshotter();
    let breaker = registry()
        .circuit_breaker_or_register(CircuitBreaker::builder("metrics-record"))
        .unwrap();
    for _ in 0..3 {
        let ok: Result<(), Error> = breaker.call(async { Ok(()) }).await;
        assert!(ok.is_ok());
    }
    breaker.record_failure();
    let bulkhead = registry()
        .bulkhead_or_register(Bulkhead::builder("metrics-bulkhead").max_concurrent(2))
        .unwrap();
    let _held = bulkhead.try_acquire().unwrap();

    registry().record_metrics();

    let calls = |outcome| {
        counter(
            "resilience_calls_total",
            &[
                ("kind", "circuit_breaker"),
                ("name", "metrics-record"),
                ("outcome", outcome),
            ],
        )
    };
    assert_eq!((calls("success"), calls("failure")), (3, 1));
    assert_eq!(calls("rejected"), 0);
    assert_eq!(
        gauge("resilience_circuit_state", &[("name", "metrics-record")]),
        0.0
    );
    let name = [("name", "metrics-bulkhead")];
    assert_eq!(gauge("resilience_bulkhead_in_flight", &name), 1.0);
    assert_eq!(gauge("resilience_bulkhead_available", &name), 1.0);
    assert_eq!(gauge("resilience_bulkhead_queued", &name), 0.0);

    // Recording again adds nothing new.
    registry().record_metrics();
    assert_eq!(calls("success"), 3);

    // A reset zeroes the stats but not the exported counter, which must never go down: the
    // successes after the reset are added to it.
    assert!(registry().reset("metrics-record"));
    let ok: Result<(), Error> = breaker.call(async { Ok(()) }).await;
    assert!(ok.is_ok());
    registry().record_metrics();
    assert_eq!(calls("success"), 4);
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn successful_calls_do_not_reach_the_recorder() {
    let _serial = one_at_a_time().await;
    snapshotter();
    // Not registered: the other tests' `record_metrics` (running in parallel) export every
    // registered policy, and would put its name in the recorder.
    let breaker = CircuitBreaker::builder("metrics-quiet").build().unwrap();
    for _ in 0..100 {
        let ok: Result<(), Error> = breaker.call(async { Ok(()) }).await;
        assert!(ok.is_ok());
    }
    let mentions_quiet = snapshotter()
        .snapshot()
        .into_vec()
        .into_iter()
        .any(|(key, _, _, _)| key.key().labels().any(|l| l.value() == "metrics-quiet"));
    assert!(
        !mentions_quiet,
        "a success path fed the metrics facade without record_metrics"
    );
}

/// `resilience_calls_total{kind="timeout",name,outcome}`.
fn timeout_calls(name: &str, outcome: &str) -> u64 {
    counter(
        "resilience_calls_total",
        &[("kind", "timeout"), ("name", name), ("outcome", outcome)],
    )
}

/// Starts a call through `timeout` that takes `work`, on its own task, and lets it run until it
/// waits.
async fn spawn_call(
    timeout: &Arc<Timeout>,
    work: Duration,
) -> tokio::task::JoinHandle<Result<(), Error>> {
    let timeout = Arc::clone(timeout);
    let handle = tokio::spawn(async move {
        timeout
            .call(async {
                tokio::time::sleep(work).await;
                Ok::<(), Error>(())
            })
            .await
    });
    tokio::task::yield_now().await;
    handle
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn calls_that_all_time_out_export_no_in_time() {
    let _serial = one_at_a_time().await;
    snapshotter();
    let name = "metrics-timeout-all-late";
    let timeout = registry()
        .timeout_or_register(Timeout::builder(name).duration(Duration::from_millis(10)))
        .unwrap();
    let mut calls = Vec::new();
    for _ in 0..5 {
        calls.push(spawn_call(&timeout, Duration::from_secs(1)).await);
    }

    // In flight: started, neither in time nor timed out yet.
    let stats = timeout.stats();
    assert_eq!((stats.calls, stats.in_time, stats.timeouts), (5, 0, 0));
    registry().record_metrics();
    assert_eq!(timeout_calls(name, "in_time"), 0);
    assert_eq!(timeout_calls(name, "timed_out"), 0);

    tokio::time::advance(Duration::from_millis(10)).await;
    for call in calls {
        assert!(matches!(call.await.unwrap(), Err(Error::Timeout { .. })));
    }
    let stats = timeout.stats();
    assert_eq!((stats.calls, stats.in_time, stats.timeouts), (5, 0, 5));
    registry().record_metrics();
    assert_eq!(timeout_calls(name, "in_time"), 0);
    assert_eq!(timeout_calls(name, "timed_out"), 5);
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn calls_in_time_and_timed_out_export_exactly_that() {
    let _serial = one_at_a_time().await;
    snapshotter();
    let name = "metrics-timeout-mixed";
    let timeout = registry()
        .timeout_or_register(Timeout::builder(name).duration(Duration::from_millis(10)))
        .unwrap();
    let mut calls = Vec::new();
    for work in [5, 1000, 5, 1000, 5] {
        calls.push(spawn_call(&timeout, Duration::from_millis(work)).await);
    }
    registry().record_metrics();

    tokio::time::advance(Duration::from_millis(10)).await;
    let mut timed_out = 0;
    for call in calls {
        if let Err(error) = call.await.unwrap() {
            assert!(matches!(error, Error::Timeout { .. }), "{error:?}");
            timed_out += 1;
        }
    }
    assert_eq!(timed_out, 2);
    let stats = timeout.stats();
    assert_eq!((stats.calls, stats.in_time, stats.timeouts), (5, 3, 2));
    let row = registry()
        .policies()
        .into_iter()
        .find(|p| p.name == name)
        .unwrap();
    assert_eq!(row.stats, resilience::PolicyStats::Timeout(stats));

    registry().record_metrics();
    assert_eq!(timeout_calls(name, "in_time"), 3);
    assert_eq!(timeout_calls(name, "timed_out"), 2);

    // A call ready at its first poll arms no timer, and is in time all the same.
    let at_once = timeout.call(async { Ok::<_, Error>(()) }).await;
    assert!(at_once.is_ok());
    registry().record_metrics();
    assert_eq!(timeout_calls(name, "in_time"), 4);
    assert_eq!(timeout_calls(name, "timed_out"), 2);
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn repeated_record_metrics_never_count_twice() {
    let _serial = one_at_a_time().await;
    snapshotter();
    let name = "metrics-timeout-repeat";
    let timeout = registry()
        .timeout_or_register(Timeout::builder(name).duration(Duration::from_millis(10)))
        .unwrap();
    let late = spawn_call(&timeout, Duration::from_secs(1)).await;
    for _ in 0..3 {
        let ok = timeout.call(async { Ok::<_, Error>(()) }).await;
        assert!(ok.is_ok());
    }
    tokio::time::advance(Duration::from_millis(10)).await;
    assert!(late.await.unwrap().is_err());

    for _ in 0..3 {
        registry().record_metrics();
    }
    // From several threads at once, too: each reads the stats under the exporter's lock.
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| registry().record_metrics());
        }
    });
    assert_eq!(timeout_calls(name, "in_time"), 3);
    assert_eq!(timeout_calls(name, "timed_out"), 1);
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_registry_reset_loses_no_count_and_counts_none_twice() {
    let _serial = one_at_a_time().await;
    snapshotter();
    let name = "metrics-timeout-reset";
    let timeout = registry()
        .timeout_or_register(Timeout::builder(name).duration(Duration::from_millis(10)))
        .unwrap();
    let in_time = || async {
        let ok = timeout.call(async { Ok::<_, Error>(()) }).await;
        assert!(ok.is_ok());
    };
    for _ in 0..3 {
        in_time().await;
    }
    registry().record_metrics();
    assert_eq!(timeout_calls(name, "in_time"), 3);

    // Two more before the reset, not exported yet; then more after it than the stat held
    // before, which a reset told only by a drop of the stat would miss.
    in_time().await;
    in_time().await;
    assert!(registry().reset(name));
    assert_eq!(timeout.stats().in_time, 0);
    for _ in 0..7 {
        in_time().await;
    }
    registry().record_metrics();
    assert_eq!(timeout_calls(name, "in_time"), 3 + 2 + 7);
    registry().record_metrics();
    assert_eq!(timeout_calls(name, "in_time"), 12);

    // A reset with nothing exported in between, and a scrape right after it.
    in_time().await;
    assert!(registry().reset(name));
    registry().record_metrics();
    assert_eq!(timeout_calls(name, "in_time"), 13);
    assert_eq!(timeout_calls(name, "timed_out"), 0);
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_health_monitor_exports_its_crashes_and_its_health() {
    let _serial = one_at_a_time().await;
    snapshotter();
    let monitor = registry()
        .health_monitor_or_register(
            HealthMonitor::builder("metrics-monitor")
                .max_crashes(1)
                .window(Duration::from_secs(10)),
        )
        .unwrap();
    monitor.record_crash("w1", "boom");
    monitor.record_crash("w2", "boom");
    registry().record_metrics();
    let name = [("name", "metrics-monitor")];
    let crashes = || {
        counter(
            "resilience_calls_total",
            &[
                ("kind", "health_monitor"),
                ("name", "metrics-monitor"),
                ("outcome", "crash"),
            ],
        )
    };
    assert_eq!(crashes(), 2);
    assert_eq!(
        gauge("resilience_health_monitor_crashes_in_window", &name),
        2.0
    );
    assert_eq!(gauge("resilience_health_monitor_healthy", &name), 0.0);

    // The window passes: health returns, the counter keeps what it counted.
    tokio::time::advance(Duration::from_secs(10)).await;
    assert!(registry().reset("metrics-monitor"));
    monitor.record_crash("w1", "boom");
    registry().record_metrics();
    assert_eq!(crashes(), 3);
    assert_eq!(
        gauge("resilience_health_monitor_crashes_in_window", &name),
        1.0
    );
    assert_eq!(gauge("resilience_health_monitor_healthy", &name), 1.0);
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn health_sets_its_gauge_each_time_it_is_computed() {
    let _serial = one_at_a_time().await;
    snapshotter();
    let level = |status: resilience::HealthStatus| match status {
        resilience::HealthStatus::Healthy => 0.0,
        resilience::HealthStatus::Degraded => 1.0,
        _ => 2.0,
    };
    // Other tests' policies share the registry: the gauge follows whatever health says.
    let report = registry().health().await;
    assert_eq!(gauge("resilience_health_status", &[]), level(report.status));

    registry().add_check("metrics-health-check", Duration::from_secs(1), || async {
        Err::<(), _>("down")
    });
    let report = registry().health().await;
    assert_eq!(report.status, resilience::HealthStatus::Unhealthy);
    assert_eq!(gauge("resilience_health_status", &[]), 2.0);
    assert!(registry().remove_check("metrics-health-check"));
    let report = registry().health().await;
    assert_eq!(gauge("resilience_health_status", &[]), level(report.status));
}
