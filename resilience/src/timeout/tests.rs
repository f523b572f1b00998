use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use tokio::time::{sleep, Instant};

use super::*;

fn timeout(name: &str, millis: u64) -> Timeout {
    Timeout::new(name, Duration::from_millis(millis)).expect("valid duration")
}

/// Sets its flag when dropped, to observe that a timed-out call's future was dropped.
struct DropFlag(Arc<AtomicBool>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

#[tokio::test(start_paused = true)]
async fn fires_at_exactly_the_duration_and_drops_the_call() {
    let timeout = timeout("t-fires", 250);
    let dropped = Arc::new(AtomicBool::new(false));
    let flag = DropFlag(Arc::clone(&dropped));
    let start = Instant::now();

    let result = timeout
        .call(async move {
            let _flag = flag;
            sleep(Duration::from_secs(10)).await;
            Ok::<_, Error>(())
        })
        .await;

    assert_eq!(start.elapsed(), Duration::from_millis(250));
    assert_eq!(
        result,
        Err(Error::Timeout {
            name: "t-fires".into(),
            after: Duration::from_millis(250)
        })
    );
    assert!(
        dropped.load(Ordering::SeqCst),
        "the call's future was not dropped"
    );
    assert_eq!(timeout.stats().timeouts, 1);
}

#[tokio::test(start_paused = true)]
async fn a_call_finishing_in_time_passes_its_result_through() {
    let timeout = timeout("t-in-time", 100);
    let start = Instant::now();

    let ok = timeout
        .call(async {
            sleep(Duration::from_millis(60)).await;
            Ok::<_, Error>(42)
        })
        .await;
    assert_eq!(ok, Ok(42));
    assert_eq!(start.elapsed(), Duration::from_millis(60));

    let err = timeout
        .call(async {
            sleep(Duration::from_millis(60)).await;
            Err::<(), _>(std::io::Error::other("refused"))
        })
        .await;
    assert_eq!(err.map_err(|e| e.to_string()), Err("refused".to_owned()));
    assert_eq!(
        timeout.stats(),
        TimeoutStats {
            calls: 2,
            in_time: 2,
            timeouts: 0
        }
    );
}

#[tokio::test(start_paused = true)]
async fn a_result_ready_at_the_deadline_wins() {
    let timeout = timeout("t-tie", 100);
    let result = timeout
        .call(async {
            sleep(Duration::from_millis(100)).await;
            Ok::<_, Error>("made it")
        })
        .await;
    assert_eq!(result, Ok("made it"));
    assert_eq!(timeout.stats().timeouts, 0);
}

#[tokio::test(start_paused = true)]
async fn the_deadline_restarts_for_every_call() {
    let timeout = timeout("t-each", 100);
    for _ in 0..3 {
        let result = timeout
            .call(async {
                sleep(Duration::from_millis(90)).await;
                Ok::<_, Error>(())
            })
            .await;
        assert_eq!(result, Ok(()));
    }
}

struct NoopWake;

impl Wake for NoopWake {
    fn wake(self: Arc<Self>) {}
}

/// Polled outside any Tokio runtime: arming a timer there would panic, so passing proves a call
/// ready at its first poll arms none.
#[test]
fn a_call_ready_at_its_first_poll_arms_no_timer() {
    let timeout = timeout("t-fast-path", 100);
    let waker = Waker::from(Arc::new(NoopWake));
    let mut cx = Context::from_waker(&waker);

    let call = pin!(timeout.call(async { Ok::<_, Error>(7) }));
    assert_eq!(call.poll(&mut cx), Poll::Ready(Ok(7)));
    let stats = timeout.stats();
    assert_eq!((stats.calls, stats.in_time, stats.timeouts), (1, 1, 0));
}

#[tokio::test(start_paused = true)]
async fn a_call_counts_in_time_only_once_it_finished_before_its_deadline() {
    let timeout = timeout("t-in-flight", 100);
    let mut slow = Box::pin(timeout.call(async {
        sleep(Duration::from_millis(60)).await;
        Ok::<_, Error>(())
    }));
    // Polled once: started and waiting.
    assert!(poll_once(slow.as_mut()).is_pending());
    let stats = timeout.stats();
    assert_eq!((stats.calls, stats.in_time, stats.timeouts), (1, 0, 0));

    assert_eq!(slow.await, Ok(()));
    let stats = timeout.stats();
    assert_eq!((stats.calls, stats.in_time, stats.timeouts), (1, 1, 0));
}

#[tokio::test(start_paused = true)]
async fn a_call_dropped_by_its_caller_is_neither_in_time_nor_timed_out() {
    let timeout = timeout("t-dropped", 100);
    let mut call = Box::pin(timeout.call(async {
        sleep(Duration::from_secs(1)).await;
        Ok::<_, Error>(())
    }));
    assert!(poll_once(call.as_mut()).is_pending());
    drop(call);
    tokio::time::advance(Duration::from_secs(1)).await;
    let stats = timeout.stats();
    assert_eq!((stats.calls, stats.in_time, stats.timeouts), (1, 0, 0));
}

/// Polls `fut` once with a waker that does nothing.
fn poll_once<F: Future>(fut: std::pin::Pin<&mut F>) -> Poll<F::Output> {
    let waker = Waker::from(Arc::new(NoopWake));
    fut.poll(&mut Context::from_waker(&waker))
}

#[tokio::test(start_paused = true)]
async fn run_keeps_rejections_typed() {
    let timeout = timeout("t-run", 50);

    let inner_rejection = Error::BulkheadFull {
        name: "inner".into(),
        max_concurrent: 1,
    };
    let passed: Result<(), Failure<std::io::Error>> = timeout
        .run(async { Err(Failure::Policy(inner_rejection.clone())) })
        .await;
    assert!(matches!(passed, Err(Failure::Policy(ref e)) if *e == inner_rejection));

    let expired: Result<(), Failure<std::io::Error>> = timeout
        .run(async {
            sleep(Duration::from_secs(1)).await;
            Ok(())
        })
        .await;
    assert!(matches!(
        expired,
        Err(Failure::Policy(Error::Timeout { ref name, after }))
            if &**name == "t-run" && after == Duration::from_millis(50)
    ));
}

#[tokio::test(start_paused = true)]
async fn an_expiry_is_announced() {
    let mut events = crate::events::subscribe();
    let timeout = timeout("t-event", 10);
    let _ = timeout
        .call(async {
            sleep(Duration::from_secs(1)).await;
            Ok::<_, Error>(())
        })
        .await;

    // Other tests share the bus: look for this timeout's event only.
    loop {
        match events.try_recv() {
            Ok(Event::TimedOut { name, after }) if &*name == "t-event" => {
                assert_eq!(after, Duration::from_millis(10));
                break;
            }
            Ok(_) => {}
            Err(e) => panic!("no TimedOut event for t-event: {e}"),
        }
    }
}

#[tokio::test(start_paused = true)]
async fn reset_stats_zeroes_the_counters() {
    let timeout = timeout("t-reset", 10);
    let _ = timeout
        .call(async {
            sleep(Duration::from_secs(1)).await;
            Ok::<_, Error>(())
        })
        .await;
    assert_eq!(
        timeout.stats(),
        TimeoutStats {
            calls: 1,
            in_time: 0,
            timeouts: 1
        }
    );
    timeout.reset_stats();
    assert_eq!(timeout.stats(), TimeoutStats::default());
}

#[test]
fn build_rejects_a_missing_or_zero_duration() {
    for builder in [
        Timeout::builder("t-invalid"),
        Timeout::builder("t-invalid").duration(Duration::ZERO),
    ] {
        assert!(matches!(
            builder.build(),
            Err(ConfigError::OutOfRange {
                key: "duration",
                ..
            })
        ));
    }
    assert!(Timeout::new("t-max", Duration::MAX).is_ok());
}

#[test]
fn conflicts_name_only_explicit_settings_that_differ() {
    let existing = timeout("t-conflict", 100);
    assert!(Timeout::builder("t-conflict")
        .conflicts_with(&existing)
        .is_empty());
    assert!(Timeout::builder("t-conflict")
        .duration(Duration::from_millis(100))
        .conflicts_with(&existing)
        .is_empty());
    assert_eq!(
        Timeout::builder("t-conflict")
            .duration(Duration::from_secs(1))
            .conflicts_with(&existing),
        vec!["duration"]
    );
}

#[test]
fn accessors_and_display() {
    let timeout = timeout("t-accessors", 1500);
    assert_eq!(timeout.name(), "t-accessors");
    assert_eq!(&**timeout.name_arc(), "t-accessors");
    assert_eq!(Timeout::builder("b").name().as_ref(), "b");
    assert_eq!(timeout.config().to_string(), "duration=1.5s");
    assert!(format!("{timeout:?}").contains("t-accessors"));
}

#[tokio::test(start_paused = true)]
async fn the_fallback_policy_never_cuts_a_call_short() {
    let timeout = Timeout::with_defaults("t-fallback".into());
    let result = timeout
        .call(async {
            sleep(Duration::from_secs(365 * 24 * 3600)).await;
            Ok::<_, Error>(())
        })
        .await;
    assert_eq!(result, Ok(()));
}
