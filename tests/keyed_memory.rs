//! A keyed policy's memory: a million distinct keys through a limiter, a breaker and a
//! bulkhead each capped at 10 000 keys keep them under the cap, in keys and in bytes; and the
//! bytes a key costs, measured.
//!
//! The counting allocator is process-wide, so this file is its own `main` (`harness = false`
//! in Cargo.toml), as `tests/allocations.rs` is, with a current-thread runtime in paused time.

use std::future::{ready, Future};

use resilience::{Bulkhead, CallOutcome, CircuitBreaker, KeyedStats, RateLimiter};
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};
use std::alloc::System;

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// The largest a limiter key (a `u64` with its GCRA word in a hash table slot) may cost,
/// bytes, counting the table's spare room.
const MAX_BYTES_PER_KEY: i64 = 64;

/// The largest a breaker key (a `u64` in a hash table slot, pointing at its key and circuit
/// behind an `Arc`) may cost, bytes, counting the table's spare room and the allocation.
const MAX_BYTES_PER_BREAKER_KEY: i64 = 128;

/// The largest a bulkhead key (a `u64` in a hash table slot, pointing at its key, its slots
/// and its queue behind an `Arc`) may cost, bytes, as the breaker's.
const MAX_BYTES_PER_BULKHEAD_KEY: i64 = 160;

/// Heap bytes held now, minus those held when `region` began.
fn live_bytes(region: &Region<'_, System>) -> i64 {
    let change = region.change();
    let allocated = i64::try_from(change.bytes_allocated).unwrap_or(i64::MAX);
    let freed = i64::try_from(change.bytes_deallocated).unwrap_or(i64::MAX);
    allocated - freed + i64::try_from(change.bytes_reallocated).unwrap_or(i64::MAX)
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        limiter_keys().await;
        breaker_keys().await;
        bulkhead_keys().await;
    });
    println!("keyed_memory: ok");
}

/// The cap the million keys go through.
const CAP: u32 = 10_000;

/// Sends a million distinct keys through `call` (one call each to a policy capped at [`CAP`]
/// keys), and checks that the policy never holds more than the cap's keys, nor more bytes than
/// twice the cap's keys at `max_bytes_per_key`: under churn a hash table slot freed in a full
/// group is a tombstone until the next rehash, so the table may double once more than for the
/// keys alone.
async fn through_the_cap<F, Fut>(
    what: &str,
    max_bytes_per_key: i64,
    mut call: F,
    stats: impl Fn() -> KeyedStats,
) where
    F: FnMut(u64) -> Fut,
    Fut: Future<Output = ()>,
{
    let region = Region::new(GLOBAL);
    let mut peak_keys = 0;
    let mut peak_bytes = 0;
    for key in 0..1_000_000_u64 {
        call(key).await;
        if key % 1_000 == 0 {
            peak_keys = peak_keys.max(stats().keys);
            peak_bytes = peak_bytes.max(live_bytes(&region));
        }
    }
    let stats = stats();
    assert!(
        stats.keys <= u64::from(CAP),
        "{what}: {} keys held",
        stats.keys
    );
    assert!(
        peak_keys <= u64::from(CAP),
        "{what}: {peak_keys} keys at the peak"
    );
    assert_eq!(stats.keys + stats.evicted, 1_000_000, "{what}");
    let bound = i64::from(CAP) * 2 * max_bytes_per_key;
    assert!(
        peak_bytes <= bound,
        "{what}: {peak_bytes} bytes held at the peak, more than {bound}"
    );
    println!(
        "a million {what} keys, cap {CAP}: at most {peak_keys} keys and {peak_bytes} bytes held, {} evicted",
        stats.evicted
    );
}

/// The bytes each of 100 000 new keys adds to a policy that holds them all, after `call` has
/// made its (empty) key table with a first key: the table is not a key's cost.
async fn bytes_per_key<F, Fut>(what: &str, max_bytes_per_key: i64, mut call: F)
where
    F: FnMut(u64) -> Fut,
    Fut: Future<Output = ()>,
{
    const KEYS: u64 = 100_000;
    call(u64::MAX).await;
    let region = Region::new(GLOBAL);
    for key in 0..KEYS {
        call(key).await;
    }
    let per_key = live_bytes(&region) / i64::try_from(KEYS).unwrap_or(1);
    println!("a {what} key (u64): {per_key} bytes");
    assert!(
        per_key <= max_bytes_per_key,
        "{what}: {per_key} bytes a key, more than {max_bytes_per_key}"
    );
}

async fn limiter_keys() {
    let capped = RateLimiter::builder("km-million")
        .rate(10)
        .max_keys(CAP)
        .build()
        .expect("valid");
    let take = |limiter: &RateLimiter, key: u64| {
        assert!(
            limiter.try_acquire_key(&key).is_ok(),
            "a new key starts full"
        );
        ready(())
    };
    through_the_cap(
        "limiter",
        MAX_BYTES_PER_KEY,
        |key| take(&capped, key),
        || capped.keyed_stats().expect("keyed"),
    )
    .await;
    let roomy = RateLimiter::builder("km-per-key")
        .rate(10)
        .max_keys(1_000_000)
        .build()
        .expect("valid");
    bytes_per_key("limiter", MAX_BYTES_PER_KEY, |key| take(&roomy, key)).await;
}

async fn breaker_keys() {
    let capped = CircuitBreaker::builder("km-breaker-million")
        .max_keys(CAP)
        .build()
        .expect("valid");
    let succeed = |breaker: &CircuitBreaker, key: u64| {
        breaker
            .try_acquire_key(&key)
            .expect("a new key is closed")
            .record(CallOutcome::Success);
        ready(())
    };
    through_the_cap(
        "breaker",
        MAX_BYTES_PER_BREAKER_KEY,
        |key| succeed(&capped, key),
        || capped.keyed_stats().expect("keyed"),
    )
    .await;
    let roomy = CircuitBreaker::builder("km-breaker-per-key")
        .max_keys(1_000_000)
        .build()
        .expect("valid");
    bytes_per_key("breaker", MAX_BYTES_PER_BREAKER_KEY, |key| {
        succeed(&roomy, key)
    })
    .await;
}

async fn bulkhead_keys() {
    async fn enter(bulkhead: &Bulkhead, key: u64) {
        let permit = bulkhead.acquire_key(&key).await;
        assert!(permit.is_ok(), "a new key has every slot free");
    }
    let capped = Bulkhead::builder("km-bulkhead-million")
        .max_concurrent(4)
        .max_keys(CAP)
        .build()
        .expect("valid");
    through_the_cap(
        "bulkhead",
        MAX_BYTES_PER_BULKHEAD_KEY,
        |key| enter(&capped, key),
        || capped.keyed_stats().expect("keyed"),
    )
    .await;
    let roomy = Bulkhead::builder("km-bulkhead-per-key")
        .max_concurrent(4)
        .max_keys(1_000_000)
        .build()
        .expect("valid");
    bytes_per_key("bulkhead", MAX_BYTES_PER_BULKHEAD_KEY, |key| {
        enter(&roomy, key)
    })
    .await;
}
