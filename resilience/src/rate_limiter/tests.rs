use std::future::{poll_fn, Future};
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use tokio::time::{advance, Instant};

use super::*;

fn ms(millis: u64) -> Duration {
    Duration::from_millis(millis)
}

/// A limiter of `rate` calls per second, `burst` at once, waiting up to `wait`.
fn limiter(name: &str, rate: u32, burst: u32, wait: Duration) -> RateLimiter {
    RateLimiter::builder(name)
        .rate(rate)
        .burst(burst)
        .wait(wait)
        .build()
        .expect("valid settings")
}

fn limited(name: &str, retry_after: Duration) -> Error {
    Error::RateLimited {
        name: name.into(),
        retry_after,
    }
}

#[tokio::test(start_paused = true)]
async fn admits_burst_at_once_then_one_per_interval_and_says_when_the_next_cell_is_due() {
    // 10 per second, 3 at once: one cell every 100 ms.
    let limiter = limiter("rl-sequence", 10, 3, Duration::ZERO);
    let start = Instant::now();
    // (time since start, result of one try_acquire at that time)
    let timeline = [
        (0, Ok(())),
        (0, Ok(())),
        (0, Ok(())),
        (0, Err(100)),
        (40, Err(60)),
        (99, Err(1)),
        (100, Ok(())),
        (100, Err(100)),
        (250, Ok(())),
        // The cell due at 300 ms is not there yet at 299 ms.
        (299, Err(1)),
        (300, Ok(())),
        // A quiet spell refills the bucket up to `burst`, not beyond.
        (2_000, Ok(())),
        (2_000, Ok(())),
        (2_000, Ok(())),
        (2_000, Err(100)),
    ];
    for (at, expected) in timeline {
        tokio::time::sleep_until(start + ms(at)).await;
        let expected = expected.map_err(|after| limited("rl-sequence", ms(after)));
        assert_eq!(limiter.try_acquire(), expected, "at {at} ms");
    }
    let stats = limiter.stats();
    assert_eq!((stats.permitted, stats.rejected, stats.waited), (9, 6, 0));
}

#[tokio::test(start_paused = true)]
async fn the_interval_is_rounded_up_so_the_rate_is_never_exceeded() {
    // 3 per second: a cell every 333_333_334 ns, not 333_333_333.
    let limiter = limiter("rl-rounding", 3, 1, Duration::ZERO);
    assert_eq!(
        limiter.config().interval(),
        Duration::from_nanos(333_333_334)
    );
    assert!(limiter.try_acquire().is_ok());
    advance(Duration::from_nanos(333_333_333)).await;
    assert_eq!(
        limiter.try_acquire(),
        Err(limited("rl-rounding", Duration::from_nanos(1)))
    );
    advance(Duration::from_nanos(1)).await;
    assert!(limiter.try_acquire().is_ok());
}

#[tokio::test(start_paused = true)]
async fn a_waiting_caller_is_admitted_exactly_when_its_cell_is_due() {
    let limiter = limiter("rl-wait", 10, 1, ms(250));
    let start = Instant::now();
    assert_eq!(limiter.acquire().await, Ok(()));
    assert_eq!(start.elapsed(), Duration::ZERO);

    assert_eq!(limiter.acquire().await, Ok(()));
    assert_eq!(start.elapsed(), ms(100));
    assert_eq!(
        limiter.call(async { Ok::<_, Error>("third") }).await,
        Ok("third")
    );
    assert_eq!(start.elapsed(), ms(200));

    let stats = limiter.stats();
    assert_eq!((stats.permitted, stats.waited, stats.rejected), (3, 2, 0));
}

#[tokio::test(start_paused = true)]
async fn a_caller_whose_cell_is_due_after_its_wait_is_rejected_without_sleeping() {
    let impatient = limiter("rl-wait-short", 10, 1, ms(99));
    assert!(impatient.try_acquire().is_ok());
    let start = Instant::now();
    assert_eq!(
        impatient.acquire().await,
        Err(limited("rl-wait-short", ms(100)))
    );
    assert_eq!(start.elapsed(), Duration::ZERO);

    // A wait of exactly the time to the next cell is enough.
    let patient = limiter("rl-wait-exact", 10, 1, ms(100));
    assert!(patient.try_acquire().is_ok());
    assert_eq!(patient.acquire().await, Ok(()));
    assert_eq!(start.elapsed(), ms(100));
}

#[tokio::test(start_paused = true)]
async fn waiters_share_the_cells_due_within_their_wait_and_the_rest_are_rejected() {
    // 10 per second, 2 at once, each caller waits up to 1 s: from an empty start the bucket
    // gives 2 cells at once and 10 more by 1 s; 50 callers arrive together.
    let limiter = Arc::new(limiter("rl-crowd", 10, 2, Duration::from_secs(1)));
    let start = Instant::now();
    let callers: Vec<_> = (0..50)
        .map(|_| {
            let limiter = Arc::clone(&limiter);
            tokio::spawn(async move { limiter.acquire().await.map(|()| start.elapsed()) })
        })
        .collect();
    let mut admitted_at = Vec::new();
    let mut rejections = 0;
    for caller in callers {
        match caller.await.expect("the caller does not panic") {
            Ok(at) => admitted_at.push(at),
            Err(Error::RateLimited { retry_after, .. }) => {
                assert_eq!(retry_after, ms(100));
                rejections += 1;
            }
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    admitted_at.sort();
    let expected: Vec<_> = [0, 0, 100, 200, 300, 400, 500, 600, 700, 800, 900, 1_000]
        .into_iter()
        .map(ms)
        .collect();
    assert_eq!(admitted_at, expected);
    assert_eq!(rejections, 38);
    let stats = limiter.stats();
    assert_eq!(
        (stats.permitted, stats.waited, stats.rejected),
        (12, 10, 38)
    );
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_waiter_takes_no_cell() {
    let limiter = limiter("rl-cancel", 10, 1, Duration::from_secs(1));
    assert!(limiter.try_acquire().is_ok());

    // A waiter that gives up after 50 ms, as under an outer timeout.
    let gave_up = tokio::time::timeout(ms(50), limiter.acquire()).await;
    assert!(gave_up.is_err());

    // A waiter dropped after its first poll.
    {
        let mut waiter = pin!(limiter.acquire());
        let first_poll = poll_fn(|cx| Poll::Ready(waiter.as_mut().poll(cx).is_pending())).await;
        assert!(first_poll);
    }

    // The cell due at 100 ms is still there for the next caller, and only that one.
    tokio::time::sleep(ms(50)).await;
    assert_eq!(limiter.try_acquire(), Ok(()));
    assert_eq!(limiter.try_acquire(), Err(limited("rl-cancel", ms(100))));
    let stats = limiter.stats();
    assert_eq!((stats.permitted, stats.waited, stats.rejected), (2, 0, 1));
}

#[tokio::test(start_paused = true)]
async fn random_cancellation_never_costs_a_cell() {
    // Waiters with random patience and random cancellation; afterwards the bucket must be
    // exactly as if only the admitted calls had happened.
    let limiter = Arc::new(limiter("rl-random", 20, 3, ms(300)));
    let mut rng = SmallRng::seed_from_u64(7);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..200 {
        let limiter = Arc::clone(&limiter);
        let arrive = ms(rng.gen_range(0..2_000));
        let patience = ms(rng.gen_range(0..400));
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep_until(start + arrive).await;
            tokio::time::timeout(patience, limiter.acquire())
                .await
                .ok()
                .and_then(Result::ok)
                .map(|()| start.elapsed())
        }));
    }
    let mut admitted_at = Vec::new();
    for task in tasks {
        if let Some(at) = task.await.expect("no panic") {
            admitted_at.push(at);
        }
    }
    admitted_at.sort();
    // Every window [a, b] holds at most burst + (b - a) / interval admissions.
    let interval = ms(50);
    for (i, first) in admitted_at.iter().enumerate() {
        for (j, last) in admitted_at.iter().enumerate().skip(i) {
            let allowed = 3 + ((*last - *first).as_nanos() / interval.as_nanos()) as usize;
            assert!(
                j - i < allowed,
                "{} admitted in {first:?}..={last:?}",
                j - i + 1
            );
        }
    }
    assert_eq!(limiter.stats().permitted, admitted_at.len() as u64);
    // After a quiet spell the bucket is full: nothing leaked out of it.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(limiter.stats().available, 3);
}

#[tokio::test(start_paused = true)]
async fn a_rejected_call_is_not_polled_and_run_keeps_the_rejection_typed() {
    let limiter = limiter("rl-run", 1, 1, Duration::ZERO);
    let ran = AtomicBool::new(false);
    let first = limiter
        .run(async { Ok::<_, Failure<&str>>("served") })
        .await;
    assert_eq!(first, Ok("served"));
    let second = limiter
        .run(async {
            ran.store(true, Ordering::SeqCst);
            Ok::<_, Failure<&str>>("served")
        })
        .await;
    assert_eq!(
        second,
        Err(Failure::Policy(limited("rl-run", Duration::from_secs(1))))
    );
    assert!(!ran.load(Ordering::SeqCst));
    // The operation's own error passes through untouched.
    limiter.refill();
    let failed = limiter
        .run(async { Err::<(), _>(Failure::Operation("down")) })
        .await;
    assert_eq!(failed, Err(Failure::Operation("down")));
}

#[tokio::test(start_paused = true)]
async fn a_rejection_is_announced() {
    let mut events = crate::events::subscribe();
    let limiter = limiter("rl-event", 1, 1, Duration::ZERO);
    assert!(limiter.try_acquire().is_ok());
    assert!(limiter.try_acquire().is_err());

    // Other tests share the bus: look for this limiter's event only.
    loop {
        match events.try_recv() {
            Ok(Event::CallRejected { kind, error, .. }) if error.policy_name() == "rl-event" => {
                assert_eq!(kind, PolicyKind::RateLimiter);
                assert_eq!(error, limited("rl-event", Duration::from_secs(1)));
                break;
            }
            Ok(_) => {}
            Err(e) => panic!("no CallRejected event for rl-event: {e}"),
        }
    }
}

#[tokio::test(start_paused = true)]
async fn stats_show_the_free_cells_and_reset_stats_keeps_the_bucket() {
    let limiter = limiter("rl-stats", 10, 4, Duration::ZERO);
    assert_eq!(limiter.stats().available, 4);
    for _ in 0..3 {
        assert!(limiter.try_acquire().is_ok());
    }
    assert_eq!(
        limiter.stats(),
        RateLimiterStats {
            permitted: 3,
            rejected: 0,
            waited: 0,
            available: 1,
            burst: 4,
            keys: None,
        }
    );
    advance(ms(150)).await;
    assert_eq!(limiter.stats().available, 2);
    limiter.reset_stats();
    let stats = limiter.stats();
    assert_eq!((stats.permitted, stats.available), (0, 2));
    limiter.refill();
    assert_eq!(limiter.stats().available, 4);
}

#[test]
fn build_validates_and_fills_in_defaults() {
    let limiter = RateLimiter::builder("rl-build")
        .rate(50)
        .build()
        .expect("valid");
    assert_eq!(
        limiter.config(),
        RateLimiterConfig {
            rate: 50,
            per: Duration::from_secs(1),
            burst: 50,
            wait: Duration::ZERO,
            shared: false,
            key_idle: None,
            max_keys: 100_000,
        }
    );
    let out_of_range = |builder: RateLimiterBuilder| match builder.build() {
        Err(ConfigError::OutOfRange { key, .. }) => key,
        other => panic!("expected an error, got {other:?}"),
    };
    assert_eq!(out_of_range(RateLimiter::builder("x")), "rate");
    assert_eq!(out_of_range(RateLimiter::builder("x").rate(0)), "rate");
    assert_eq!(
        out_of_range(
            RateLimiter::builder("x")
                .rate(2)
                .per(Duration::from_nanos(1))
        ),
        "rate"
    );
    assert_eq!(
        out_of_range(RateLimiter::builder("x").rate(1).per(Duration::ZERO)),
        "per"
    );
    assert_eq!(
        out_of_range(RateLimiter::builder("x").rate(1).burst(0)),
        "burst"
    );
    assert_eq!(
        out_of_range(
            RateLimiter::builder("x")
                .rate(1)
                .per(Duration::from_secs(365 * 24 * 60 * 60))
                .burst(101)
        ),
        "burst"
    );
    // One cell per nanosecond is the finest rate.
    assert!(RateLimiter::new("x", 1_000, Duration::from_micros(1)).is_ok());
}

#[test]
fn conflicts_name_only_explicit_settings_that_differ() {
    let existing = RateLimiter::builder("rl-conflict")
        .rate(10)
        .burst(2)
        .build()
        .expect("valid");
    assert!(RateLimiter::builder("rl-conflict")
        .conflicts_with(&existing)
        .is_empty());
    assert!(RateLimiter::builder("rl-conflict")
        .rate(10)
        .per(Duration::from_secs(1))
        .burst(2)
        .wait(Duration::ZERO)
        .conflicts_with(&existing)
        .is_empty());
    assert_eq!(
        RateLimiter::builder("rl-conflict")
            .rate(20)
            .per(ms(500))
            .burst(3)
            .wait(ms(1))
            .conflicts_with(&existing),
        ["rate", "per", "burst", "wait"]
    );
}

#[test]
fn accessors_and_display() {
    let limiter = RateLimiter::builder("rl-display")
        .rate(5)
        .per(Duration::from_secs(60))
        .burst(2)
        .wait(ms(250))
        .build()
        .expect("valid");
    assert_eq!(limiter.name(), "rl-display");
    assert_eq!(&**limiter.name_arc(), "rl-display");
    assert_eq!(limiter.config().interval(), Duration::from_secs(12));
    assert_eq!(
        limiter.config().to_string(),
        "rate=5/60s burst=2 wait=250ms"
    );
    let debug = format!("{limiter:?}");
    assert!(
        debug.starts_with("RateLimiter { name: \"rl-display\""),
        "{debug}"
    );
    let builder = RateLimiter::builder("rl-display").rate(1);
    assert_eq!(builder.name().as_ref(), "rl-display");
    assert!(format!("{:?}", builder.clone()).contains("rate: Some(1)"));
}

#[tokio::test(start_paused = true)]
async fn the_fallback_policy_never_rejects() {
    let limiter = RateLimiter::with_defaults("rl-defaults".into());
    for _ in 0..100_000 {
        assert!(limiter.try_acquire().is_ok());
    }
    assert_eq!(limiter.stats().rejected, 0);
}

#[tokio::test(start_paused = true)]
async fn a_shared_limiter_awaits_and_without_a_store_runs_on_its_local_bucket() {
    let local = RateLimiter::builder("rl-local").rate(1).build().unwrap();
    assert!(
        !local.has_wait(),
        "an unshared limiter without a wait decides at once"
    );
    assert!(!local.is_shared());
    let shared = RateLimiter::builder("rl-shared")
        .rate(1)
        .shared(true)
        .build()
        .unwrap();
    assert!(
        shared.has_wait(),
        "a shared limiter's call awaits the store"
    );
    assert!(shared.is_shared());
    assert!(shared.config().shared);
    assert_eq!(shared.config().to_string(), "rate=1/1s burst=1 shared");
    assert_eq!(local.config().changed_keys(&shared.config()), ["shared"]);
    // No store in this registry: the local bucket decides.
    assert!(shared.acquire().await.is_ok());
    assert!(matches!(
        shared.acquire().await,
        Err(Error::RateLimited { .. })
    ));
    // A reload that turns sharing off makes the call synchronous again.
    let mut config = shared.config();
    config.shared = false;
    assert_eq!(shared.reconfigure(config), ["shared"]);
    assert!(!shared.has_wait());
}
