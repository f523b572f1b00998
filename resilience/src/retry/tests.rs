use std::cell::{Cell, RefCell};
use std::ops::ControlFlow;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::*;
use crate::{ConfigError, Error, Event, Failure};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Calls `retry` with an operation that fails `failures` times with its attempt number, then
/// succeeds; returns the result, the attempts made and the virtual time taken.
async fn run_failing(retry: &Retry, failures: u32) -> (Result<u32, u32>, u32, Duration) {
    let attempts = Cell::new(0);
    let started = Instant::now();
    let result = retry
        .call(|| {
            attempts.set(attempts.get() + 1);
            let attempt = attempts.get();
            async move {
                if attempt <= failures {
                    Err(attempt)
                } else {
                    Ok(attempt)
                }
            }
        })
        .await;
    (result, attempts.get(), started.elapsed())
}

/// Drives `retry` the way the macros do, with attempts failing with the given results in order.
async fn drive<T: Clone>(
    retry: &Retry,
    results: &[Result<T, Failure<String>>],
) -> (Result<T, Failure<String>>, usize) {
    let mut run = retry.begin();
    let mut attempts = 0;
    loop {
        let result = results[attempts.min(results.len() - 1)].clone();
        attempts += 1;
        match run
            .after_attempt(result, Failure::as_ref, |_| true, |_| {})
            .await
        {
            ControlFlow::Break(result) => return (result, attempts),
            ControlFlow::Continue(()) => {}
        }
    }
}

fn timeout() -> Failure<String> {
    Failure::Policy(Error::Timeout {
        name: "below".into(),
        after: ms(50),
    })
}

fn build(builder: RetryBuilder) -> Retry {
    match builder.build() {
        Ok(retry) => retry,
        Err(err) => panic!("valid test configuration rejected: {err}"),
    }
}

#[tokio::test(start_paused = true)]
async fn exponential_sleeps_base_then_doubles() {
    let retry = build(Retry::builder("t").exponential(ms(100), 2.0));
    let (result, attempts, elapsed) = run_failing(&retry, 10).await;
    assert_eq!((result, attempts), (Err(3), 3));
    assert_eq!(elapsed, ms(100 + 200));

    let retry = build(Retry::builder("t").max_attempts(5));
    let (_, _, elapsed) = run_failing(&retry, 10).await;
    assert_eq!(elapsed, ms(100 + 200 + 400 + 800), "the default backoff");
}

#[tokio::test(start_paused = true)]
async fn fixed_linear_and_none() {
    let fixed = build(Retry::builder("t").max_attempts(4).fixed(ms(70)));
    assert_eq!(run_failing(&fixed, 10).await.2, ms(3 * 70));

    let linear = build(Retry::builder("t").max_attempts(4).linear(ms(50)));
    assert_eq!(run_failing(&linear, 10).await.2, ms(50 + 100 + 150));

    let none = build(Retry::builder("t").max_attempts(4).no_backoff());
    assert_eq!(run_failing(&none, 10).await, (Err(4), 4, Duration::ZERO));
}

#[tokio::test(start_paused = true)]
async fn schedule_repeats_its_last_entry() {
    let retry = build(
        Retry::builder("t")
            .max_attempts(5)
            .delays(vec![ms(10), ms(30)]),
    );
    assert_eq!(run_failing(&retry, 10).await.2, ms(10 + 30 + 30 + 30));
}

#[tokio::test(start_paused = true)]
async fn custom_backoff_gets_the_retry_number() {
    fn hundreds(retry: u32) -> Duration {
        Duration::from_millis(100 * u64::from(retry))
    }
    let retry = build(Retry::builder("t").max_attempts(3).backoff_fn(hundreds));
    assert_eq!(run_failing(&retry, 10).await.2, ms(100 + 200));
}

#[tokio::test(start_paused = true)]
async fn max_delay_caps_every_sleep() {
    let retry = build(
        Retry::builder("t")
            .max_attempts(5)
            .exponential(ms(100), 3.0)
            .max_delay(ms(500)),
    );
    // 100, 300, then 900 and 2700 capped at 500.
    assert_eq!(run_failing(&retry, 10).await.2, ms(100 + 300 + 500 + 500));
}

#[tokio::test(start_paused = true)]
async fn success_ends_the_loop_and_is_returned() {
    let retry = build(Retry::builder("t").max_attempts(5).fixed(ms(10)));
    assert_eq!(run_failing(&retry, 2).await, (Ok(3), 3, ms(20)));
    assert_eq!(run_failing(&retry, 0).await, (Ok(1), 1, Duration::ZERO));
}

#[tokio::test(start_paused = true)]
async fn exhausted_returns_the_last_error_unchanged() {
    let retry = build(Retry::builder("t").max_attempts(3).no_backoff());
    assert_eq!(run_failing(&retry, 10).await.0, Err(3));

    let once = build(Retry::builder("t").max_attempts(1));
    assert_eq!(run_failing(&once, 10).await, (Err(1), 1, Duration::ZERO));
}

#[tokio::test(start_paused = true)]
async fn max_elapsed_stops_before_a_sleep_that_would_pass_it() {
    let retry = build(
        Retry::builder("t")
            .max_attempts(10)
            .fixed(ms(100))
            .max_elapsed(ms(250)),
    );
    // Sleeps of 100 reach 200; a third would end at 300 > 250.
    let (result, attempts, elapsed) = run_failing(&retry, 10).await;
    assert_eq!((result, attempts, elapsed), (Err(3), 3, ms(200)));
    assert_eq!(retry.stats().exhausted, 1);

    // Reaching the limit exactly is allowed.
    let exact = build(
        Retry::builder("t")
            .max_attempts(10)
            .fixed(ms(100))
            .max_elapsed(ms(300)),
    );
    assert_eq!(run_failing(&exact, 10).await.2, ms(300));
}

#[tokio::test(start_paused = true)]
async fn max_elapsed_counts_the_attempts_own_time() {
    let retry = build(
        Retry::builder("t")
            .max_attempts(10)
            .fixed(ms(100))
            .max_elapsed(ms(500)),
    );
    let attempts = Cell::new(0);
    let started = Instant::now();
    let result: Result<(), ()> = retry
        .call(|| {
            attempts.set(attempts.get() + 1);
            async {
                tokio::time::sleep(ms(150)).await;
                Err(())
            }
        })
        .await;
    assert!(result.is_err());
    // 150 + 100 + 150 = 400; the next sleep would end at 500 and is allowed; the attempt
    // after it ends at 650, and another sleep would pass 500.
    assert_eq!(attempts.get(), 3);
    assert_eq!(started.elapsed(), ms(150 + 100 + 150 + 100 + 150));
}

#[tokio::test(start_paused = true)]
async fn retry_if_false_returns_at_once() {
    let retry = build(Retry::builder("t").max_attempts(5).fixed(ms(10)));
    let attempts = Cell::new(0);
    let result: Result<(), &str> = retry
        .call_if(
            || {
                attempts.set(attempts.get() + 1);
                async { Err("not found") }
            },
            |err| *err != "not found",
        )
        .await;
    assert_eq!(result, Err("not found"));
    assert_eq!(attempts.get(), 1);
    let stats = retry.stats();
    assert_eq!(
        (stats.not_retryable, stats.exhausted, stats.retries),
        (1, 0, 0)
    );
}

#[tokio::test(start_paused = true)]
async fn an_open_circuit_is_not_retried() {
    let retry = build(Retry::builder("t").max_attempts(5));
    let open = Failure::Policy(Error::CircuitOpen {
        name: "api".into(),
        retry_after: Some(ms(1000)),
    });
    let (result, attempts) = drive::<()>(&retry, &[Err(open.clone())]).await;
    assert_eq!((result, attempts), (Err(open), 1));
    assert_eq!(retry.stats().not_retryable, 1);
}

#[tokio::test(start_paused = true)]
async fn timeouts_and_full_bulkheads_are_retried() {
    let retry = build(Retry::builder("t").max_attempts(5).fixed(ms(10)));
    let full = Failure::Policy(Error::BulkheadFull {
        name: "pool".into(),
        max_concurrent: 2,
    });
    let started = Instant::now();
    let (result, attempts) = drive(&retry, &[Err(timeout()), Err(full), Ok(7)]).await;
    assert_eq!((result, attempts), (Ok(7), 3));
    assert_eq!(started.elapsed(), ms(20));

    let (result, attempts) = drive::<()>(&retry, &[Err(timeout())]).await;
    assert_eq!((result, attempts), (Err(timeout()), 5));
}

#[tokio::test(start_paused = true)]
async fn rate_limits_wait_at_least_retry_after_even_past_max_delay() {
    let retry = build(
        Retry::builder("t")
            .max_attempts(3)
            .fixed(ms(100))
            .max_delay(ms(200)),
    );
    let limited = |retry_after| {
        Err(Failure::Policy(Error::RateLimited {
            name: "quota".into(),
            retry_after,
        }))
    };
    let started = Instant::now();
    let (result, _) = drive(&retry, &[limited(ms(50)), limited(ms(700)), Ok(())]).await;
    assert_eq!(result, Ok(()));
    assert_eq!(started.elapsed(), ms(100 + 700));
}

#[tokio::test(start_paused = true)]
async fn the_driver_asks_retry_if_about_operation_errors_only() {
    let retry = build(Retry::builder("t").max_attempts(3).no_backoff());
    let asked = Cell::new(0);
    let mut run = retry.begin();
    let retry_if = |err: &String| {
        asked.set(asked.get() + 1);
        err == "transient"
    };
    let outcomes: [Result<(), Failure<String>>; 2] =
        [Err(timeout()), Err(Failure::Operation("fatal".into()))];
    let mut last = None;
    for result in outcomes {
        last = Some(
            run.after_attempt(result, Failure::as_ref, retry_if, |_| {})
                .await,
        );
    }
    assert_eq!(asked.get(), 1);
    assert_eq!(
        last,
        Some(ControlFlow::Break(Err(Failure::Operation("fatal".into()))))
    );
}

#[tokio::test(start_paused = true)]
async fn on_retry_sees_attempt_delay_and_failure() {
    let retry = build(
        Retry::builder("t")
            .max_attempts(3)
            .exponential(ms(100), 2.0)
            .max_elapsed(Duration::from_secs(10)),
    );
    let seen = RefCell::new(Vec::new());
    let on_retry = |ctx: &RetryContext<'_, String>| {
        seen.borrow_mut().push((
            ctx.attempt(),
            ctx.delay(),
            ctx.elapsed(),
            ctx.error().cloned(),
            ctx.rejection().map(Error::code),
        ));
    };
    let mut run = retry.begin();
    let outcomes: [Result<(), Failure<String>>; 3] = [
        Err(Failure::Operation("refused".into())),
        Err(timeout()),
        Err(Failure::Operation("last".into())),
    ];
    for result in outcomes {
        let _ = run
            .after_attempt(result, Failure::as_ref, |_| true, on_retry)
            .await;
    }
    assert_eq!(
        seen.into_inner(),
        [
            (
                1,
                ms(100),
                Duration::ZERO,
                Some("refused".to_string()),
                None
            ),
            (2, ms(200), ms(100), None, Some("TIMEOUT")),
        ]
    );
}

/// The `elapsed` each `on_retry` sees when every attempt takes 50 ms and fails, three attempts,
/// 100 ms between them.
async fn elapsed_seen(builder: RetryBuilder) -> Vec<Duration> {
    let retry = build(builder.max_attempts(3).fixed(ms(100)));
    let seen = RefCell::new(Vec::new());
    let mut run = retry.begin();
    for _ in 0..3 {
        tokio::time::sleep(ms(50)).await;
        let flow = run
            .after_attempt(
                Err::<(), _>(timeout()),
                Failure::as_ref,
                |_| true,
                |ctx: &RetryContext<'_, String>| seen.borrow_mut().push(ctx.elapsed()),
            )
            .await;
        if flow.is_break() {
            break;
        }
    }
    seen.into_inner()
}

#[tokio::test(start_paused = true)]
async fn elapsed_counts_from_the_first_failure_without_max_elapsed() {
    // The first attempt's 50 ms are not seen: the clock was not read before it failed.
    assert_eq!(
        elapsed_seen(Retry::builder("t")).await,
        [Duration::ZERO, ms(100 + 50)]
    );
}

#[tokio::test(start_paused = true)]
async fn elapsed_counts_from_the_start_with_max_elapsed() {
    assert_eq!(
        elapsed_seen(Retry::builder("t").max_elapsed(Duration::from_secs(10))).await,
        [ms(50), ms(50 + 100 + 50)]
    );
}

#[tokio::test(start_paused = true)]
async fn the_sleep_before_a_retry_lasts_the_delay_from_the_failure() {
    let retry = build(Retry::builder("t").max_attempts(2).fixed(ms(100)));
    let mut run = retry.begin();
    let failed_at = Instant::now();
    let flow = run
        .after_attempt(Err::<(), _>(timeout()), Failure::as_ref, |_| true, |_| {})
        .await;
    assert_eq!(flow, ControlFlow::Continue(()));
    assert_eq!(failed_at.elapsed(), ms(100));
}

#[tokio::test(start_paused = true)]
async fn a_zero_delay_does_not_yield_to_the_runtime() {
    let retry = build(Retry::builder("t").max_attempts(2).no_backoff());
    let mut run = retry.begin();
    let step = run.after_attempt(Err::<(), _>(timeout()), Failure::as_ref, |_| true, |_| {});
    // Ready on the first poll: no sleep was registered.
    let polled = poll_once(step);
    assert_eq!(polled, Some(ControlFlow::Continue(())));
}

/// Polls a future once, with a waker that does nothing.
fn poll_once<F: std::future::Future>(future: F) -> Option<F::Output> {
    use std::task::{Context, Poll, Wake, Waker};
    struct IgnoreWake;
    impl Wake for IgnoreWake {
        fn wake(self: Arc<Self>) {}
    }
    let waker = Waker::from(Arc::new(IgnoreWake));
    let mut future = std::pin::pin!(future);
    match future.as_mut().poll(&mut Context::from_waker(&waker)) {
        Poll::Ready(output) => Some(output),
        Poll::Pending => None,
    }
}

#[tokio::test(start_paused = true)]
async fn stats_count_each_outcome_once() {
    let retry = build(Retry::builder("t").max_attempts(3).no_backoff());
    assert_eq!(run_failing(&retry, 0).await.0, Ok(1));
    assert_eq!(run_failing(&retry, 1).await.0, Ok(2));
    assert_eq!(run_failing(&retry, 5).await.0, Err(3));
    let _ = retry
        .call_if(|| async { Err::<(), _>(()) }, |_| false)
        .await; // not retryable
    assert_eq!(
        retry.stats(),
        RetryStats {
            calls: 4,
            retries: 3,
            successes_without_retry: 1,
            successes_after_retry: 1,
            exhausted: 1,
            not_retryable: 1,
        }
    );
    assert_eq!(retry.stats().failures(), 2);
    retry.reset_stats();
    assert_eq!(retry.stats(), RetryStats::default());
}

#[tokio::test(start_paused = true)]
async fn events_report_attempts_and_giving_up() {
    let mut events = crate::events::subscribe();
    let retry = build(
        Retry::builder("retry-tests-events")
            .max_attempts(2)
            .fixed(ms(5)),
    );
    assert_eq!(drive::<()>(&retry, &[Err(timeout())]).await.1, 2);
    assert_eq!(run_failing(&retry, 10).await.0, Err(2));

    let mut ours = Vec::new();
    while let Ok(event) = events.try_recv() {
        match &event {
            Event::RetryAttempt { name, .. } | Event::RetriesExhausted { name, .. }
                if &**name == "retry-tests-events" =>
            {
                ours.push(event)
            }
            _ => {}
        }
    }
    let name: Arc<str> = "retry-tests-events".into();
    let timeout_text = timeout().to_string();
    assert_eq!(
        ours,
        [
            Event::RetryAttempt {
                name: name.clone(),
                attempt: 1,
                delay: ms(5),
                error: timeout_text.clone(),
            },
            Event::RetriesExhausted {
                name: name.clone(),
                attempts: 2,
                error: timeout_text,
            },
            Event::RetryAttempt {
                name: name.clone(),
                attempt: 1,
                delay: ms(5),
                error: "u32".to_string(),
            },
            Event::RetriesExhausted {
                name,
                attempts: 2,
                error: "u32".to_string(),
            },
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn jittered_sleeps_stay_within_their_bounds() {
    let cases = [
        (Jitter::Proportional(0.5), ms(50), ms(150)),
        (Jitter::Full, Duration::ZERO, ms(100)),
        (Jitter::Equal, ms(50), ms(100)),
        (Jitter::Decorrelated, ms(100), ms(300)),
    ];
    for (jitter, low, high) in cases {
        let retry = build(
            Retry::builder("t")
                .max_attempts(2)
                .fixed(ms(100))
                .jitter(jitter),
        );
        for _ in 0..200 {
            let (_, _, elapsed) = run_failing(&retry, 10).await;
            assert!(
                elapsed >= low && elapsed <= high,
                "{jitter}: {elapsed:?} outside {low:?}..={high:?}"
            );
        }
    }
}

#[tokio::test(start_paused = true)]
async fn decorrelated_sleeps_grow_from_the_previous_sleep() {
    let retry = build(
        Retry::builder("t")
            .max_attempts(6)
            .fixed(ms(10))
            .max_delay(ms(1000))
            .jitter(Jitter::Decorrelated),
    );
    let delays = RefCell::new(Vec::new());
    let mut run = retry.begin();
    for _ in 0..6 {
        let _ = run
            .after_attempt(
                Err::<(), _>(timeout()),
                Failure::as_ref,
                |_| true,
                |ctx: &RetryContext<'_, String>| delays.borrow_mut().push(ctx.delay()),
            )
            .await;
    }
    let delays = delays.into_inner();
    assert_eq!(delays.len(), 5);
    let mut previous = ms(10);
    for delay in delays {
        assert!(delay >= ms(10) && delay <= previous * 3 && delay <= ms(1000));
        previous = delay;
    }
}

#[test]
fn delay_for_never_panics_up_to_u32_max() {
    let retry = build(
        Retry::builder("t")
            .exponential(ms(100), 10.0)
            .max_delay(Duration::MAX),
    );
    assert_eq!(retry.delay_for(1), ms(100));
    assert_eq!(retry.delay_for(3), ms(10_000));
    for n in [30, 1_000, 1 << 31, u32::MAX] {
        assert_eq!(retry.delay_for(n), Duration::MAX);
    }
}

#[tokio::test(start_paused = true)]
async fn huge_attempt_counts_do_not_overflow() {
    // Sleeping Duration::MAX is fine for tokio (a far-future deadline) but would stall the
    // test; a fixed zero delay with u32::MAX attempts checks the counting instead.
    let retry = build(Retry::builder("t").max_attempts(u32::MAX).no_backoff());
    let (result, attempts, _) = run_failing(&retry, 1000).await;
    assert_eq!((result, attempts), (Ok(1001), 1001));
}

#[test]
fn build_rejects_out_of_range_settings() {
    let key = |builder: RetryBuilder| match builder.build() {
        Err(ConfigError::OutOfRange { key, .. }) => key,
        other => panic!("expected OutOfRange, got {other:?}"),
    };
    assert_eq!(key(Retry::builder("t").max_attempts(0)), "max_attempts");
    assert_eq!(key(Retry::builder("t").exponential(ms(1), 1.0)), "factor");
    assert_eq!(key(Retry::builder("t").exponential(ms(1), 0.5)), "factor");
    assert_eq!(
        key(Retry::builder("t").exponential(ms(1), f64::NAN)),
        "factor"
    );
    assert_eq!(
        key(Retry::builder("t").exponential(ms(1), f64::INFINITY)),
        "factor"
    );
    assert_eq!(key(Retry::builder("t").delays(Vec::new())), "delays");
    for fraction in [0.0, -0.1, 1.5, f64::NAN] {
        assert_eq!(
            key(Retry::builder("t").jitter(Jitter::Proportional(fraction))),
            "jitter"
        );
    }
    assert!(Retry::builder("t")
        .jitter(Jitter::Proportional(1.0))
        .build()
        .is_ok());
}

#[test]
fn build_fills_in_the_defaults() {
    let retry = build(Retry::builder("defaults"));
    assert_eq!(retry.name(), "defaults");
    assert_eq!(&**retry.name_arc(), "defaults");
    assert_eq!(retry.config(), RetryConfig::default());
    assert_eq!(Retry::with_defaults("d".into()).config(), retry.config());
}

#[test]
fn conflicts_are_the_explicit_settings_that_differ() {
    let existing = build(
        Retry::builder("t")
            .max_attempts(5)
            .max_elapsed(Duration::from_secs(1)),
    );
    // Unset keys never conflict, whatever the existing values.
    assert!(Retry::builder("t").conflicts_with(&existing).is_empty());
    // Explicit keys equal to the existing values do not conflict, defaults included.
    let same = Retry::builder("t")
        .max_attempts(5)
        .backoff(Backoff::default())
        .max_delay(Duration::from_secs(30));
    assert!(same.conflicts_with(&existing).is_empty());

    let different = Retry::builder("t")
        .max_attempts(4)
        .fixed(ms(100))
        .max_delay(ms(1))
        .jitter(Jitter::Full)
        .max_elapsed(Duration::from_secs(2));
    assert_eq!(
        different.conflicts_with(&existing),
        [
            "max_attempts",
            "backoff",
            "max_delay",
            "jitter",
            "max_elapsed"
        ]
    );
    assert_eq!(different.name().as_ref(), "t");
}

#[test]
fn config_display_is_one_line_in_attribute_keys() {
    let retry = build(
        Retry::builder("t")
            .max_attempts(5)
            .fixed(ms(250))
            .max_delay(Duration::from_secs(2))
            .jitter(Jitter::Proportional(0.25))
            .max_elapsed(Duration::from_secs(10)),
    );
    assert_eq!(
        retry.config().to_string(),
        "max_attempts=5 backoff=fixed(250ms) max_delay=2s jitter=25% max_elapsed=10s"
    );
}

#[test]
fn custom_backoffs_compare_by_function() {
    fn one(_: u32) -> Duration {
        ms(1)
    }
    fn two(_: u32) -> Duration {
        ms(2)
    }
    assert_eq!(Backoff::Custom(one), Backoff::Custom(one));
    assert_ne!(Backoff::Custom(one), Backoff::Custom(two));
    assert_ne!(Backoff::Custom(one), Backoff::Fixed(ms(1)));
}

#[test]
fn retry_futures_are_send_for_send_operations() {
    fn assert_send<T: Send>(_: &T) {}
    let retry = build(Retry::builder("t"));
    let call = retry.call(|| async { Ok::<(), String>(()) });
    assert_send(&call);
    let mut run = retry.begin();
    let step = run.after_attempt(
        Ok::<(), Failure<String>>(()),
        Failure::as_ref,
        |_| true,
        |_: &RetryContext<'_, String>| {},
    );
    assert_send(&step);
}
