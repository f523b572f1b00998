//! A keyed limiter: a bucket per key, eviction by `key_idle` and `max_keys`, the snapshot's
//! keys, events naming the key, and threads racing to create and evict the same keys.

use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use super::keyed::LimiterKeys;
use super::RateLimiter;
use crate::keyed::{key_text, KeyTable, MAX_KEY_TEXT};
use crate::{registry, Error, Event, PolicyKind};

fn limiter(name: &str, rate: u32) -> RateLimiter {
    RateLimiter::builder(name)
        .rate(rate)
        .build()
        .expect("valid")
}

/// Counts the keys by walking the map, not by the counter kept beside it.
fn entries<K: crate::PolicyKey>(limiter: &RateLimiter) -> usize {
    let table = limiter
        .keys
        .get()
        .and_then(|keys| LimiterKeys::as_any(&**keys).downcast_ref::<KeyTable<K, AtomicU64>>())
        .expect("a keyed limiter");
    let mut count = 0;
    table.for_each(|_, _| count += 1);
    assert_eq!(
        count,
        table.len(),
        "the key count kept beside the map is exact"
    );
    count
}

#[tokio::test(start_paused = true)]
async fn each_key_has_a_bucket_of_its_own() {
    let limiter = limiter("keyed-own", 2);
    for _ in 0..2 {
        assert_eq!(limiter.try_acquire_key(&1_u64), Ok(()));
    }
    assert_eq!(
        limiter.try_acquire_key(&1_u64),
        Err(Error::RateLimited {
            name: "keyed-own".into(),
            retry_after: Duration::from_millis(500)
        })
    );
    assert_eq!(limiter.try_acquire_key(&2_u64), Ok(()));
    assert_eq!(limiter.key_available(&1_u64), Some(0));
    assert_eq!(limiter.key_available(&2_u64), Some(1));
    assert_eq!(limiter.key_available(&3_u64), None, "never used: no state");
    // The unkeyed bucket is apart from the keys'.
    assert_eq!(limiter.stats().available, 2);
    let stats = limiter.stats();
    assert_eq!((stats.permitted, stats.rejected), (3, 1));

    tokio::time::advance(Duration::from_millis(500)).await;
    assert_eq!(limiter.try_acquire_key(&1_u64), Ok(()));
}

#[tokio::test(start_paused = true)]
async fn a_keyed_limiter_waits_for_its_keys_cell() {
    let limiter = RateLimiter::builder("keyed-wait")
        .rate(1)
        .wait(Duration::from_secs(2))
        .build()
        .unwrap();
    let start = tokio::time::Instant::now();
    assert_eq!(limiter.acquire_key(&"a").await, Ok(()));
    assert_eq!(limiter.acquire_key(&"a").await, Ok(()));
    assert_eq!(start.elapsed(), Duration::from_secs(1));
    // Another key does not wait.
    assert_eq!(limiter.acquire_key(&"b").await, Ok(()));
    assert_eq!(start.elapsed(), Duration::from_secs(1));
    assert_eq!(limiter.stats().waited, 1);
}

#[tokio::test(start_paused = true)]
async fn a_key_whose_bucket_was_full_for_key_idle_is_evicted_when_a_key_is_created() {
    let limiter = RateLimiter::builder("keyed-idle")
        .rate(1)
        .key_idle(Duration::from_secs(10))
        .build()
        .unwrap();
    assert_eq!(limiter.try_acquire_key(&"old"), Ok(()));
    // Its bucket is full again at 1 s. A sweep runs at most once per `key_idle`, when a key
    // is created: at 10 s "old" has been full for only 9 s.
    tokio::time::advance(Duration::from_secs(10)).await;
    assert_eq!(limiter.try_acquire_key(&"recent"), Ok(()));
    assert_eq!(
        limiter.key_available(&"old"),
        Some(1),
        "not idle for 10 s yet"
    );
    // The next sweep, 10 s later: "old" has been full for 19.5 s, "recent" for 9.5 s.
    tokio::time::advance(Duration::from_millis(10_500)).await;
    assert_eq!(limiter.try_acquire_key(&"new"), Ok(()));
    assert_eq!(limiter.key_available(&"old"), None, "evicted");
    assert_eq!(
        limiter.key_available(&"recent"),
        Some(1),
        "full, but idle only 9.5 s"
    );
    let keys = limiter.keyed_stats().unwrap();
    assert_eq!((keys.keys, keys.evicted), (2, 1));
    assert_eq!(entries::<&str>(&limiter), 2);
}

#[tokio::test(start_paused = true)]
async fn the_default_key_idle_is_three_periods_or_a_refill() {
    let limiter = RateLimiter::builder("keyed-idle-default")
        .rate(10)
        .per(Duration::from_secs(2))
        .build()
        .unwrap();
    assert_eq!(
        limiter.config().effective_key_idle(),
        Duration::from_secs(6)
    );
    let slow = RateLimiter::builder("keyed-idle-refill")
        .rate(1)
        .burst(10)
        .build()
        .unwrap();
    assert_eq!(slow.config().effective_key_idle(), Duration::from_secs(10));
}

#[tokio::test(start_paused = true)]
async fn past_max_keys_the_fullest_buckets_go_first_and_the_cap_holds() {
    let limiter = RateLimiter::builder("keyed-cap")
        .rate(1)
        .burst(4)
        .max_keys(16)
        .key_idle(Duration::from_secs(3600))
        .build()
        .unwrap();
    // The hot key owes 4 cells: its bucket is full again last of all.
    for _ in 0..4 {
        assert_eq!(limiter.try_acquire_key(&0_u32), Ok(()));
    }
    for key in 1..1_000_u32 {
        assert_eq!(limiter.try_acquire_key(&key), Ok(()));
        assert!(entries::<u32>(&limiter) <= 16, "{key}: over the cap");
    }
    assert_eq!(
        limiter.key_available(&0_u32),
        Some(0),
        "the hottest key is kept"
    );
    let keys = limiter.keyed_stats().unwrap();
    assert_eq!(keys.keys + keys.evicted, 1_000);
    assert_eq!(keys.hottest.first().map(|key| &*key.key), Some("0"));
    assert_eq!(keys.rejecting.len(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_reset_forgets_the_keys_and_a_reload_retimes_them() {
    let limiter = limiter("keyed-reset", 2);
    assert_eq!(limiter.try_acquire_key(&"a"), Ok(()));
    assert_eq!(limiter.try_acquire_key(&"a"), Ok(()));
    // Twice the rate: the two missing cells come back in half the time.
    let faster = RateLimiter::builder("keyed-reset")
        .rate(4)
        .burst(2)
        .build()
        .unwrap();
    assert_eq!(limiter.reconfigure(faster.config()), vec!["rate"]);
    tokio::time::advance(Duration::from_millis(250)).await;
    assert_eq!(limiter.key_available(&"a"), Some(1));
    limiter.refill();
    assert_eq!(limiter.key_available(&"a"), None);
    assert_eq!(limiter.keyed_stats().unwrap().keys, 0);
}

#[tokio::test(start_paused = true)]
async fn a_second_key_type_is_limited_by_the_unkeyed_bucket() {
    let limiter = limiter("keyed-two-types", 1);
    assert_eq!(limiter.try_acquire_key(&1_u64), Ok(()));
    assert_eq!(limiter.try_acquire_key(&"one"), Ok(()));
    assert!(
        limiter.try_acquire_key(&"two").is_err(),
        "one unkeyed bucket"
    );
    assert_eq!(limiter.stats().available, 0);
    assert_eq!(limiter.key_available(&"one"), None);
}

#[tokio::test(start_paused = true)]
async fn a_rejection_event_names_the_key_and_the_snapshot_row_lists_it() {
    let mut events = registry().subscribe();
    let limiter = registry()
        .rate_limiter_or_register(RateLimiter::builder("keyed-event").rate(1))
        .unwrap();
    assert_eq!(limiter.try_acquire_key(&"alice".to_owned()), Ok(()));
    assert!(limiter.try_acquire_key(&"alice".to_owned()).is_err());
    loop {
        match events.try_recv() {
            Ok(Event::CallRejected {
                kind, error, key, ..
            }) if error.policy_name() == "keyed-event" => {
                assert_eq!(kind, PolicyKind::RateLimiter);
                assert_eq!(key.as_deref(), Some("\"alice\""));
                break;
            }
            Ok(_) => {}
            Err(e) => panic!("no CallRejected event for keyed-event: {e}"),
        }
    }
    let table = registry().snapshot().to_string();
    let row = table
        .lines()
        .find(|line| line.contains("keyed-event"))
        .expect("a row");
    assert!(row.contains("1/100000 keys"), "{row}");
    assert!(row.contains("rejecting=\"alice\"(0)"), "{row}");
}

#[test]
fn a_key_text_is_cut_to_its_limit() {
    assert_eq!(&*key_text(&7_u8), "7");
    let long = key_text(&"x".repeat(200));
    assert_eq!(long.chars().count(), MAX_KEY_TEXT + 1);
    assert!(long.ends_with('…'));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn threads_creating_and_evicting_the_same_keys_leak_nothing() {
    let limiter = Arc::new(
        RateLimiter::builder("keyed-race")
            .rate(1_000_000)
            .max_keys(8)
            .key_idle(Duration::from_millis(1))
            .build()
            .unwrap(),
    );
    let tasks: Vec<_> = (0..4_u64)
        .map(|task| {
            let limiter = Arc::clone(&limiter);
            tokio::spawn(async move {
                for i in 0..20_000_u64 {
                    let _ = limiter.try_acquire_key(&((i * 7 + task) % 64));
                    if i % 64 == 0 {
                        tokio::task::yield_now().await;
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("no panic");
    }
    let held = entries::<u64>(&limiter);
    // At most the cap, plus the keys other threads created while the last sweep ran.
    assert!(held <= 8 + 4, "{held} keys held");
    let keys = limiter.keyed_stats().unwrap();
    assert!(keys.evicted > 0);
    assert_eq!(limiter.stats().permitted + limiter.stats().rejected, 80_000);
}
