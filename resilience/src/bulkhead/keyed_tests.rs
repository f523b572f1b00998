//! A keyed bulkhead: slots per key, busy keys never evicted, calls racing on the same keys.

use std::sync::Arc;
use std::time::Duration;

use super::Bulkhead;
use crate::Error;

#[tokio::test(start_paused = true)]
async fn each_key_has_slots_and_a_queue_of_its_own() {
    let bulkhead = Bulkhead::builder("kbh-own")
        .max_concurrent(1)
        .queue(1)
        .queue_timeout(Duration::from_secs(1))
        .build()
        .unwrap();
    let held = bulkhead.acquire_key(&1_u64).await.unwrap();
    assert!(bulkhead.acquire_key(&2_u64).await.is_ok(), "key 2 is free");
    // Key 1's queue: the waiter gets the slot when it is given back.
    let waiter = bulkhead.acquire_key(&1_u64);
    let release = async {
        tokio::time::sleep(Duration::from_millis(10)).await;
        drop(held);
    };
    let (got, ()) = tokio::join!(waiter, release);
    let got = got.expect("handed the slot");
    assert_eq!(bulkhead.key_in_flight(&1_u64), 1);
    assert_eq!(bulkhead.stats().in_flight, 1, "keyed calls count in flight");
    drop(got);
    assert_eq!(bulkhead.stats().in_flight, 0);
    // A full key with a full queue rejects at once.
    let _a = bulkhead.acquire_key(&3_u64).await.unwrap();
    let queued = bulkhead.acquire_key(&3_u64);
    let third = async { bulkhead.acquire_key(&3_u64).await.map(drop) };
    tokio::pin!(queued);
    assert!(futures_poll_once(queued.as_mut()).await);
    assert!(matches!(third.await, Err(Error::BulkheadFull { .. })));
}

/// Polls `fut` once; whether it is still pending.
async fn futures_poll_once<F: std::future::Future + Unpin>(fut: F) -> bool {
    let mut fut = fut;
    std::future::poll_fn(|cx| {
        std::task::Poll::Ready(std::pin::Pin::new(&mut fut).poll(cx).is_pending())
    })
    .await
}

#[tokio::test(start_paused = true)]
async fn a_key_with_a_slot_held_is_never_evicted() {
    let bulkhead = Bulkhead::builder("kbh-evict")
        .max_concurrent(1)
        .build()
        .unwrap();
    let held = bulkhead.acquire_key(&0_u64).await.unwrap();
    drop(bulkhead.acquire_key(&1_u64).await.unwrap());
    tokio::time::advance(Duration::from_secs(60)).await;
    // A new key's creation sweeps. Keys are dated by sweeps (a call reads no clock), so the
    // first sweep keeps every key; the next, a whole `key_idle` later, takes the idle ones.
    drop(bulkhead.acquire_key(&2_u64).await.unwrap());
    assert_eq!(bulkhead.key_count(), Some(3));
    tokio::time::advance(Duration::from_secs(60)).await;
    drop(bulkhead.acquire_key(&3_u64).await.unwrap());
    // 1 and 2 went (free, not seen since the first sweep); 0 is held, 3 is new.
    assert_eq!(bulkhead.key_count(), Some(2));
    assert_eq!(bulkhead.key_in_flight(&1_u64), 0);
    assert_eq!(bulkhead.key_in_flight(&0_u64), 1);
    assert!(
        bulkhead.acquire_key(&0_u64).await.is_err(),
        "key 0's slot is still held: its state was not lost"
    );
    drop(held);
    assert!(bulkhead.acquire_key(&0_u64).await.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_calls_on_the_same_keys_leak_no_slot() {
    let bulkhead = Arc::new(
        Bulkhead::builder("kbh-race")
            .max_concurrent(2)
            .queue(2)
            .queue_timeout(Duration::from_millis(5))
            .build()
            .unwrap(),
    );
    let tasks: Vec<_> = (0..4_u64)
        .map(|task| {
            let bulkhead = Arc::clone(&bulkhead);
            tokio::spawn(async move {
                for i in 0..2_000_u64 {
                    let key = (i + task) % 16;
                    if let Ok(permit) = bulkhead.acquire_key(&key).await {
                        if i % 8 == 0 {
                            tokio::task::yield_now().await;
                        }
                        drop(permit);
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("no panic");
    }
    assert_eq!(bulkhead.stats().in_flight, 0);
    for key in 0..16_u64 {
        assert_eq!(bulkhead.key_in_flight(&key), 0, "key {key}");
        let (a, b) = (
            bulkhead.acquire_key(&key).await,
            bulkhead.acquire_key(&key).await,
        );
        assert!(a.is_ok() && b.is_ok(), "key {key} has both slots free");
    }
}
