//! The concurrent map behind keyed policies, chosen by measurement (issue 22): one lookup of a
//! present `u64` key, reading the value's atomic word as a keyed policy's call does, in
//! `dashmap` (what `resilience::keyed` uses, and governor's keyed limiter), `papaya` (lock-free
//! reads under an epoch guard), `scc` (`HashMap::read`, and `HashIndex::peek_with`, its
//! read-optimised map), and `std`'s `HashMap` behind an `RwLock` as the reference. Every map
//! uses std's default hasher, as `resilience` does. 1 000 and 1 000 000 keys; one thread, and
//! two threads looking up the same keys at once (the slower thread's time per lookup).
//!
//! `cargo bench -p resilience-benches --bench key_maps -- --noplot`

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use criterion::Criterion;
use resilience_benches::on_two_threads;

/// A keyed breaker's slot: the key's entry behind an `Arc`.
type Value = Arc<AtomicU64>;

const KEY_COUNTS: [u64; 2] = [1_000, 1_000_000];

/// One lookup of each map, as a closure over the key.
trait Lookup: Sync {
    fn lookup(&self, key: u64) -> u64;
}

struct Dash(dashmap::DashMap<u64, Value>);
struct Papaya(papaya::HashMap<u64, Value>);
struct SccMap(scc::HashMap<u64, Value>);
struct SccIndex(scc::HashIndex<u64, Value>);
struct Locked(RwLock<HashMap<u64, Value>>);

impl Lookup for Dash {
    fn lookup(&self, key: u64) -> u64 {
        self.0.get(&key).map_or(0, |v| v.load(Relaxed))
    }
}
impl Lookup for Papaya {
    fn lookup(&self, key: u64) -> u64 {
        self.0.pin().get(&key).map_or(0, |v| v.load(Relaxed))
    }
}
impl Lookup for SccMap {
    fn lookup(&self, key: u64) -> u64 {
        self.0.read(&key, |_, v| v.load(Relaxed)).unwrap_or(0)
    }
}
impl Lookup for SccIndex {
    fn lookup(&self, key: u64) -> u64 {
        self.0.peek_with(&key, |_, v| v.load(Relaxed)).unwrap_or(0)
    }
}
impl Lookup for Locked {
    fn lookup(&self, key: u64) -> u64 {
        let map = self
            .0
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.get(&key).map_or(0, |v| v.load(Relaxed))
    }
}

fn filled(keys: u64) -> Vec<(&'static str, Box<dyn Lookup>)> {
    let value = |k: u64| Arc::new(AtomicU64::new(k));
    let dash = dashmap::DashMap::new();
    let papaya = papaya::HashMap::new();
    let scc_map = scc::HashMap::new();
    let scc_index = scc::HashIndex::new();
    let mut locked = HashMap::new();
    {
        let pinned = papaya.pin();
        for k in 0..keys {
            dash.insert(k, value(k));
            pinned.insert(k, value(k));
            let _ = scc_map.insert(k, value(k));
            let _ = scc_index.insert(k, value(k));
            locked.insert(k, value(k));
        }
    }
    vec![
        ("dashmap", Box::new(Dash(dash))),
        ("papaya", Box::new(Papaya(papaya))),
        ("scc HashMap", Box::new(SccMap(scc_map))),
        ("scc HashIndex", Box::new(SccIndex(scc_index))),
        ("RwLock<HashMap>", Box::new(Locked(RwLock::new(locked)))),
    ]
}

fn one_thread(c: &mut Criterion, name: &str, map: &dyn Lookup, keys: u64) {
    c.bench_function(name, |b| {
        let mut i = 0_u64;
        b.iter(|| {
            i = i.wrapping_add(1);
            black_box(map.lookup(black_box(i % keys)))
        });
    });
}

fn two_threads(c: &mut Criterion, name: &str, map: &dyn Lookup, keys: u64) {
    c.bench_function(name, |b| {
        b.iter_custom(|iters| {
            on_two_threads(
                || (),
                |thread, ()| {
                    let start = Instant::now();
                    for i in 0..iters {
                        let key = if thread == 0 { i } else { iters - i };
                        black_box(map.lookup(black_box(key % keys)));
                    }
                    start.elapsed()
                },
            )
        });
    });
}

fn main() {
    let mut c = Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args();
    for keys in KEY_COUNTS {
        for (map_name, map) in filled(keys) {
            assert_eq!(map.lookup(keys - 1), keys - 1, "{map_name} holds every key");
            one_thread(
                &mut c,
                &format!("key_maps/{map_name} {keys} keys"),
                &*map,
                keys,
            );
            two_threads(
                &mut c,
                &format!("key_maps_2_threads/{map_name} {keys} keys"),
                &*map,
                keys,
            );
        }
    }
    c.final_summary();
}
