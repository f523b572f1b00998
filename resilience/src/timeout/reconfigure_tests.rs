//! A timeout taking a new configuration while calls run: `Timeout::reconfigure`.

use std::sync::Arc;
use std::time::Duration;

use tokio::task::yield_now;
use tokio::time::{sleep, Instant};

use super::*;

fn secs(secs: u64) -> Duration {
    Duration::from_secs(secs)
}

fn config(duration: Duration) -> TimeoutConfig {
    TimeoutConfig { duration }
}

fn timed_out(name: &str, after: Duration) -> Error {
    Error::Timeout {
        name: name.into(),
        after,
    }
}

/// A call through `timeout` whose body takes `takes`, spawned and polled once so it is running;
/// its result and when it ended.
async fn running_call(
    timeout: &Arc<Timeout>,
    takes: Duration,
) -> tokio::task::JoinHandle<(Result<(), Error>, Duration)> {
    let timeout = Arc::clone(timeout);
    let start = Instant::now();
    let call = tokio::spawn(async move {
        let result = timeout
            .call(async {
                sleep(takes).await;
                Ok::<_, Error>(())
            })
            .await;
        (result, start.elapsed())
    });
    yield_now().await;
    call
}

#[tokio::test(start_paused = true)]
async fn a_longer_duration_applies_to_the_next_call_not_to_one_already_waiting() {
    let timeout = Arc::new(Timeout::from_parts("t-re-longer".into(), config(secs(1))));
    let before = running_call(&timeout, secs(10)).await;

    assert_eq!(timeout.reconfigure(config(secs(5))), ["duration"]);
    let after = running_call(&timeout, secs(10)).await;

    assert_eq!(
        before.await.expect("no panic"),
        (Err(timed_out("t-re-longer", secs(1))), secs(1))
    );
    assert_eq!(
        after.await.expect("no panic"),
        (Err(timed_out("t-re-longer", secs(5))), secs(5))
    );
    let stats = timeout.stats();
    assert_eq!((stats.calls, stats.timeouts), (2, 2));
}

#[tokio::test(start_paused = true)]
async fn a_shorter_duration_does_not_cut_a_call_already_waiting() {
    let timeout = Arc::new(Timeout::from_parts("t-re-shorter".into(), config(secs(5))));
    let before = running_call(&timeout, secs(2)).await;

    timeout.reconfigure(config(Duration::from_millis(100)));
    let after = running_call(&timeout, secs(2)).await;

    assert_eq!(before.await.expect("no panic"), (Ok(()), secs(2)));
    assert_eq!(
        after.await.expect("no panic"),
        (
            Err(timed_out("t-re-shorter", Duration::from_millis(100))),
            Duration::from_millis(100)
        )
    );
    let stats = timeout.stats();
    assert_eq!((stats.calls, stats.in_time, stats.timeouts), (2, 1, 1));
}

#[tokio::test(start_paused = true)]
async fn an_annotated_function_takes_the_new_duration_from_its_next_call() {
    #[crate::timeout(duration = "1s", name = "t-re-macro", crate = "crate")]
    async fn slow(takes: Duration) -> Result<(), Error> {
        sleep(takes).await;
        Ok(())
    }
    assert_eq!(slow(Duration::ZERO).await, Ok(()));
    let timeout = crate::registry()
        .timeout("t-re-macro")
        .expect("registered by the first call");
    let start = Instant::now();
    let before = tokio::spawn(slow(secs(10)));
    yield_now().await;

    timeout.reconfigure(config(secs(3)));

    assert_eq!(slow(secs(10)).await, Err(timed_out("t-re-macro", secs(3))));
    assert_eq!(start.elapsed(), secs(3));
    assert_eq!(
        before.await.expect("no panic"),
        Err(timed_out("t-re-macro", secs(1)))
    );
}

#[test]
fn reconfigure_reports_the_changed_keys_and_config_shows_the_new_settings() {
    let timeout = Timeout::from_parts("t-re-keys".into(), config(secs(1)));

    assert!(timeout.reconfigure(config(secs(1))).is_empty());
    assert_eq!(
        timeout.reconfigure(config(Duration::from_millis(1500))),
        ["duration"]
    );
    assert_eq!(timeout.config(), config(Duration::from_millis(1500)));
    assert_eq!(timeout.config().to_string(), "duration=1.5s");
    assert_eq!(timeout.duration(), Duration::from_millis(1500));

    // A duration too long for nanoseconds is forever, as before.
    timeout.reconfigure(config(Duration::MAX));
    assert_eq!(timeout.duration(), Duration::MAX);
    assert_eq!(timeout.config().duration, Duration::MAX);
}

#[test]
fn the_key_is_the_setting_the_attribute_table_names() {
    use resilience_settings::timeout::KEYS;
    let timeout = Timeout::from_parts("t-re-spelling".into(), config(secs(1)));
    for key in timeout.reconfigure(config(secs(2))) {
        assert!(KEYS.iter().any(|spec| spec.setting == key), "{key}");
    }
}
