//! A bulkhead taking a new configuration while calls run: `Bulkhead::reconfigure`.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::task::{yield_now, JoinHandle};
use tokio::time::Instant;

use super::*;

const LONG: Duration = Duration::from_secs(60);

fn config(max_concurrent: u32, queue: u32, queue_timeout: Duration) -> BulkheadConfig {
    BulkheadConfig {
        max_concurrent,
        queue,
        queue_timeout,
        key_idle: Duration::from_secs(60),
        max_keys: 100_000,
    }
}

fn bulkhead(name: &str, max: u32, queue: u32) -> Arc<Bulkhead> {
    Arc::new(Bulkhead::from_parts(name.into(), config(max, queue, LONG)))
}

fn full(name: &str, max_concurrent: u32) -> Error {
    Error::BulkheadFull {
        name: name.into(),
        max_concurrent,
    }
}

/// `(in_flight, queued, available)`.
fn occupancy(bulkhead: &Bulkhead) -> (u32, u32, u32) {
    let stats = bulkhead.stats();
    (stats.in_flight, stats.queued, stats.available)
}

/// Waiting callers, spawned one at a time so they queue in `id` order. Each records its id in
/// `admitted` once it holds a slot, then holds it until the `finish` gate opens.
struct Waiters {
    admitted: Arc<Mutex<Vec<usize>>>,
    finish: Arc<Semaphore>,
    tasks: Vec<JoinHandle<Result<(), Error>>>,
}

impl Waiters {
    async fn queue(bulkhead: &Arc<Bulkhead>, count: usize) -> Waiters {
        let admitted = Arc::new(Mutex::new(Vec::new()));
        let finish = Arc::new(Semaphore::new(0));
        let mut tasks = Vec::new();
        for id in 0..count {
            let (bulkhead, admitted, finish) = (
                Arc::clone(bulkhead),
                Arc::clone(&admitted),
                Arc::clone(&finish),
            );
            tasks.push(tokio::spawn(async move {
                bulkhead
                    .call(async {
                        admitted.lock().expect("not poisoned").push(id);
                        drop(finish.acquire().await);
                        Ok::<_, Error>(())
                    })
                    .await
            }));
            yield_now().await;
        }
        Waiters {
            admitted,
            finish,
            tasks,
        }
    }

    fn admitted(&self) -> Vec<usize> {
        self.admitted.lock().expect("not poisoned").clone()
    }

    /// Lets every caller finish once admitted; their results, in `id` order.
    async fn finish(self) -> Vec<Result<(), Error>> {
        self.finish.add_permits(Semaphore::MAX_PERMITS);
        let mut results = Vec::new();
        for task in self.tasks {
            results.push(task.await.expect("the caller does not panic"));
        }
        results
    }
}

#[tokio::test(start_paused = true)]
async fn a_larger_max_admits_queued_callers_at_once_oldest_first() {
    let bulkhead = bulkhead("bh-re-grow", 1, 4);
    let holder = bulkhead.try_acquire().expect("a free slot");
    let waiters = Waiters::queue(&bulkhead, 4).await;
    assert_eq!(occupancy(&bulkhead), (1, 4, 0));
    let start = Instant::now();

    let changed = bulkhead.reconfigure(config(3, 4, LONG));

    assert_eq!(changed, ["max"]);
    // Handed over before `reconfigure` returned: two waiters hold slots already.
    assert_eq!(occupancy(&bulkhead), (3, 2, 0));
    yield_now().await;
    assert_eq!(waiters.admitted(), [0, 1], "the oldest waiters first");
    assert_eq!(start.elapsed(), Duration::ZERO);
    assert_eq!(
        bulkhead.try_acquire().err(),
        Some(full("bh-re-grow", 3)),
        "a newcomer must not take a slot the remaining waiters are owed"
    );

    // Freed slots keep going to the waiters, in order.
    drop(holder);
    yield_now().await;
    assert_eq!(waiters.admitted(), [0, 1, 2]);
    assert_eq!(occupancy(&bulkhead), (3, 1, 0));

    let results = waiters.finish().await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert_eq!(occupancy(&bulkhead), (0, 0, 3));
    assert_eq!(bulkhead.stats().rejected, 1);
}

#[tokio::test(start_paused = true)]
async fn a_larger_max_with_nobody_queued_frees_slots_for_newcomers() {
    let bulkhead = bulkhead("bh-re-grow-idle", 1, 0);
    let first = bulkhead.try_acquire().expect("a free slot");
    assert!(bulkhead.try_acquire().is_err());

    assert_eq!(bulkhead.reconfigure(config(2, 0, LONG)), ["max"]);

    let second = bulkhead.try_acquire().expect("the new slot");
    assert_eq!(occupancy(&bulkhead), (2, 0, 0));
    drop((first, second));
    assert_eq!(occupancy(&bulkhead), (0, 0, 2));
}

#[tokio::test(start_paused = true)]
async fn a_smaller_max_lets_calls_in_flight_finish_and_admits_no_one_until_under_it() {
    let bulkhead = bulkhead("bh-re-shrink", 4, 2);
    let mut holders: Vec<_> = (0..4)
        .map(|_| bulkhead.try_acquire().expect("a free slot"))
        .collect();

    assert_eq!(bulkhead.reconfigure(config(2, 2, LONG)), ["max"]);

    // The four calls keep running; the count is over the new max, so nothing is available.
    assert_eq!(occupancy(&bulkhead), (4, 0, 0));
    assert_eq!(bulkhead.stats().max_concurrent, 2);
    assert_eq!(bulkhead.try_acquire().err(), Some(full("bh-re-shrink", 2)));
    let waiters = Waiters::queue(&bulkhead, 1).await;
    assert_eq!(occupancy(&bulkhead), (4, 1, 0));

    // 4 → 3 → 2: each release retires its slot; the waiter still waits.
    holders.pop();
    yield_now().await;
    assert_eq!(occupancy(&bulkhead), (3, 1, 0));
    holders.pop();
    yield_now().await;
    assert_eq!(occupancy(&bulkhead), (2, 1, 0));
    assert!(waiters.admitted().is_empty());
    assert!(bulkhead.try_acquire().is_err());

    // At the new max, the next release hands its slot to the waiter.
    holders.pop();
    yield_now().await;
    assert_eq!(waiters.admitted(), [0]);
    assert_eq!(occupancy(&bulkhead), (2, 0, 0));

    holders.clear();
    let results = waiters.finish().await;
    assert_eq!(results, [Ok(())]);
    assert_eq!(occupancy(&bulkhead), (0, 0, 2));
    // Once under the new max, newcomers are admitted again, never more than it.
    let again: Vec<_> = (0..2)
        .map(|_| bulkhead.try_acquire().expect("a free slot"))
        .collect();
    assert!(bulkhead.try_acquire().is_err());
    drop(again);
    assert_eq!(occupancy(&bulkhead), (0, 0, 2));
}

#[tokio::test(start_paused = true)]
async fn a_smaller_max_without_a_queue_rejects_new_calls_until_enough_finish() {
    let bulkhead = bulkhead("bh-re-shrink-noqueue", 3, 0);
    let mut holders: Vec<_> = (0..3)
        .map(|_| bulkhead.try_acquire().expect("a free slot"))
        .collect();

    bulkhead.reconfigure(config(1, 0, LONG));

    let rejected = bulkhead.call(async { Ok::<_, Error>(()) }).await;
    assert_eq!(rejected, Err(full("bh-re-shrink-noqueue", 1)));
    holders.pop();
    assert!(bulkhead.try_acquire().is_err(), "2 in flight, max 1");
    holders.pop();
    assert!(bulkhead.try_acquire().is_err(), "1 in flight, max 1");
    holders.pop();
    let admitted = bulkhead.call(async { Ok::<_, Error>("ran") }).await;
    assert_eq!(admitted, Ok("ran"));
    assert_eq!(occupancy(&bulkhead), (0, 0, 1));
    assert_eq!(bulkhead.stats().rejected, 3);
}

#[tokio::test(start_paused = true)]
async fn a_smaller_queue_turns_newcomers_away_but_keeps_the_queued_in_place() {
    let bulkhead = bulkhead("bh-re-queue", 1, 3);
    let holder = bulkhead.try_acquire().expect("a free slot");
    let waiters = Waiters::queue(&bulkhead, 3).await;
    assert_eq!(occupancy(&bulkhead), (1, 3, 0));

    assert_eq!(bulkhead.reconfigure(config(1, 1, LONG)), ["queue"]);

    let start = Instant::now();
    let newcomer = bulkhead.call(async { Ok::<_, Error>(()) }).await;
    assert_eq!(newcomer, Err(full("bh-re-queue", 1)));
    assert_eq!(start.elapsed(), Duration::ZERO, "rejected at once");
    assert_eq!(
        occupancy(&bulkhead),
        (1, 3, 0),
        "the three keep their places"
    );

    drop(holder);
    let results = waiters.finish().await;
    assert_eq!(results, [Ok(()), Ok(()), Ok(())]);
    assert_eq!(occupancy(&bulkhead), (0, 0, 1));
}

#[tokio::test(start_paused = true)]
async fn a_queue_where_there_was_none_lets_callers_wait() {
    let bulkhead = bulkhead("bh-re-queue-new", 1, 0);
    assert!(!bulkhead.has_queue());
    let holder = bulkhead.try_acquire().expect("a free slot");
    assert!(bulkhead.acquire().await.is_err());

    assert_eq!(bulkhead.reconfigure(config(1, 1, LONG)), ["queue"]);

    assert!(bulkhead.has_queue());
    let waiters = Waiters::queue(&bulkhead, 1).await;
    assert_eq!(occupancy(&bulkhead), (1, 1, 0));
    drop(holder);
    assert_eq!(waiters.finish().await, [Ok(())]);
    assert_eq!(occupancy(&bulkhead), (0, 0, 1));
}

#[tokio::test(start_paused = true)]
async fn a_queued_caller_keeps_the_queue_timeout_it_started_waiting_with() {
    let bulkhead = Arc::new(Bulkhead::from_parts(
        "bh-re-patience".into(),
        config(1, 2, Duration::from_secs(1)),
    ));
    let _holder = bulkhead.try_acquire().expect("a free slot");
    let start = Instant::now();
    let spawn_waiter = || {
        let bulkhead = Arc::clone(&bulkhead);
        tokio::spawn(async move {
            let result = bulkhead.acquire().await.map(drop);
            (result, start.elapsed())
        })
    };
    let before = spawn_waiter();
    yield_now().await;

    let changed = bulkhead.reconfigure(config(1, 2, Duration::from_secs(5)));
    assert_eq!(changed, ["queue_timeout"]);
    let after = spawn_waiter();

    let (result, waited) = before.await.expect("no panic");
    assert_eq!(
        (result, waited),
        (Err(full("bh-re-patience", 1)), Duration::from_secs(1))
    );
    let (result, waited) = after.await.expect("no panic");
    assert_eq!(
        (result, waited),
        (Err(full("bh-re-patience", 1)), Duration::from_secs(5))
    );
}

#[test]
fn reconfigure_reports_the_changed_keys_and_config_shows_the_new_settings() {
    let bulkhead = Bulkhead::from_parts("bh-re-keys".into(), config(2, 0, LONG));

    assert!(bulkhead.reconfigure(config(2, 0, LONG)).is_empty());
    assert_eq!(
        bulkhead.reconfigure(config(5, 3, Duration::from_millis(250))),
        ["max", "queue", "queue_timeout"]
    );
    assert_eq!(
        bulkhead.reconfigure(config(5, 3, Duration::from_millis(500))),
        ["queue_timeout"]
    );

    assert_eq!(bulkhead.config(), config(5, 3, Duration::from_millis(500)));
    assert_eq!(
        bulkhead.config().to_string(),
        "max=5 queue=3 queue_timeout=500ms"
    );
    let stats = bulkhead.stats();
    assert_eq!((stats.max_concurrent, stats.available), (5, 5));
}

#[test]
fn the_keys_are_spelled_as_the_attribute_table_spells_them() {
    use resilience_settings::bulkhead::KEYS;
    let bulkhead = Bulkhead::from_parts("bh-re-spelling".into(), config(1, 0, LONG));
    for key in bulkhead.reconfigure(config(2, 1, Duration::from_secs(2))) {
        assert!(KEYS.iter().any(|spec| spec.key == key), "{key}");
    }
}

/// Four tasks call through the bulkhead on several threads while the max moves between 1 and 8
/// and the queue between 0 and 3: whatever the interleaving, every call is either admitted or
/// rejected, at most 8 run at once, and at the end every slot is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reconfiguring_while_calls_run_on_many_threads_leaks_nothing() {
    const TASKS: u64 = 4;
    const CALLS: u64 = 2_000;
    let bulkhead = bulkhead("bh-re-threads", 4, 2);
    let running = Arc::new(AtomicU32::new(0));
    let peak = Arc::new(AtomicU32::new(0));
    let (admitted, rejected) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));

    let callers: Vec<_> = (0..TASKS)
        .map(|task| {
            let bulkhead = Arc::clone(&bulkhead);
            let (running, peak) = (Arc::clone(&running), Arc::clone(&peak));
            let (admitted, rejected) = (Arc::clone(&admitted), Arc::clone(&rejected));
            tokio::spawn(async move {
                for call in 0..CALLS {
                    let result = bulkhead
                        .call(async {
                            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                            peak.fetch_max(now, Ordering::SeqCst);
                            for _ in 0..(task + call) % 3 {
                                yield_now().await;
                            }
                            running.fetch_sub(1, Ordering::SeqCst);
                            Ok::<_, Error>(())
                        })
                        .await;
                    match result {
                        Ok(()) => admitted.fetch_add(1, Ordering::Relaxed),
                        Err(Error::BulkheadFull { .. }) => rejected.fetch_add(1, Ordering::Relaxed),
                        Err(other) => panic!("unexpected {other:?}"),
                    };
                }
            })
        })
        .collect();
    let done = Arc::new(AtomicBool::new(false));
    let reconfigurer = {
        let (bulkhead, done) = (Arc::clone(&bulkhead), Arc::clone(&done));
        tokio::spawn(async move {
            let mut changes = 0u32;
            let mut round = 0u32;
            while !done.load(Ordering::SeqCst) {
                let max = [1, 8, 3, 1, 5, 2, 8, 1][(round % 8) as usize];
                if !bulkhead
                    .reconfigure(config(max, round % 4, LONG))
                    .is_empty()
                {
                    changes += 1;
                }
                round = round.wrapping_add(1);
                yield_now().await;
            }
            changes
        })
    };

    // With a slot leaked, a queued caller would wait for its (real-time) `queue_timeout`.
    let callers_done = async {
        for caller in callers {
            caller.await.expect("a caller panicked");
        }
    };
    tokio::time::timeout(Duration::from_secs(30), callers_done)
        .await
        .expect("a caller waited too long: a slot leaked");
    done.store(true, Ordering::SeqCst);
    let changes = reconfigurer.await.expect("the reconfigurer panicked");
    assert!(changes > 10, "only {changes} changes");
    bulkhead.reconfigure(config(8, 3, LONG));

    assert_eq!(
        admitted.load(Ordering::Relaxed) + rejected.load(Ordering::Relaxed),
        TASKS * CALLS
    );
    assert!(admitted.load(Ordering::Relaxed) > 0);
    assert!(
        peak.load(Ordering::SeqCst) <= 8,
        "more calls ran at once than any max"
    );
    let stats = bulkhead.stats();
    assert_eq!(
        (
            stats.in_flight,
            stats.queued,
            stats.available,
            stats.max_concurrent
        ),
        (0, 0, 8, 8)
    );
    assert_eq!(stats.rejected, rejected.load(Ordering::Relaxed));
    let held: Vec<_> = (0..8)
        .map(|_| bulkhead.try_acquire().expect("every slot is back"))
        .collect();
    assert!(bulkhead.try_acquire().is_err());
    drop(held);
}
