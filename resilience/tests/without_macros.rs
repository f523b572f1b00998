//! The macro-free API as a user writes it: `Retry::call_with` and `run`, `Fallback::call`, and
//! what composing the policies' `call`s does, next to what the attributes do. All in virtual
//! time, so every sleep is checked to the nanosecond.

use std::sync::Mutex;
use std::time::Duration;

use resilience::{
    fallback, Bulkhead, CallOutcome, CircuitBreaker, Error, Failure, Fallback, RateLimiter, Retry,
    RetryContext, Timeout,
};
use tokio::time::{sleep, Instant};

/// An application's error: its own failure, and the policies' rejections converted.
#[derive(Debug, Clone, PartialEq)]
enum AppError {
    Down,
    Missing,
    Policy(Error),
}

impl From<Error> for AppError {
    fn from(rejection: Error) -> Self {
        AppError::Policy(rejection)
    }
}

fn rate_limited(retry_after: Duration) -> Error {
    Error::RateLimited {
        name: "limiter".into(),
        retry_after,
    }
}

fn fixed(name: &str, delay_ms: u64) -> Retry {
    Retry::builder(name)
        .fixed(Duration::from_millis(delay_ms))
        .build()
        .unwrap()
}

/// How `#[circuit_breaker]` counts the layers below it: a timeout is a failure, any other
/// rejection says nothing about the dependency.
fn as_the_attribute_counts(failure: &Failure<AppError>) -> CallOutcome {
    match failure {
        Failure::Operation(_) | Failure::Policy(Error::Timeout { .. }) => CallOutcome::Failure,
        Failure::Policy(_) => CallOutcome::Ignored,
    }
}

/// Each attempt's result, in turn; the last repeats.
struct Script<T>(Mutex<Vec<T>>);

impl<T: Clone> Script<T> {
    fn new(mut results: Vec<T>) -> Self {
        results.reverse();
        Script(Mutex::new(results))
    }

    fn next(&self) -> T {
        let mut results = self.0.lock().unwrap();
        if results.len() > 1 {
            results.pop().unwrap()
        } else {
            results[0].clone()
        }
    }
}

#[tokio::test(start_paused = true)]
async fn call_with_calls_on_retry_before_each_sleep() {
    let retry = Retry::builder("nm-call-with")
        .max_attempts(3)
        .exponential(Duration::from_millis(100), 2.0)
        .build()
        .unwrap();
    let started = Instant::now();
    let seen = Mutex::new(Vec::new());
    let result: Result<(), AppError> = retry
        .call_with(
            || async { Err(AppError::Down) },
            |_| true,
            |ctx: &RetryContext<'_, AppError>| {
                assert_eq!(ctx.error(), Some(&AppError::Down));
                assert!(ctx.rejection().is_none());
                seen.lock()
                    .unwrap()
                    .push((ctx.attempt(), ctx.delay(), started.elapsed()));
            },
        )
        .await;

    assert_eq!(result, Err(AppError::Down));
    let ms = Duration::from_millis;
    // Called with the coming delay, before sleeping it.
    assert_eq!(
        *seen.lock().unwrap(),
        [(1, ms(100), ms(0)), (2, ms(200), ms(100))]
    );
    assert_eq!(started.elapsed(), ms(300));
    assert_eq!(retry.stats().exhausted, 1);
}

#[tokio::test(start_paused = true)]
async fn call_with_stops_at_an_error_retry_if_refuses_without_calling_on_retry() {
    let retry = fixed("nm-call-with-refused", 100);
    let on_retry_calls = Mutex::new(0);
    let result: Result<(), AppError> = retry
        .call_with(
            || async { Err(AppError::Missing) },
            |error| *error == AppError::Down,
            |_| *on_retry_calls.lock().unwrap() += 1,
        )
        .await;
    assert_eq!(result, Err(AppError::Missing));
    assert_eq!(*on_retry_calls.lock().unwrap(), 0);
    assert_eq!(retry.stats().not_retryable, 1);
}

#[tokio::test(start_paused = true)]
async fn run_sleeps_at_least_a_rate_limits_retry_after() {
    let retry = fixed("nm-run-retry-after", 100);
    let attempts = Script::new(vec![
        Err(Failure::Policy(rate_limited(Duration::from_millis(750)))),
        Ok("sent"),
    ]);
    let delays = Mutex::new(Vec::new());
    let started = Instant::now();
    let sent: Result<&str, Failure<AppError>> = retry
        .run_with(
            || std::future::ready(attempts.next()),
            |_| true,
            |ctx| {
                assert!(matches!(ctx.rejection(), Some(Error::RateLimited { .. })));
                delays.lock().unwrap().push(ctx.delay());
            },
        )
        .await;
    assert_eq!(sent, Ok("sent"));
    assert_eq!(started.elapsed(), Duration::from_millis(750));
    assert_eq!(*delays.lock().unwrap(), [Duration::from_millis(750)]);
    assert_eq!(retry.stats().successes_after_retry, 1);
}

#[tokio::test(start_paused = true)]
async fn run_keeps_a_backoff_longer_than_retry_after() {
    let retry = fixed("nm-run-backoff-longer", 100);
    let attempts = Script::new(vec![
        Err(Failure::Policy(rate_limited(Duration::from_millis(30)))),
        Ok(()),
    ]);
    let started = Instant::now();
    let result: Result<(), Failure<AppError>> =
        retry.run(|| std::future::ready(attempts.next())).await;
    assert_eq!(result, Ok(()));
    assert_eq!(started.elapsed(), Duration::from_millis(100));
}

#[tokio::test(start_paused = true)]
async fn run_waits_for_a_real_limiters_next_cell() {
    // Two calls a second, one at a time: a cell every 500ms.
    let limiter = RateLimiter::builder("nm-run-limiter")
        .rate(2)
        .burst(1)
        .build()
        .unwrap();
    let retry = fixed("nm-run-limiter", 10);
    let started = Instant::now();
    for expected in [0, 500, 1000] {
        let sent: Result<(), Failure<AppError>> =
            retry.run(|| limiter.call(async { Ok(()) })).await;
        assert_eq!(sent, Ok(()));
        assert_eq!(started.elapsed(), Duration::from_millis(expected));
    }
    assert_eq!(retry.stats().retries, 2);
    assert_eq!(limiter.stats().rejected, 2);
}

#[tokio::test(start_paused = true)]
async fn call_sees_a_failure_as_an_opaque_error() {
    // The difference `run` makes: `call` cannot look into its error type, so it sleeps the
    // backoff's 100ms, not the limiter's 750ms.
    let retry = fixed("nm-call-opaque", 100);
    let attempts = Script::new(vec![
        Err(Failure::<AppError>::Policy(rate_limited(
            Duration::from_millis(750),
        ))),
        Ok(()),
    ]);
    let started = Instant::now();
    let result = retry.call(|| std::future::ready(attempts.next())).await;
    assert_eq!(result, Ok(()));
    assert_eq!(started.elapsed(), Duration::from_millis(100));
}

#[tokio::test(start_paused = true)]
async fn run_does_not_retry_an_open_circuit() {
    let breaker = CircuitBreaker::builder("nm-run-open").build().unwrap();
    breaker.force_open();
    let retry = fixed("nm-run-open", 100);
    let mut attempts = 0;
    let started = Instant::now();
    let result: Result<(), Failure<AppError>> = retry
        .run(|| {
            attempts += 1;
            breaker.call(async { Ok(()) })
        })
        .await;
    assert!(matches!(
        result,
        Err(Failure::Policy(Error::CircuitOpen { .. }))
    ));
    assert_eq!((attempts, started.elapsed()), (1, Duration::ZERO));
    assert_eq!(retry.stats().not_retryable, 1);
}

#[tokio::test(start_paused = true)]
async fn run_with_asks_retry_if_about_operation_errors_only() {
    let retry = fixed("nm-run-retry-if", 100);
    let timed_out = Error::Timeout {
        name: "db".into(),
        after: Duration::from_secs(1),
    };
    let attempts = Script::new(vec![
        Err(Failure::Policy(timed_out)),
        Err(Failure::Operation(AppError::Missing)),
    ]);
    let mut count = 0;
    let result: Result<(), Failure<AppError>> = retry
        .run_with(
            || {
                count += 1;
                std::future::ready(attempts.next())
            },
            |_| false,
            |_| {},
        )
        .await;
    // The timeout is retried whatever `retry_if` says; the operation's error is not.
    assert_eq!(result, Err(Failure::Operation(AppError::Missing)));
    assert_eq!(count, 2);
}

#[tokio::test]
async fn fallback_call_answers_failures_and_counts_them() {
    let fallback = Fallback::builder("nm-fallback-call").build().unwrap();
    let ok = fallback
        .call(async { Ok::<_, AppError>(1) }, |_| async { Ok(0) })
        .await;
    assert_eq!(ok, Ok(1));
    assert_eq!((fallback.stats().answered, fallback.stats().passed), (0, 0));

    let answered = fallback
        .call(async { Err(AppError::Down) }, |error| async move {
            assert_eq!(error, AppError::Down);
            Ok(0)
        })
        .await;
    assert_eq!(answered, Ok(0));
    // The fallback's own error is the call's.
    let failed_again: Result<u32, AppError> = fallback
        .call(async { Err(AppError::Down) }, |_| async {
            Err(AppError::Missing)
        })
        .await;
    assert_eq!(failed_again, Err(AppError::Missing));
    assert_eq!((fallback.stats().answered, fallback.stats().passed), (2, 0));
}

fn is_down(error: &AppError) -> bool {
    *error == AppError::Down
}

/// The attribute passes the function's arguments, then the error.
fn cached(_id: u32, _given: Option<AppError>, _error: AppError) -> Result<u32, AppError> {
    Ok(0)
}

#[fallback(cached, fallback_if = is_down, name = "nm-fallback-attribute")]
async fn load(id: u32, error: Option<AppError>) -> Result<u32, AppError> {
    error.map_or(Ok(id), Err)
}

#[tokio::test]
async fn fallback_call_if_counts_as_the_attribute_does() {
    let by_hand = Fallback::builder("nm-fallback-by-hand").build().unwrap();
    let cases = [None, Some(AppError::Down), Some(AppError::Missing)];
    for error in cases {
        let by_attribute = load(7, error.clone()).await;
        let result = by_hand
            .call_if(
                async { error.clone().map_or(Ok(7), Err) },
                is_down,
                |error| async { cached(7, None, error) },
            )
            .await;
        assert_eq!(result, by_attribute);
    }
    let attribute = resilience::registry()
        .fallback("nm-fallback-attribute")
        .unwrap()
        .stats();
    assert_eq!(by_hand.stats(), attribute);
    assert_eq!((attribute.answered, attribute.passed), (1, 1));
}

#[tokio::test(start_paused = true)]
async fn composed_calls_count_an_inner_rejection_as_a_breaker_failure() {
    // With the application's own error type, the bulkhead's rejection reaches the breaker as
    // an `AppError`, which `call` counts as a failure: not what `#[circuit_breaker]` does.
    let breaker = CircuitBreaker::builder("nm-composed-plain")
        .build()
        .unwrap();
    let bulkhead = Bulkhead::new("nm-composed-plain", 1).unwrap();
    let _held = bulkhead.try_acquire().unwrap();
    let result: Result<(), AppError> = breaker.call(bulkhead.call(async { Ok(()) })).await;
    assert!(matches!(
        result,
        Err(AppError::Policy(Error::BulkheadFull { .. }))
    ));
    assert_eq!(breaker.stats().failures, 1);
}

#[tokio::test(start_paused = true)]
async fn composed_calls_over_failures_behave_like_the_attributes() {
    let retry = fixed("nm-composed", 100);
    let breaker = CircuitBreaker::builder("nm-composed").build().unwrap();
    let timeout = Timeout::new("nm-composed", Duration::from_millis(50)).unwrap();
    let bulkhead = Bulkhead::new("nm-composed", 1).unwrap();
    // The bulkhead is full for the first attempt; the slot is given back before the second,
    // which times out; the third answers.
    let held = Mutex::new(Some(bulkhead.try_acquire().unwrap()));
    let work = Script::new(vec![
        Duration::from_secs(1),
        Duration::from_secs(1),
        Duration::ZERO,
    ]);
    let started = Instant::now();

    let result: Result<&str, Failure<AppError>> = retry
        .run_with(
            || {
                let work = work.next();
                let operation = async move {
                    sleep(work).await;
                    Ok("answer")
                };
                breaker.call_with(
                    timeout.call(bulkhead.call(operation)),
                    as_the_attribute_counts,
                )
            },
            |_| true,
            |_| drop(held.lock().unwrap().take()),
        )
        .await;

    assert_eq!(result, Ok("answer"));
    // Attempt 1 rejected at once, 100ms; attempt 2 timed out after 50ms, 100ms; attempt 3.
    assert_eq!(started.elapsed(), Duration::from_millis(250));
    let stats = breaker.stats();
    assert_eq!(
        (stats.ignored, stats.failures, stats.successes),
        (1, 1, 1),
        "the full bulkhead is ignored, the timeout is a failure"
    );
    assert_eq!(retry.stats().successes_after_retry, 1);
}
