//! A retry taking a new configuration while calls run: `Retry::reconfigure`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::task::yield_now;
use tokio::time::{sleep, Instant};

use super::*;
use crate::Error;

fn ms(millis: u64) -> Duration {
    Duration::from_millis(millis)
}

fn build(builder: RetryBuilder) -> Retry {
    match builder.build() {
        Ok(retry) => retry,
        Err(err) => panic!("valid test configuration rejected: {err}"),
    }
}

/// The configuration `builder` describes, defaults filled in and checked.
fn config_of(builder: RetryBuilder) -> RetryConfig {
    build(builder).config()
}

/// When each attempt of a call began, relative to `start`.
#[derive(Clone)]
struct Attempts {
    start: Instant,
    at: Arc<Mutex<Vec<Duration>>>,
}

impl Attempts {
    fn new() -> Self {
        Attempts {
            start: Instant::now(),
            at: Arc::default(),
        }
    }

    fn record(&self) {
        let at = self.start.elapsed();
        self.at.lock().expect("not poisoned").push(at);
    }

    fn times(&self) -> Vec<Duration> {
        self.at.lock().expect("not poisoned").clone()
    }
}

/// A call through `retry` whose every attempt fails after `takes`.
async fn failing_call(retry: &Retry, attempts: &Attempts, takes: Duration) -> Result<(), String> {
    retry
        .call(|| async move {
            attempts.record();
            sleep(takes).await;
            Err::<(), _>("refused".to_owned())
        })
        .await
}

#[tokio::test(start_paused = true)]
async fn new_max_attempts_and_backoff_apply_to_the_next_call() {
    let retry = build(Retry::builder("re-next").fixed(ms(100)));
    let before = Attempts::new();
    assert!(failing_call(&retry, &before, Duration::ZERO).await.is_err());
    assert_eq!(before.times(), [ms(0), ms(100), ms(200)]);

    let changed = retry.reconfigure(config_of(
        Retry::builder("re-next").max_attempts(4).linear(ms(10)),
    ));
    assert_eq!(changed, ["max_attempts", "backoff", "delay"]);

    let after = Attempts::new();
    assert!(failing_call(&retry, &after, Duration::ZERO).await.is_err());
    assert_eq!(after.times(), [ms(0), ms(10), ms(30), ms(60)]);
    assert_eq!(retry.stats().exhausted, 2);
}

#[tokio::test(start_paused = true)]
async fn a_running_call_keeps_its_max_attempts() {
    let retry = Arc::new(build(
        Retry::builder("re-running").max_attempts(3).fixed(ms(100)),
    ));
    let attempts = Attempts::new();
    let call = {
        let (retry, attempts) = (Arc::clone(&retry), attempts.clone());
        tokio::spawn(async move { failing_call(&retry, &attempts, Duration::ZERO).await })
    };
    yield_now().await;
    assert_eq!(
        attempts.times().len(),
        1,
        "the first attempt failed, the call sleeps"
    );

    retry.reconfigure(config_of(
        Retry::builder("re-running").max_attempts(1).fixed(ms(100)),
    ));

    assert!(call.await.expect("no panic").is_err());
    assert_eq!(attempts.times(), [ms(0), ms(100), ms(200)]);
    // The next call has one attempt.
    let next = Attempts::new();
    assert!(failing_call(&retry, &next, Duration::ZERO).await.is_err());
    assert_eq!(next.times(), [ms(0)]);
}

#[tokio::test(start_paused = true)]
async fn a_running_call_follows_the_new_schedule_from_its_next_failure() {
    let retry = Arc::new(build(
        Retry::builder("re-schedule")
            .max_attempts(3)
            .fixed(ms(1000)),
    ));
    let attempts = Attempts::new();
    let call = {
        let (retry, attempts) = (Arc::clone(&retry), attempts.clone());
        tokio::spawn(async move { failing_call(&retry, &attempts, Duration::ZERO).await })
    };
    sleep(ms(500)).await;

    retry.reconfigure(config_of(
        Retry::builder("re-schedule").max_attempts(3).fixed(ms(10)),
    ));

    assert!(call.await.expect("no panic").is_err());
    // The sleep under way is not cut short; the one after the next failure is the new one.
    assert_eq!(attempts.times(), [ms(0), ms(1000), ms(1010)]);
}

#[tokio::test(start_paused = true)]
async fn a_new_max_elapsed_times_the_next_call_from_its_start() {
    let retry = build(Retry::builder("re-elapsed").max_attempts(10).fixed(ms(100)));

    let changed = retry.reconfigure(config_of(
        Retry::builder("re-elapsed")
            .max_attempts(10)
            .fixed(ms(100))
            .max_elapsed(ms(250)),
    ));
    assert_eq!(changed, ["max_elapsed"]);

    // The first attempt takes 200ms: 200ms + a 100ms sleep would pass 250ms.
    let attempts = Attempts::new();
    assert!(failing_call(&retry, &attempts, ms(200)).await.is_err());
    assert_eq!(attempts.times(), [ms(0)]);
}

#[tokio::test(start_paused = true)]
async fn a_new_retry_on_decides_about_the_next_rejection() {
    let retry = build(Retry::builder("re-retry-on").no_backoff());
    let timed_out = || -> Result<(), Failure<String>> {
        Err(Failure::Policy(Error::Timeout {
            name: "below".into(),
            after: ms(50),
        }))
    };
    let mut attempts = 0;
    let _ = retry
        .run(|| {
            attempts += 1;
            async { timed_out() }
        })
        .await;
    assert_eq!(attempts, 3, "a timeout is retried by default");

    let changed = retry.reconfigure(config_of(
        Retry::builder("re-retry-on")
            .no_backoff()
            .retry_on(RetryOn::NONE),
    ));
    assert_eq!(changed, ["retry_on"]);

    let mut attempts = 0;
    let _ = retry
        .run(|| {
            attempts += 1;
            async { timed_out() }
        })
        .await;
    assert_eq!(attempts, 1);
}

/// An annotated function moves an owned argument into the attempt it is told is the last. A
/// larger `max_attempts` given while that attempt runs must not start another one, which would
/// find the argument gone.
#[tokio::test(start_paused = true)]
async fn an_annotated_function_with_an_owned_argument_survives_a_larger_max_attempts() {
    #[crate::retry(max_attempts = 1, name = "re-macro-owned", crate = "crate")]
    async fn send(message: String) -> Result<usize, Error> {
        sleep(ms(100)).await;
        Err(Error::Timeout {
            name: message.into(),
            after: ms(100),
        })
    }
    assert!(send("warm-up".to_owned()).await.is_err());
    let retry = crate::registry()
        .retry("re-macro-owned")
        .expect("registered by the first call");
    let call = tokio::spawn(send("hello".to_owned()));
    sleep(ms(50)).await;

    retry.reconfigure(config_of(
        Retry::builder("re-macro-owned")
            .max_attempts(3)
            .no_backoff(),
    ));

    let error = call.await.expect("the call does not panic");
    assert!(error.is_err());
    let stats = retry.stats();
    assert_eq!((stats.calls, stats.retries), (2, 0), "one attempt each");

    // The next call gets three, each with its own copy of the argument.
    let start = Instant::now();
    assert!(send("again".to_owned()).await.is_err());
    assert_eq!(start.elapsed(), ms(300));
    assert_eq!(retry.stats().retries, 2);
}

#[test]
fn reconfigure_reports_the_changed_keys_as_the_attribute_spells_them() {
    let retry = build(Retry::builder("re-keys"));
    let reconfigure = |builder: RetryBuilder| retry.reconfigure(config_of(builder));

    assert!(reconfigure(Retry::builder("re-keys")).is_empty());
    assert_eq!(
        reconfigure(Retry::builder("re-keys").exponential(ms(100), 3.0)),
        ["factor"]
    );
    assert_eq!(
        reconfigure(Retry::builder("re-keys").fixed(ms(100))),
        ["backoff", "factor"]
    );
    assert_eq!(
        reconfigure(Retry::builder("re-keys").fixed(ms(200))),
        ["delay"]
    );
    assert_eq!(
        reconfigure(Retry::builder("re-keys").delays(vec![ms(200), ms(400)])),
        ["backoff", "delay", "delays"]
    );
    fn custom(retry: u32) -> Duration {
        ms(u64::from(retry))
    }
    assert_eq!(
        reconfigure(Retry::builder("re-keys").backoff_fn(custom)),
        ["delays", "backoff_fn"]
    );
    assert_eq!(
        reconfigure(
            Retry::builder("re-keys")
                .backoff_fn(custom)
                .max_attempts(7)
                .max_delay(ms(5_000))
                .jitter(Jitter::Full)
                .max_elapsed(ms(60_000))
                .retry_on(RetryOn::default() | RetryOn::CIRCUIT_OPEN)
        ),
        [
            "max_attempts",
            "max_delay",
            "jitter",
            "max_elapsed",
            "retry_on"
        ]
    );

    let config = retry.config();
    assert_eq!(config.max_attempts, 7);
    assert_eq!(config.backoff, Backoff::Custom(custom));
    assert_eq!(
        config.to_string(),
        "max_attempts=7 backoff=custom max_delay=5s jitter=full max_elapsed=60s \
         retry_on=[\"timeout\", \"bulkhead_full\", \"rate_limited\", \"circuit_open\"]"
    );
    assert_eq!(retry.delay_for(3), ms(3), "delay_for reads the new backoff");
}

#[test]
fn every_changed_key_is_a_setting_of_the_attribute_table() {
    use resilience_settings::retry::KEYS;
    let retry = build(Retry::builder("re-spelling").fixed(ms(10)));
    let changed = retry.reconfigure(config_of(
        Retry::builder("re-spelling")
            .max_attempts(5)
            .exponential(ms(20), 3.0)
            .max_delay(ms(1_000))
            .jitter(Jitter::Equal)
            .max_elapsed(ms(10_000))
            .retry_on(RetryOn::NONE),
    ));
    assert_eq!(changed.len(), 8, "{changed:?}");
    for key in changed {
        assert!(KEYS.iter().any(|spec| spec.setting == key), "{key}");
    }
}
