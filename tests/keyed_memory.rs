//! A keyed policy's memory: a million distinct keys through a limiter, a breaker and a
//! bulkhead each capped at 10 000 keys keep them under the cap, in keys and in bytes; and the
//! bytes a key costs, measured.
//!
//! The counting allocator is process-wide, so this file is its own `main` (`harness = false`
//! in Cargo.toml), as `tests/allocations.rs` is, with a current-thread runtime in paused time.

use resilience::{Bulkhead, CallOutcome, CircuitBreaker, RateLimiter};
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
        a_million_distinct_keys_stay_under_the_cap();
        bytes_per_key();
        breaker_keys_stay_under_the_cap();
        bytes_per_breaker_key();
        bulkhead_keys_stay_under_the_cap().await;
        bytes_per_bulkhead_key().await;
    });
    println!("keyed_memory: ok");
}

fn a_million_distinct_keys_stay_under_the_cap() {
    const CAP: u32 = 10_000;
    let limiter = RateLimiter::builder("km-million")
        .rate(10)
        .max_keys(CAP)
        .build()
        .expect("valid");
    let region = Region::new(GLOBAL);
    let mut peak_keys = 0;
    let mut peak_bytes = 0;
    for key in 0..1_000_000_u64 {
        assert!(
            limiter.try_acquire_key(&key).is_ok(),
            "a new key starts full"
        );
        if key % 1_000 == 0 {
            let keys = limiter.keyed_stats().expect("keyed").keys;
            peak_keys = peak_keys.max(keys);
            peak_bytes = peak_bytes.max(live_bytes(&region));
        }
    }
    let stats = limiter.keyed_stats().expect("keyed");
    assert!(stats.keys <= u64::from(CAP), "{} keys held", stats.keys);
    assert!(peak_keys <= u64::from(CAP), "{peak_keys} keys at the peak");
    assert_eq!(stats.keys + stats.evicted, 1_000_000);
    // The map never grows past what the cap's keys need. Under churn a hash table slot freed
    // in a full group is a tombstone until the next rehash, so the table may double once more
    // than for the keys alone: twice a key's bytes at the cap.
    let bound = i64::from(CAP) * 2 * MAX_BYTES_PER_KEY;
    assert!(
        peak_bytes <= bound,
        "{peak_bytes} bytes held at the peak, more than {bound}"
    );
    println!(
        "a million keys, cap {CAP}: at most {peak_keys} keys and {peak_bytes} bytes held, {} evicted",
        stats.evicted
    );
}

fn bytes_per_key() {
    const KEYS: u64 = 100_000;
    let limiter = RateLimiter::builder("km-per-key")
        .rate(10)
        .max_keys(1_000_000)
        .build()
        .expect("valid");
    // The first keyed call makes the (empty) table: not a key's cost.
    assert!(limiter.try_acquire_key(&u64::MAX).is_ok());
    let region = Region::new(GLOBAL);
    for key in 0..KEYS {
        assert!(limiter.try_acquire_key(&key).is_ok());
    }
    let per_key = live_bytes(&region) / i64::try_from(KEYS).unwrap_or(1);
    println!("a limiter key (u64): {per_key} bytes");
    assert!(
        per_key <= MAX_BYTES_PER_KEY,
        "{per_key} bytes a key, more than {MAX_BYTES_PER_KEY}"
    );
}

fn breaker_keys_stay_under_the_cap() {
    const CAP: u32 = 10_000;
    let breaker = CircuitBreaker::builder("km-breaker-million")
        .max_keys(CAP)
        .build()
        .expect("valid");
    let region = Region::new(GLOBAL);
    let mut peak_bytes = 0;
    for key in 0..1_000_000_u64 {
        breaker
            .try_acquire_key(&key)
            .expect("a new key is closed")
            .record(CallOutcome::Success);
        if key % 1_000 == 0 {
            peak_bytes = peak_bytes.max(live_bytes(&region));
        }
    }
    let stats = breaker.keyed_stats().expect("keyed");
    assert!(stats.keys <= u64::from(CAP), "{} keys held", stats.keys);
    assert_eq!(stats.keys + stats.evicted, 1_000_000);
    let bound = i64::from(CAP) * 2 * MAX_BYTES_PER_BREAKER_KEY;
    assert!(
        peak_bytes <= bound,
        "{peak_bytes} bytes held at the peak, more than {bound}"
    );
    println!(
        "a million breaker keys, cap {CAP}: {peak_bytes} bytes at the peak, {} evicted",
        stats.evicted
    );
}

fn bytes_per_breaker_key() {
    const KEYS: u64 = 100_000;
    let breaker = CircuitBreaker::builder("km-breaker-per-key")
        .max_keys(1_000_000)
        .build()
        .expect("valid");
    // The first keyed call makes the (empty) table: not a key's cost.
    breaker
        .try_acquire_key(&u64::MAX)
        .unwrap()
        .record(CallOutcome::Success);
    let region = Region::new(GLOBAL);
    for key in 0..KEYS {
        breaker
            .try_acquire_key(&key)
            .unwrap()
            .record(CallOutcome::Success);
    }
    let per_key = live_bytes(&region) / i64::try_from(KEYS).unwrap_or(1);
    println!("a breaker key (u64): {per_key} bytes");
    assert!(
        per_key <= MAX_BYTES_PER_BREAKER_KEY,
        "{per_key} bytes a key, more than {MAX_BYTES_PER_BREAKER_KEY}"
    );
}

async fn bulkhead_keys_stay_under_the_cap() {
    const CAP: u32 = 10_000;
    let bulkhead = Bulkhead::builder("km-bulkhead-million")
        .max_concurrent(4)
        .max_keys(CAP)
        .build()
        .expect("valid");
    let region = Region::new(GLOBAL);
    let mut peak_bytes = 0;
    for key in 0..1_000_000_u64 {
        let permit = bulkhead.acquire_key(&key).await;
        assert!(permit.is_ok(), "a new key has every slot free");
        drop(permit);
        if key % 1_000 == 0 {
            peak_bytes = peak_bytes.max(live_bytes(&region));
        }
    }
    let stats = bulkhead.keyed_stats().expect("keyed");
    assert!(stats.keys <= u64::from(CAP), "{} keys held", stats.keys);
    assert_eq!(stats.keys + stats.evicted, 1_000_000);
    let bound = i64::from(CAP) * 2 * MAX_BYTES_PER_BULKHEAD_KEY;
    assert!(
        peak_bytes <= bound,
        "{peak_bytes} bytes held at the peak, more than {bound}"
    );
    println!(
        "a million bulkhead keys, cap {CAP}: {peak_bytes} bytes at the peak, {} evicted",
        stats.evicted
    );
}

async fn bytes_per_bulkhead_key() {
    const KEYS: u64 = 100_000;
    let bulkhead = Bulkhead::builder("km-bulkhead-per-key")
        .max_concurrent(4)
        .max_keys(1_000_000)
        .build()
        .expect("valid");
    // The first keyed call makes the (empty) table: not a key's cost.
    drop(bulkhead.acquire_key(&u64::MAX).await.expect("free"));
    let region = Region::new(GLOBAL);
    for key in 0..KEYS {
        drop(bulkhead.acquire_key(&key).await.expect("free"));
    }
    let per_key = live_bytes(&region) / i64::try_from(KEYS).unwrap_or(1);
    println!("a bulkhead key (u64): {per_key} bytes");
    assert!(
        per_key <= MAX_BYTES_PER_BULKHEAD_KEY,
        "{per_key} bytes a key, more than {MAX_BYTES_PER_BULKHEAD_KEY}"
    );
}
