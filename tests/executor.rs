//! The executor helpers as a user writes them: `batch`, `with_timeout`, `with_retry`,
//! `with_protection`, and the retry loop of `Retry::attempts`, next to the attributes they mirror.
//! All in virtual time.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use common::{AppError, Runs};
use resilience::{
    batch, circuit_breaker, registry, retry, with_protection, with_retry, with_timeout, BatchError,
    BatchOptions, CircuitBreaker, ConfigError, Error, Event, Retry,
};
use tokio::time::{sleep, Instant};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Counts the futures alive (made and not yet dropped) and the most ever running at once.
#[derive(Default)]
struct Gauge {
    alive: AtomicUsize,
    running: AtomicUsize,
    peak: AtomicUsize,
    finished: AtomicUsize,
}

/// Held by a task from its creation to its drop.
struct Alive<'a>(&'a Gauge);

impl<'a> Alive<'a> {
    fn new(gauge: &'a Gauge) -> Self {
        gauge.alive.fetch_add(1, Ordering::SeqCst);
        Alive(gauge)
    }
}

impl Drop for Alive<'_> {
    fn drop(&mut self) {
        self.0.alive.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Held while a task runs.
struct Running<'a>(&'a Gauge);

impl<'a> Running<'a> {
    fn new(gauge: &'a Gauge) -> Self {
        let now = gauge.running.fetch_add(1, Ordering::SeqCst) + 1;
        gauge.peak.fetch_max(now, Ordering::SeqCst);
        Running(gauge)
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.running.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A task that sleeps `delay_ms` then returns it, or fails when it is 13.
async fn sleeper(gauge: &Gauge, delay_ms: u64) -> Result<u64, AppError> {
    let _alive = Alive::new(gauge);
    let _running = Running::new(gauge);
    sleep(ms(delay_ms)).await;
    gauge.finished.fetch_add(1, Ordering::SeqCst);
    if delay_ms == 13 {
        Err(AppError::Down("thirteen"))
    } else {
        Ok(delay_ms)
    }
}

// ---------------------------------------------------------------------------------------------
// batch

#[tokio::test(start_paused = true)]
async fn batch_returns_results_in_input_order_whatever_the_finishing_order() {
    let gauge = Gauge::default();
    let delays = [50, 10, 40, 13, 20];
    let started = Instant::now();
    let results = batch(
        delays.iter().map(|&d| sleeper(&gauge, d)),
        BatchOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(
        results,
        [
            Ok(50),
            Ok(10),
            Ok(40),
            Err(BatchError::Failed(AppError::Down("thirteen"))),
            Ok(20)
        ]
    );
    // All at once by default.
    assert_eq!(started.elapsed(), ms(50));
    assert_eq!(gauge.peak.load(Ordering::SeqCst), 5);
}

#[tokio::test(start_paused = true)]
async fn batch_never_runs_more_than_max_concurrency_and_starts_in_input_order() {
    let gauge = Gauge::default();
    let order = Mutex::new(Vec::new());
    let tasks = (0..7u64).map(|i| {
        let (gauge, order) = (&gauge, &order);
        async move {
            order.lock().unwrap().push(i);
            sleeper(gauge, 100).await.map(|_| i)
        }
    });
    let started = Instant::now();
    let options = BatchOptions {
        max_concurrency: 3,
        ..BatchOptions::default()
    };
    let results = batch(tasks, options).await.unwrap();
    assert_eq!(results, (0..7).map(Ok).collect::<Vec<_>>());
    assert_eq!(gauge.peak.load(Ordering::SeqCst), 3);
    // 3 + 3 + 1: three rounds of 100ms.
    assert_eq!(started.elapsed(), ms(300));
    assert_eq!(*order.lock().unwrap(), (0..7).collect::<Vec<_>>());
    assert_eq!(gauge.alive.load(Ordering::SeqCst), 0);
}

#[tokio::test(start_paused = true)]
async fn a_freed_place_is_taken_at_once_not_after_the_slowest_of_a_round() {
    let gauge = Gauge::default();
    let options = BatchOptions {
        max_concurrency: 2,
        ..BatchOptions::default()
    };
    let started = Instant::now();
    // 10 frees its place at 10ms for 30 (until 40ms), then 20 (until 60ms); 100 runs alongside.
    let results = batch([100, 10, 30, 20].map(|d| sleeper(&gauge, d)), options)
        .await
        .unwrap();
    assert!(results.iter().all(Result::is_ok));
    assert_eq!(started.elapsed(), ms(100));
    assert_eq!(gauge.peak.load(Ordering::SeqCst), 2);
}

#[tokio::test(start_paused = true)]
async fn a_task_past_its_timeout_is_dropped_and_the_rest_complete() {
    let gauge = Gauge::default();
    let options = BatchOptions {
        max_concurrency: 1,
        per_task_timeout: Some(ms(100)),
        ..BatchOptions::default()
    };
    let started = Instant::now();
    // One at a time: each 80ms task is within its own 100ms though the batch takes longer.
    let results = batch([80, 500, 80].map(|d| sleeper(&gauge, d)), options)
        .await
        .unwrap();
    assert_eq!(
        results,
        [Ok(80), Err(BatchError::Timeout { after: ms(100) }), Ok(80)]
    );
    assert_eq!(started.elapsed(), ms(80 + 100 + 80));
    assert_eq!(gauge.finished.load(Ordering::SeqCst), 2);
    assert_eq!(gauge.alive.load(Ordering::SeqCst), 0);
}

#[tokio::test(start_paused = true)]
async fn the_overall_timeout_cuts_running_and_queued_tasks_and_keeps_finished_results() {
    let gauge = Gauge::default();
    let options = BatchOptions {
        max_concurrency: 2,
        timeout: Some(ms(150)),
        per_task_timeout: Some(ms(1000)),
    };
    let started = Instant::now();
    // At 150ms: 100 done, 13 failed (at 113ms), 400 and 200 running, 50 never started.
    let results = batch([100, 400, 13, 200, 50].map(|d| sleeper(&gauge, d)), options)
        .await
        .unwrap();
    let cut = |started| BatchError::DeadlineExceeded {
        after: ms(150),
        started,
    };
    assert_eq!(
        results,
        [
            Ok(100),
            Err(cut(true)),
            Err(BatchError::Failed(AppError::Down("thirteen"))),
            Err(cut(true)),
            Err(cut(false)),
        ]
    );
    assert_eq!(started.elapsed(), ms(150));
    assert_eq!(gauge.alive.load(Ordering::SeqCst), 0);
    assert_eq!(gauge.running.load(Ordering::SeqCst), 0);
}

#[tokio::test(start_paused = true)]
async fn a_batch_that_finishes_at_its_deadline_keeps_every_result() {
    let gauge = Gauge::default();
    let options = BatchOptions {
        timeout: Some(ms(100)),
        ..BatchOptions::default()
    };
    let results = batch([100, 100].map(|d| sleeper(&gauge, d)), options)
        .await
        .unwrap();
    assert_eq!(results, [Ok(100), Ok(100)]);
}

#[tokio::test(start_paused = true)]
async fn dropping_the_batch_drops_every_task_running_or_not() {
    let gauge = Gauge::default();
    let options = BatchOptions {
        max_concurrency: 2,
        ..BatchOptions::default()
    };
    let started_tasks = AtomicUsize::new(0);
    let tasks = (0..5).map(|_| {
        let (gauge, started_tasks) = (&gauge, &started_tasks);
        async move {
            started_tasks.fetch_add(1, Ordering::SeqCst);
            sleeper(gauge, 1000).await
        }
    });
    // The caller gives up after 250ms: the batch future is dropped.
    let outcome = tokio::time::timeout(ms(250), batch(tasks, options)).await;
    assert!(outcome.is_err());
    assert_eq!(started_tasks.load(Ordering::SeqCst), 2);
    assert_eq!(gauge.alive.load(Ordering::SeqCst), 0);
    assert_eq!(gauge.running.load(Ordering::SeqCst), 0);
    // Nothing of the batch runs on after it is gone.
    sleep(ms(5000)).await;
    assert_eq!(gauge.finished.load(Ordering::SeqCst), 0);
    assert_eq!(started_tasks.load(Ordering::SeqCst), 2);
}

#[tokio::test(start_paused = true)]
async fn bad_options_are_an_error_and_run_nothing() {
    let runs = Runs::new();
    let task = || async {
        runs.tick();
        Ok::<_, AppError>(())
    };
    let zero = BatchOptions {
        max_concurrency: 0,
        ..BatchOptions::default()
    };
    let error = batch([task()], zero).await.unwrap_err();
    assert!(matches!(
        error,
        ConfigError::OutOfRange {
            key: "max_concurrency",
            ..
        }
    ));
    assert!(error.to_string().contains("max_concurrency"));
    for (options, key) in [
        (
            BatchOptions {
                timeout: Some(Duration::ZERO),
                ..BatchOptions::default()
            },
            "timeout",
        ),
        (
            BatchOptions {
                per_task_timeout: Some(Duration::ZERO),
                ..BatchOptions::default()
            },
            "per_task_timeout",
        ),
    ] {
        let error = batch([task()], options).await.unwrap_err();
        assert!(matches!(error, ConfigError::OutOfRange { key: k, .. } if k == key));
    }
    assert_eq!(runs.get(), 0);
}

#[tokio::test(start_paused = true)]
async fn an_empty_batch_is_empty() {
    let empty: Vec<std::future::Ready<Result<(), AppError>>> = Vec::new();
    assert_eq!(
        batch(empty, BatchOptions::default()).await.unwrap(),
        Vec::new()
    );
}

#[test]
fn a_batch_of_send_futures_is_send() {
    fn assert_send<F: Send>(_: &F) {}
    let tasks = (0..3).map(|i| async move { Ok::<_, AppError>(i) });
    let fut = batch(tasks, BatchOptions::default());
    assert_send(&fut);
}

// ---------------------------------------------------------------------------------------------
// with_timeout, with_retry, with_protection

#[tokio::test(start_paused = true)]
async fn with_timeout_drops_a_late_future_and_returns_the_typed_rejection() {
    let gauge = Gauge::default();
    let started = Instant::now();
    let late = with_timeout(ms(100), sleeper(&gauge, 500)).await;
    assert_eq!(
        late,
        Err(AppError::Policy(Error::Timeout {
            name: "with_timeout".into(),
            after: ms(100)
        }))
    );
    assert_eq!(started.elapsed(), ms(100));
    assert_eq!(gauge.alive.load(Ordering::SeqCst), 0);

    assert_eq!(with_timeout(ms(100), sleeper(&gauge, 100)).await, Ok(100));
    // A zero limit lets a future that is ready at once finish.
    let ready = with_timeout(Duration::ZERO, async { Ok::<_, std::io::Error>(1) }).await;
    assert_eq!(ready.unwrap(), 1);
}

#[tokio::test(start_paused = true)]
async fn with_retry_retries_every_error_on_the_schedule() {
    let retry = Retry::builder("exec-with-retry")
        .max_attempts(3)
        .exponential(ms(100), 2.0)
        .build()
        .unwrap();
    let runs = Runs::new();
    let started = Instant::now();
    let result: Result<u32, AppError> = with_retry(&retry, || async {
        let n = runs.tick();
        // A rejection inside the error is opaque here: retried like any error.
        Err(AppError::Policy(Error::CircuitOpen {
            name: format!("n{n}").into(),
            retry_after: None,
        }))
    })
    .await;
    assert!(
        matches!(result, Err(AppError::Policy(Error::CircuitOpen { name, .. })) if &*name == "n3")
    );
    assert_eq!(started.elapsed(), ms(300));
    let stats = retry.stats();
    assert_eq!((stats.retries, stats.exhausted), (2, 1));
}

const PROTECTED: &str = "exec-protected-attr";

#[retry(
    name = "exec-protected-attr",
    max_attempts = 4,
    backoff = "fixed",
    delay = "10ms"
)]
#[circuit_breaker(name = "exec-protected-attr", failure_threshold = 3)]
async fn protected_by_attributes(runs: &Runs, succeed_on: u32) -> Result<u32, AppError> {
    let n = runs.tick();
    if n >= succeed_on {
        Ok(n)
    } else {
        Err(AppError::Down("flaky"))
    }
}

/// The same script through the attributes and through `with_protection`: same result, same
/// time, same runs, same stats of the retry and of the breaker.
#[tokio::test(start_paused = true)]
async fn with_protection_matches_retry_over_circuit_breaker_attributes() {
    for succeed_on in [1, 3, 4, 100] {
        let breaker = CircuitBreaker::builder(format!("exec-protected-{succeed_on}"))
            .failure_threshold(3)
            .build()
            .unwrap();
        let retry = Retry::builder(format!("exec-protected-{succeed_on}"))
            .max_attempts(4)
            .fixed(ms(10))
            .build()
            .unwrap();
        let attr_breaker = registry().circuit_breaker(PROTECTED);
        if let Some(b) = &attr_breaker {
            b.reset();
            b.reset_stats();
        }
        if let Some(r) = registry().retry(PROTECTED) {
            r.reset_stats();
        }

        let attr_runs = Runs::new();
        let started = Instant::now();
        let by_attributes = protected_by_attributes(&attr_runs, succeed_on).await;
        let attr_elapsed = started.elapsed();

        let runs = Runs::new();
        let started = Instant::now();
        let by_helper = with_protection(&breaker, &retry, || async {
            let n = runs.tick();
            if n >= succeed_on {
                Ok(n)
            } else {
                Err(AppError::Down("flaky"))
            }
        })
        .await;

        // The open circuit's name differs; everything else is the same.
        match (&by_attributes, &by_helper) {
            (Err(AppError::Policy(a)), Err(AppError::Policy(b))) => {
                assert_eq!((a.code(), succeed_on), (b.code(), succeed_on));
            }
            _ => assert_eq!(by_attributes, by_helper, "succeed_on {succeed_on}"),
        }
        assert_eq!(attr_elapsed, started.elapsed(), "succeed_on {succeed_on}");
        assert_eq!(attr_runs.get(), runs.get(), "succeed_on {succeed_on}");
        assert_eq!(
            registry().retry(PROTECTED).unwrap().stats(),
            retry.stats(),
            "succeed_on {succeed_on}"
        );
        let (a, b) = (
            registry().circuit_breaker(PROTECTED).unwrap().stats(),
            breaker.stats(),
        );
        assert_eq!(
            (a.state, a.calls, a.successes, a.failures, a.rejected),
            (b.state, b.calls, b.successes, b.failures, b.rejected),
            "succeed_on {succeed_on}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn with_protection_does_not_call_the_operation_while_the_circuit_is_open() {
    let breaker = CircuitBreaker::builder("exec-protected-open")
        .build()
        .unwrap();
    let retry = Retry::builder("exec-protected-open").build().unwrap();
    breaker.force_open();
    let runs = Runs::new();
    let result: Result<(), AppError> = with_protection(&breaker, &retry, || {
        runs.tick();
        async { Ok(()) }
    })
    .await;
    assert_eq!(result.unwrap_err().code(), Some("CIRCUIT_OPEN"));
    assert_eq!(runs.get(), 0);
    assert_eq!(retry.stats().not_retryable, 1);
}

// ---------------------------------------------------------------------------------------------
// The retry loop the caller writes

const LOOP_ATTR: &str = "exec-loop-attr";

#[retry(
    name = "exec-loop-attr",
    max_attempts = 4,
    delay = "100ms",
    factor = 3.0
)]
async fn retried_by_attribute(runs: &Runs, succeed_on: u32) -> Result<u32, AppError> {
    let n = runs.tick();
    if n >= succeed_on {
        Ok(n)
    } else {
        Err(AppError::Down("busy"))
    }
}

/// The same script by a caller's loop over `attempts()`.
async fn retried_by_loop(retry: &Retry, runs: &Runs, succeed_on: u32) -> Result<u32, AppError> {
    let mut attempts = retry.attempts();
    let mut last_error = None;
    while let Some(attempt) = attempts.next().await {
        let n = runs.tick();
        assert_eq!(attempt.number(), n);
        let result = if n >= succeed_on {
            Ok(n)
        } else {
            Err(AppError::Down("busy"))
        };
        match result {
            Ok(v) => {
                attempt.succeeded();
                return Ok(v);
            }
            Err(e) => {
                attempt.failed(&e);
                last_error = Some(e);
            }
        }
    }
    Err(last_error.expect("at least one attempt"))
}

/// Every event received so far.
fn drain(events: &mut tokio::sync::broadcast::Receiver<Event>) -> Vec<Event> {
    std::iter::from_fn(|| events.try_recv().ok()).collect()
}

/// The retry events of one policy, its name left out.
fn retry_events(events: &[Event], name: &str) -> Vec<(u32, Duration, String)> {
    events
        .iter()
        .filter_map(|event| match event {
            Event::RetryAttempt {
                name: from,
                attempt,
                delay,
                error,
                ..
            } if &**from == name => Some((*attempt, *delay, error.clone())),
            Event::RetriesExhausted {
                name: from,
                attempts,
                error,
                ..
            } if &**from == name => Some((*attempts, Duration::MAX, error.clone())),
            _ => None,
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn the_callers_loop_has_the_attributes_schedule_stats_and_events() {
    let retry = Retry::builder("exec-loop")
        .max_attempts(4)
        .exponential(ms(100), 3.0)
        .build()
        .unwrap();
    for succeed_on in [1, 2, 4, 5] {
        if let Some(r) = registry().retry(LOOP_ATTR) {
            r.reset_stats();
        }
        retry.reset_stats();
        let mut events = registry().subscribe();

        let (attr_runs, loop_runs) = (Runs::new(), Runs::new());
        let started = Instant::now();
        let by_attribute = retried_by_attribute(&attr_runs, succeed_on).await;
        let attr_elapsed = started.elapsed();
        let started = Instant::now();
        let by_loop = retried_by_loop(&retry, &loop_runs, succeed_on).await;

        assert_eq!(by_attribute, by_loop, "succeed_on {succeed_on}");
        assert_eq!(attr_elapsed, started.elapsed(), "succeed_on {succeed_on}");
        assert_eq!(attr_runs.get(), loop_runs.get());
        assert_eq!(registry().retry(LOOP_ATTR).unwrap().stats(), retry.stats());
        let seen = drain(&mut events);
        let attr_events = retry_events(&seen, LOOP_ATTR);
        assert_eq!(
            attr_events.len(),
            succeed_on.min(4) as usize - usize::from(succeed_on <= 4)
        );
        assert_eq!(
            attr_events,
            retry_events(&seen, "exec-loop"),
            "succeed_on {succeed_on}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn the_callers_loop_judges_rejections_as_the_attribute_does() {
    let retry = Retry::builder("exec-loop-rejections")
        .max_attempts(5)
        .fixed(ms(10))
        .build()
        .unwrap();
    let started = Instant::now();
    let mut attempts = retry.attempts();
    let mut numbers = Vec::new();
    while let Some(attempt) = attempts.next().await {
        numbers.push(attempt.number());
        match attempt.number() {
            // A rate limit: the next attempt no sooner than its `retry_after`.
            1 => attempt.rejected(&Error::RateLimited {
                name: "limiter".into(),
                retry_after: ms(250),
            }),
            // A timeout: retried on the schedule.
            2 => attempt.rejected(&Error::Timeout {
                name: "db".into(),
                after: ms(1),
            }),
            // An open circuit: not retried.
            _ => attempt.rejected(&Error::CircuitOpen {
                name: "db".into(),
                retry_after: None,
            }),
        }
    }
    assert_eq!(numbers, [1, 2, 3]);
    assert_eq!(started.elapsed(), ms(250 + 10));
    let stats = retry.stats();
    assert_eq!((stats.retries, stats.not_retryable, stats.calls), (2, 1, 1));
}

#[tokio::test(start_paused = true)]
async fn failed_if_false_ends_the_loop_as_not_retryable() {
    let retry = Retry::builder("exec-loop-failed-if").build().unwrap();
    let mut attempts = retry.attempts();
    let mut count = 0;
    while let Some(attempt) = attempts.next().await {
        count += 1;
        attempt.failed_if(&AppError::Down("for good"), false);
    }
    assert_eq!(count, 1);
    assert_eq!(retry.stats().not_retryable, 1);
}

#[tokio::test(start_paused = true)]
async fn an_attempt_dropped_unreported_ends_the_loop_uncounted() {
    let retry = Retry::builder("exec-loop-dropped").build().unwrap();
    let mut attempts = retry.attempts();
    let attempt = attempts.next().await.unwrap();
    assert!(!attempt.is_last());
    drop(attempt);
    assert!(attempts.next().await.is_none());
    assert_eq!(retry.stats(), Default::default());
}

#[tokio::test(start_paused = true)]
async fn next_is_cancel_safe_and_keeps_its_deadline() {
    let retry = Retry::builder("exec-loop-cancel")
        .max_attempts(2)
        .fixed(ms(100))
        .build()
        .unwrap();
    let started = Instant::now();
    let mut attempts = retry.attempts();
    let first = attempts.next().await.unwrap();
    first.failed(&AppError::Down("busy"));
    // Given up on after 30ms, called again: the sleep ends at 100ms, not 130ms.
    assert!(tokio::time::timeout(ms(30), attempts.next()).await.is_err());
    let second = attempts.next().await.unwrap();
    assert_eq!(started.elapsed(), ms(100));
    assert!(second.is_last());
    second.failed(&AppError::Down("busy"));
    assert!(attempts.next().await.is_none());
    assert_eq!(retry.stats().exhausted, 1);
}

#[tokio::test(start_paused = true)]
async fn the_callers_loop_applies_the_jitter() {
    let retry = Retry::builder("exec-loop-jitter")
        .max_attempts(20)
        .fixed(ms(100))
        .jitter(resilience::Jitter::Proportional(0.25))
        .build()
        .unwrap();
    let mut attempts = retry.attempts();
    let mut sleeps = Vec::new();
    let mut last = Instant::now();
    while let Some(attempt) = attempts.next().await {
        sleeps.push(last.elapsed());
        last = Instant::now();
        attempt.failed(&AppError::Down("busy"));
    }
    let sleeps = &sleeps[1..];
    assert_eq!(sleeps.len(), 19);
    assert!(
        sleeps.iter().all(|d| (ms(75)..=ms(125)).contains(d)),
        "{sleeps:?}"
    );
    // Randomized: not all the same.
    assert!(sleeps.iter().any(|d| *d != sleeps[0]));
}
