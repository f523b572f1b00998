//! A rate limiter taking a new configuration while calls run: `RateLimiter::reconfigure`.

use std::sync::Arc;
use std::time::Duration;

use tokio::task::yield_now;
use tokio::time::{advance, Instant};

use super::*;

fn ms(millis: u64) -> Duration {
    Duration::from_millis(millis)
}

fn config(rate: u32, per: Duration, burst: u32, wait: Duration) -> RateLimiterConfig {
    RateLimiterConfig {
        rate,
        per,
        burst,
        wait,
        shared: false,
        key_idle: None,
        max_keys: 100_000,
    }
}

fn per_second(rate: u32, burst: u32) -> RateLimiterConfig {
    config(rate, Duration::from_secs(1), burst, Duration::ZERO)
}

fn limiter(name: &str, config: RateLimiterConfig) -> RateLimiter {
    RateLimiter::from_parts(name.into(), config)
}

fn retry_after(result: Result<(), Error>) -> Option<Duration> {
    match result {
        Err(Error::RateLimited { retry_after, .. }) => Some(retry_after),
        _ => None,
    }
}

#[tokio::test(start_paused = true)]
async fn a_higher_rate_applies_from_the_next_call() {
    let limiter = limiter("rl-re-faster", per_second(1, 1));
    assert!(limiter.try_acquire().is_ok());
    assert_eq!(retry_after(limiter.try_acquire()), Some(ms(1000)));

    assert_eq!(limiter.reconfigure(per_second(10, 1)), ["rate"]);

    // The cell taken is still missing, but refills at the new pace: 100ms, not the old 1s.
    assert_eq!(retry_after(limiter.try_acquire()), Some(ms(100)));
    advance(ms(100)).await;
    assert!(limiter.try_acquire().is_ok());
    assert_eq!(retry_after(limiter.try_acquire()), Some(ms(100)));
    advance(ms(100)).await;
    assert!(limiter.try_acquire().is_ok());
}

#[tokio::test(start_paused = true)]
async fn a_lower_rate_keeps_the_cells_taken_and_refills_at_the_new_pace() {
    let limiter = limiter("rl-re-slower", per_second(10, 10));
    assert!(limiter.try_acquire().is_ok());
    assert!(limiter.try_acquire().is_ok());
    assert_eq!(limiter.stats().available, 8);

    assert_eq!(limiter.reconfigure(per_second(1, 10)), ["rate"]);

    // Still 2 cells short, now one a second: the old pace would have refilled both by 200ms.
    assert_eq!(limiter.stats().available, 8);
    advance(ms(200)).await;
    assert_eq!(limiter.stats().available, 8);
    advance(ms(800)).await;
    assert_eq!(limiter.stats().available, 9);
    for _ in 0..9 {
        assert!(limiter.try_acquire().is_ok());
    }
    assert_eq!(retry_after(limiter.try_acquire()), Some(ms(1000)));
}

#[tokio::test(start_paused = true)]
async fn a_smaller_burst_owes_at_most_one_new_bucket() {
    let limiter = limiter("rl-re-burst", per_second(100, 100));
    for _ in 0..100 {
        assert!(limiter.try_acquire().is_ok());
    }

    assert_eq!(limiter.reconfigure(per_second(100, 5)), ["burst"]);

    let stats = limiter.stats();
    assert_eq!((stats.available, stats.burst), (0, 5));
    // The next cell is one interval away, not a hundred.
    assert_eq!(retry_after(limiter.try_acquire()), Some(ms(10)));
    advance(ms(1000)).await;
    assert_eq!(limiter.stats().available, 5, "full at the new burst");
}

#[tokio::test(start_paused = true)]
async fn a_larger_burst_adds_its_room_at_once() {
    let limiter = limiter("rl-re-burst-up", per_second(10, 2));
    assert!(limiter.try_acquire().is_ok());
    assert!(limiter.try_acquire().is_ok());
    assert!(limiter.try_acquire().is_err());

    limiter.reconfigure(per_second(10, 5));

    // Two cells still missing of five.
    assert_eq!(limiter.stats().available, 3);
    for _ in 0..3 {
        assert!(limiter.try_acquire().is_ok());
    }
    assert!(limiter.try_acquire().is_err());
}

#[tokio::test(start_paused = true)]
async fn a_new_wait_applies_to_callers_arriving_after_it() {
    let limiter = Arc::new(limiter(
        "rl-re-wait",
        config(1, Duration::from_secs(1), 1, Duration::from_secs(1)),
    ));
    assert!(limiter.has_wait());
    assert!(limiter.try_acquire().is_ok());
    let start = Instant::now();
    let waiting = {
        let limiter = Arc::clone(&limiter);
        tokio::spawn(async move { (limiter.acquire().await, start.elapsed()) })
    };
    yield_now().await;

    let changed = limiter.reconfigure(config(1, Duration::from_secs(1), 1, Duration::ZERO));

    assert_eq!(changed, ["wait"]);
    assert!(!limiter.has_wait());
    // A newcomer no longer waits.
    assert_eq!(retry_after(limiter.acquire().await), Some(ms(1000)));
    assert_eq!(start.elapsed(), Duration::ZERO);
    // The caller already waiting keeps its wait, and gets its cell.
    let (result, waited) = waiting.await.expect("no panic");
    assert_eq!((result, waited), (Ok(()), ms(1000)));
    assert_eq!(limiter.stats().waited, 1);
}

#[tokio::test(start_paused = true)]
async fn a_wait_where_there_was_none_lets_the_next_caller_wait() {
    let limiter = limiter("rl-re-wait-new", per_second(10, 1));
    assert!(limiter.try_acquire().is_ok());
    assert!(limiter.acquire().await.is_err());

    limiter.reconfigure(config(10, Duration::from_secs(1), 1, ms(500)));

    let start = Instant::now();
    assert_eq!(limiter.acquire().await, Ok(()));
    assert_eq!(start.elapsed(), ms(100));
}

#[test]
fn reconfigure_reports_the_changed_keys_and_config_shows_the_new_settings() {
    let limiter = limiter("rl-re-keys", per_second(10, 10));

    assert!(limiter.reconfigure(per_second(10, 10)).is_empty());
    let everything = config(5, Duration::from_secs(60), 2, ms(250));
    assert_eq!(
        limiter.reconfigure(everything),
        ["rate", "per", "burst", "wait"]
    );
    assert_eq!(limiter.config(), everything);
    assert_eq!(
        limiter.config().to_string(),
        "rate=5/60s burst=2 wait=250ms"
    );
    // The same interval in other words is still a change of the keys.
    assert_eq!(
        limiter.reconfigure(config(10, Duration::from_secs(120), 2, ms(250))),
        ["rate", "per"]
    );
}

#[tokio::test(start_paused = true)]
async fn the_same_interval_in_other_words_leaves_the_bucket_as_it_is() {
    let limiter = limiter("rl-re-same-pace", per_second(10, 4));
    assert!(limiter.try_acquire().is_ok());
    limiter.reconfigure(config(20, Duration::from_secs(2), 4, Duration::ZERO));
    assert_eq!(limiter.stats().available, 3);
    advance(ms(100)).await;
    assert_eq!(limiter.stats().available, 4);
}

#[test]
fn the_keys_are_spelled_as_the_attribute_table_spells_them() {
    use resilience_settings::rate_limit::KEYS;
    let limiter = limiter("rl-re-spelling", per_second(10, 10));
    let changed = limiter.reconfigure(config(5, Duration::from_secs(2), 3, ms(1)));
    assert_eq!(changed.len(), 4);
    for key in changed {
        assert!(KEYS.iter().any(|spec| spec.key == key), "{key}");
    }
}
