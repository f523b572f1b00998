use std::future::{pending, poll_fn, Future};
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::Duration;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use tokio::task::yield_now;
use tokio::time::{sleep, Instant};

use super::*;

fn bulkhead(name: &str, max: u32, queue: u32) -> Bulkhead {
    Bulkhead::builder(name)
        .max_concurrent(max)
        .queue(queue)
        .build()
        .expect("valid settings")
}

fn full(name: &str, max_concurrent: u32) -> Error {
    Error::BulkheadFull {
        name: name.into(),
        max_concurrent,
    }
}

/// Polls `fut` once, for tests that need a call to be in flight or queued while they look.
async fn poll_once<F: Future>(mut fut: Pin<&mut F>) -> Poll<F::Output> {
    poll_fn(|cx| Poll::Ready(fut.as_mut().poll(cx))).await
}

/// Counts the calls inside a slot and remembers the most at once; the count drops even when
/// the holding task is cancelled.
#[derive(Clone, Default)]
struct Occupants {
    now: Arc<AtomicU32>,
    peak: Arc<AtomicU32>,
}

struct Occupant(Arc<AtomicU32>);

impl Occupants {
    fn enter(&self) -> Occupant {
        let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::SeqCst);
        Occupant(Arc::clone(&self.now))
    }

    fn peak(&self) -> u32 {
        self.peak.load(Ordering::SeqCst)
    }
}

impl Drop for Occupant {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

#[tokio::test(start_paused = true)]
async fn at_most_max_calls_run_and_the_next_is_rejected_at_once() {
    let bulkhead = bulkhead("bh-max", 3, 0);
    let permits: Vec<_> = (0..3)
        .map(|_| bulkhead.try_acquire().expect("a free slot"))
        .collect();
    let ran = AtomicBool::new(false);
    let start = Instant::now();

    let result = bulkhead
        .call(async {
            ran.store(true, Ordering::SeqCst);
            Ok::<_, Error>(())
        })
        .await;

    assert_eq!(result, Err(full("bh-max", 3)));
    assert_eq!(start.elapsed(), Duration::ZERO);
    assert!(!ran.load(Ordering::SeqCst), "a rejected call must not run");
    assert_eq!(bulkhead.try_acquire().err(), Some(full("bh-max", 3)));
    assert_eq!(
        bulkhead.stats(),
        BulkheadStats {
            max_concurrent: 3,
            in_flight: 3,
            queued: 0,
            available: 0,
            rejected: 2,
            keys: None,
        }
    );
    drop(permits);
    assert_eq!(bulkhead.stats().available, 3);
}

#[tokio::test(start_paused = true)]
async fn the_slot_is_given_back_after_success_and_after_an_error() {
    let bulkhead = bulkhead("bh-outcomes", 1, 0);

    let ok = bulkhead
        .call(async {
            sleep(Duration::from_millis(5)).await;
            Ok::<_, Error>(1)
        })
        .await;
    assert_eq!(ok, Ok(1));
    assert_eq!(bulkhead.stats().in_flight, 0);

    let err = bulkhead
        .call(async { Err::<(), _>(std::io::Error::other("refused")) })
        .await;
    assert_eq!(err.map_err(|e| e.to_string()), Err("refused".to_owned()));
    assert_eq!(bulkhead.stats().in_flight, 0);
    assert!(bulkhead.try_acquire().is_ok());
}

#[tokio::test(start_paused = true)]
async fn the_slot_is_given_back_when_the_call_is_dropped() {
    let bulkhead = bulkhead("bh-dropped", 1, 0);
    {
        let call = pin!(bulkhead.call(pending::<Result<(), Error>>()));
        assert!(poll_once(call).await.is_pending());
        assert_eq!(bulkhead.stats().in_flight, 1);
    }
    assert_eq!(bulkhead.stats().in_flight, 0);
    assert!(bulkhead.try_acquire().is_ok());
}

#[tokio::test(start_paused = true)]
async fn the_slot_is_given_back_when_the_call_panics() {
    let bulkhead = Arc::new(bulkhead("bh-panic", 1, 0));
    let task = tokio::spawn({
        let bulkhead = Arc::clone(&bulkhead);
        async move {
            bulkhead
                .call(async {
                    if bulkhead.stats().in_flight == 1 {
                        panic!("the body panicked");
                    }
                    Ok::<_, Error>(())
                })
                .await
        }
    });
    let joined = task.await;
    assert!(joined.is_err_and(|e| e.is_panic()), "the body should panic");
    assert_eq!(bulkhead.stats().in_flight, 0);
    assert!(bulkhead.try_acquire().is_ok());
}

#[tokio::test(start_paused = true)]
async fn a_queued_caller_gets_the_slot_as_soon_as_it_is_freed() {
    let bulkhead = Arc::new(bulkhead("bh-queue", 1, 1));
    let permit = bulkhead.try_acquire().expect("a free slot");
    let start = Instant::now();
    let waiter = tokio::spawn({
        let bulkhead = Arc::clone(&bulkhead);
        async move {
            let permit = bulkhead.acquire().await;
            (permit.is_ok(), start.elapsed())
        }
    });
    yield_now().await;
    assert_eq!(bulkhead.stats().queued, 1);

    sleep(Duration::from_millis(100)).await;
    drop(permit);
    assert_eq!(
        bulkhead.stats().in_flight,
        1,
        "the slot goes to the waiter without being freed"
    );
    assert_eq!(bulkhead.stats().queued, 0);

    let (admitted, waited) = waiter.await.expect("the waiter does not panic");
    assert!(admitted);
    assert_eq!(waited, Duration::from_millis(100));
    assert_eq!(bulkhead.stats().in_flight, 0);
}

#[tokio::test(start_paused = true)]
async fn a_queued_caller_is_rejected_after_exactly_queue_timeout() {
    let bulkhead = Bulkhead::builder("bh-patience")
        .max_concurrent(1)
        .queue(1)
        .queue_timeout(Duration::from_millis(250))
        .build()
        .expect("valid settings");
    let _permit = bulkhead.try_acquire().expect("a free slot");
    let start = Instant::now();

    let result = bulkhead.acquire().await;

    assert_eq!(result.err(), Some(full("bh-patience", 1)));
    assert_eq!(start.elapsed(), Duration::from_millis(250));
    let stats = bulkhead.stats();
    assert_eq!((stats.queued, stats.in_flight, stats.rejected), (0, 1, 1));
}

#[tokio::test(start_paused = true)]
async fn a_full_queue_rejects_at_once() {
    let bulkhead = Arc::new(bulkhead("bh-queue-full", 1, 2));
    let _permit = bulkhead.try_acquire().expect("a free slot");
    let waiters: Vec<_> = (0..2)
        .map(|_| {
            let bulkhead = Arc::clone(&bulkhead);
            tokio::spawn(async move { bulkhead.acquire().await.is_ok() })
        })
        .collect();
    yield_now().await;
    assert_eq!(bulkhead.stats().queued, 2);
    let start = Instant::now();

    let result = bulkhead.call(async { Ok::<_, Error>(()) }).await;

    assert_eq!(result, Err(full("bh-queue-full", 1)));
    assert_eq!(start.elapsed(), Duration::ZERO);
    assert_eq!(bulkhead.stats().queued, 2);
    for waiter in waiters {
        waiter.abort();
    }
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_waiter_leaves_the_queue() {
    let bulkhead = Arc::new(bulkhead("bh-cancel", 1, 1));
    let permit = bulkhead.try_acquire().expect("a free slot");
    let waiter = tokio::spawn({
        let bulkhead = Arc::clone(&bulkhead);
        async move { bulkhead.acquire().await.is_ok() }
    });
    yield_now().await;
    assert_eq!(bulkhead.stats().queued, 1);

    waiter.abort();
    assert!(waiter.await.is_err_and(|e| e.is_cancelled()));
    assert_eq!(bulkhead.stats().queued, 0);

    // Its place is free for someone else, and the slot is not handed to the departed waiter.
    let mut next = Box::pin(bulkhead.acquire());
    assert!(poll_once(next.as_mut()).await.is_pending());
    drop(permit);
    assert!(poll_once(next.as_mut()).await.is_ready());
    drop(next);
    assert_eq!(bulkhead.stats().in_flight, 0);
}

#[tokio::test(start_paused = true)]
async fn a_slot_reaching_a_waiter_that_is_dropped_passes_to_the_next() {
    let bulkhead = bulkhead("bh-handover", 1, 2);
    let permit = bulkhead.try_acquire().expect("a free slot");
    let mut first = Box::pin(bulkhead.acquire());
    let mut second = Box::pin(bulkhead.acquire());
    assert!(poll_once(first.as_mut()).await.is_pending());
    assert!(poll_once(second.as_mut()).await.is_pending());
    assert_eq!(bulkhead.stats().queued, 2);

    // The slot goes to `first`, which is dropped before it ever sees it.
    drop(permit);
    drop(first);

    let Poll::Ready(Ok(permit)) = poll_once(second.as_mut()).await else {
        panic!("the slot should have passed to the second waiter");
    };
    assert_eq!(bulkhead.stats().queued, 0);
    drop(permit);
    assert_eq!(bulkhead.stats().in_flight, 0);
}

#[tokio::test(start_paused = true)]
async fn waiters_are_served_in_arrival_order_before_newcomers() {
    let bulkhead = Arc::new(bulkhead("bh-fifo", 1, 3));
    let permit = bulkhead.try_acquire().expect("a free slot");
    let served = Arc::new(Mutex::new(Vec::new()));
    let mut waiters = Vec::new();
    for id in 0..3 {
        let (bulkhead, served) = (Arc::clone(&bulkhead), Arc::clone(&served));
        waiters.push(tokio::spawn(async move {
            let _permit = bulkhead.acquire().await.expect("a slot in time");
            served.lock().expect("not poisoned").push(id);
            sleep(Duration::from_millis(10)).await;
        }));
        // Queue them one by one, in id order.
        yield_now().await;
    }
    assert_eq!(bulkhead.stats().queued, 3);

    drop(permit);
    assert_eq!(
        bulkhead.try_acquire().err(),
        Some(full("bh-fifo", 1)),
        "a newcomer must not take the slot a waiter is owed"
    );
    for waiter in waiters {
        waiter.await.expect("the waiter does not panic");
    }
    assert_eq!(*served.lock().expect("not poisoned"), vec![0, 1, 2]);
}

#[tokio::test(start_paused = true)]
async fn tasks_share_the_slots() {
    let bulkhead = Arc::new(
        Bulkhead::builder("bh-shared")
            .max_concurrent(3)
            .queue(16)
            .queue_timeout(Duration::from_secs(10))
            .build()
            .expect("valid settings"),
    );
    let occupants = Occupants::default();
    let start = Instant::now();
    let tasks: Vec<_> = (0..12)
        .map(|_| {
            let (bulkhead, occupants) = (Arc::clone(&bulkhead), occupants.clone());
            tokio::spawn(async move {
                bulkhead
                    .call(async {
                        let _inside = occupants.enter();
                        sleep(Duration::from_millis(10)).await;
                        Ok::<_, Error>(())
                    })
                    .await
            })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.expect("the task does not panic"), Ok(()));
    }

    assert_eq!(occupants.peak(), 3);
    assert_eq!(start.elapsed(), Duration::from_millis(40), "4 rounds of 3");
    let stats = bulkhead.stats();
    assert_eq!((stats.in_flight, stats.queued, stats.rejected), (0, 0, 0));
}

#[tokio::test(start_paused = true)]
async fn run_keeps_rejections_typed() {
    let bulkhead = bulkhead("bh-run", 1, 0);

    let inner = Error::Timeout {
        name: "inner".into(),
        after: Duration::from_secs(1),
    };
    let passed: Result<(), Failure<std::io::Error>> = bulkhead
        .run(async { Err(Failure::Policy(inner.clone())) })
        .await;
    assert!(matches!(passed, Err(Failure::Policy(ref e)) if *e == inner));

    let _permit = bulkhead.try_acquire().expect("a free slot");
    let rejected: Result<(), Failure<std::io::Error>> = bulkhead.run(async { Ok(()) }).await;
    assert!(matches!(rejected, Err(Failure::Policy(ref e)) if *e == full("bh-run", 1)));
}

#[tokio::test(start_paused = true)]
async fn a_rejection_is_announced() {
    let mut events = crate::events::subscribe();
    let bulkhead = bulkhead("bh-event", 1, 0);
    let _permit = bulkhead.try_acquire().expect("a free slot");
    let _ = bulkhead.try_acquire();

    // Other tests share the bus: look for this bulkhead's event only.
    loop {
        match events.try_recv() {
            Ok(Event::CallRejected { kind, error, .. }) if error.policy_name() == "bh-event" => {
                assert_eq!(kind, PolicyKind::Bulkhead);
                assert_eq!(error, full("bh-event", 1));
                break;
            }
            Ok(_) => {}
            Err(e) => panic!("no CallRejected event for bh-event: {e}"),
        }
    }
}

#[test]
fn reset_stats_zeroes_the_counters_but_not_the_occupancy() {
    let bulkhead = bulkhead("bh-reset", 1, 0);
    let _permit = bulkhead.try_acquire().expect("a free slot");
    let _ = bulkhead.try_acquire();
    assert_eq!(bulkhead.stats().rejected, 1);

    bulkhead.reset_stats();

    assert_eq!(
        bulkhead.stats(),
        BulkheadStats {
            max_concurrent: 1,
            in_flight: 1,
            queued: 0,
            available: 0,
            rejected: 0,
            keys: None,
        }
    );
}

#[test]
fn build_validates_and_fills_in_defaults() {
    let config = bulkhead("bh-defaults", 4, 0).config();
    assert_eq!(
        config,
        BulkheadConfig {
            max_concurrent: 4,
            queue: 0,
            queue_timeout: Duration::from_secs(1),
            key_idle: Duration::from_secs(60),
            max_keys: 100_000,
        }
    );

    let key_of = |builder: BulkheadBuilder| match builder.build() {
        Err(ConfigError::OutOfRange { key, .. }) => key,
        other => panic!("expected an OutOfRange error, got {other:?}"),
    };
    assert_eq!(key_of(Bulkhead::builder("bh-invalid")), "max");
    assert_eq!(
        key_of(Bulkhead::builder("bh-invalid").max_concurrent(0)),
        "max"
    );
    assert_eq!(
        key_of(
            Bulkhead::builder("bh-invalid")
                .max_concurrent(1)
                .queue_timeout(Duration::ZERO)
        ),
        "queue_timeout"
    );
    assert!(Bulkhead::builder("bh-limits")
        .max_concurrent(u32::MAX)
        .queue(u32::MAX)
        .queue_timeout(Duration::MAX)
        .build()
        .is_ok());
}

#[test]
fn conflicts_name_only_explicit_settings_that_differ() {
    let existing = Bulkhead::builder("bh-conflict")
        .max_concurrent(4)
        .queue(2)
        .build()
        .expect("valid settings");
    let builder = || Bulkhead::builder("bh-conflict");

    assert!(builder().conflicts_with(&existing).is_empty());
    assert!(builder()
        .max_concurrent(4)
        .queue(2)
        .queue_timeout(Duration::from_secs(1))
        .conflicts_with(&existing)
        .is_empty());
    assert_eq!(
        builder()
            .max_concurrent(5)
            .queue(3)
            .queue_timeout(Duration::from_secs(2))
            .conflicts_with(&existing),
        vec!["max", "queue", "queue_timeout"]
    );
}

#[test]
fn accessors_and_display() {
    let bulkhead = bulkhead("bh-accessors", 10, 0);
    assert_eq!(bulkhead.name(), "bh-accessors");
    assert_eq!(&**bulkhead.name_arc(), "bh-accessors");
    assert_eq!(Bulkhead::builder("b").name().as_ref(), "b");
    assert_eq!(bulkhead.config().to_string(), "max=10 queue=0");
    let queued = Bulkhead::builder("bh-accessors")
        .max_concurrent(2)
        .queue(5)
        .queue_timeout(Duration::from_millis(1500))
        .build()
        .expect("valid settings");
    assert_eq!(
        queued.config().to_string(),
        "max=2 queue=5 queue_timeout=1.5s"
    );
    assert!(format!("{bulkhead:?}").contains("bh-accessors"));
    let permit = bulkhead.try_acquire().expect("a free slot");
    assert!(format!("{permit:?}").contains("bh-accessors"));
}

/// Callers that wait, give up, are rejected and are cancelled at random, on one thread in
/// virtual time: afterwards every slot is free and the queue empty.
#[tokio::test(start_paused = true)]
async fn no_slot_leaks_under_random_timeouts_and_cancellation() {
    const MAX: u32 = 3;
    let bulkhead = Arc::new(
        Bulkhead::builder("bh-random-paused")
            .max_concurrent(MAX)
            .queue(4)
            .queue_timeout(Duration::from_millis(20))
            .build()
            .expect("valid settings"),
    );
    let occupants = Occupants::default();
    let mut rng = SmallRng::seed_from_u64(0x5eed);
    let mut tasks = Vec::new();
    for _ in 0..400 {
        let (bulkhead, occupants) = (Arc::clone(&bulkhead), occupants.clone());
        let hold = Duration::from_millis(rng.gen_range(0..15));
        let patience = Duration::from_millis(rng.gen_range(1..30));
        tasks.push(tokio::spawn(async move {
            // The outer timeout cancels callers mid-wait or mid-call.
            let _ = tokio::time::timeout(
                patience,
                bulkhead.call(async {
                    let _inside = occupants.enter();
                    sleep(hold).await;
                    Ok::<_, Error>(())
                }),
            )
            .await;
        }));
        if rng.gen_bool(0.3) {
            sleep(Duration::from_millis(rng.gen_range(0..5))).await;
        }
        if rng.gen_bool(0.1) {
            if let Some(task) = tasks.get(rng.gen_range(0..tasks.len())) {
                task.abort();
            }
        }
    }
    for task in tasks {
        let _ = task.await;
    }

    assert!(occupants.peak() <= MAX);
    let stats = bulkhead.stats();
    assert_eq!((stats.in_flight, stats.queued), (0, 0));
    assert!(
        stats.rejected > 0,
        "the run should have exercised rejection"
    );
    let permits: Vec<_> = (0..MAX)
        .filter_map(|_| bulkhead.try_acquire().ok())
        .collect();
    assert_eq!(permits.len(), MAX as usize);
}

/// The same on two threads, with cancellation at arbitrary poll points and real races between
/// releasers, waiters and leavers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_slot_leaks_under_random_cancellation_across_threads() {
    const MAX: u32 = 2;
    let bulkhead = Arc::new(
        Bulkhead::builder("bh-random-threads")
            .max_concurrent(MAX)
            .queue(6)
            // Long enough never to fire: a leaked slot then shows up as a hang, which the
            // guard below turns into a failure.
            .queue_timeout(Duration::from_secs(3600))
            .build()
            .expect("valid settings"),
    );
    let occupants = Occupants::default();
    let mut rng = SmallRng::seed_from_u64(0xb01c);

    let rounds = async {
        for _ in 0..200 {
            let mut tasks = Vec::new();
            for _ in 0..10 {
                let (bulkhead, occupants) = (Arc::clone(&bulkhead), occupants.clone());
                let hold = rng.gen_range(0..4);
                let try_only = rng.gen_bool(0.2);
                tasks.push(tokio::spawn(async move {
                    let permit = if try_only {
                        bulkhead.try_acquire()
                    } else {
                        bulkhead.acquire().await
                    };
                    if let Ok(_permit) = permit {
                        let _inside = occupants.enter();
                        for _ in 0..hold {
                            yield_now().await;
                        }
                    }
                }));
            }
            for task in &tasks {
                if rng.gen_bool(0.3) {
                    for _ in 0..rng.gen_range(0..3) {
                        yield_now().await;
                    }
                    task.abort();
                }
            }
            for task in tasks {
                if let Err(e) = task.await {
                    assert!(e.is_cancelled(), "a task panicked: {e}");
                }
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(60), rounds)
        .await
        .expect("a caller waited forever: a slot leaked");

    assert!(occupants.peak() <= MAX);
    let stats = bulkhead.stats();
    assert_eq!((stats.in_flight, stats.queued), (0, 0));
}

#[test]
fn the_fallback_policy_never_rejects() {
    let bulkhead = Bulkhead::with_defaults("bh-fallback".into());
    let permits: Vec<_> = (0..1000)
        .filter_map(|_| bulkhead.try_acquire().ok())
        .collect();
    assert_eq!(permits.len(), 1000);
    assert_eq!(bulkhead.stats().available, u32::MAX - 1000);
}
