//! `#[timeout]` and `#[bulkhead]`: exact expiry, error conversion, slots and the queue.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{AppError, Runs};
use resilience::{bulkhead, registry, timeout, Error};
use tokio::sync::Semaphore;
use tokio::time::Instant;

#[timeout(ms = 250)]
async fn slow(delay: Duration) -> Result<&'static str, AppError> {
    tokio::time::sleep(delay).await;
    Ok("done")
}

#[tokio::test(start_paused = true)]
async fn a_timeout_fires_at_exactly_its_duration() {
    let start = Instant::now();
    match slow(Duration::from_secs(10)).await {
        Err(AppError::Policy(Error::Timeout { after, .. })) => {
            assert_eq!(after, Duration::from_millis(250))
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert_eq!(start.elapsed(), Duration::from_millis(250));

    let start = Instant::now();
    assert_eq!(slow(Duration::from_millis(249)).await, Ok("done"));
    assert_eq!(start.elapsed(), Duration::from_millis(249));
}

/// Sets a flag when dropped, to see that a timed-out body is dropped.
struct DropFlag(Arc<std::sync::atomic::AtomicBool>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

#[timeout(duration = "1s", name = "timeout-drop")]
async fn holds_flag(flag: Arc<std::sync::atomic::AtomicBool>) -> Result<(), AppError> {
    let _guard = DropFlag(flag);
    std::future::pending::<()>().await;
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn the_timed_out_body_is_dropped() {
    let flag = Arc::new(std::sync::atomic::AtomicBool::new(false));
    assert!(holds_flag(Arc::clone(&flag)).await.is_err());
    assert!(flag.load(std::sync::atomic::Ordering::SeqCst));
    let stats = registry().timeout("timeout-drop").unwrap().stats();
    assert_eq!((stats.calls, stats.timeouts), (1, 1));
}

#[timeout(secs = 2)]
async fn io_bound() -> std::io::Result<u8> {
    tokio::time::sleep(Duration::from_secs(5)).await;
    Ok(1)
}

#[tokio::test(start_paused = true)]
async fn io_results_convert_a_timeout_to_timed_out() {
    let err = io_bound().await.unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
}

#[bulkhead(max = 2, name = "bh-reject")]
async fn limited(gate: &Semaphore, runs: &Runs) -> Result<(), AppError> {
    runs.tick();
    let _permit = gate
        .acquire()
        .await
        .map_err(|_| AppError::Down("gate closed"))?;
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn a_full_bulkhead_rejects_at_once() {
    let gate = Semaphore::new(0);
    let runs = Runs::new();
    let first = limited(&gate, &runs);
    let second = limited(&gate, &runs);
    let third = async {
        tokio::task::yield_now().await;
        limited(&gate, &runs).await
    };
    let check = async {
        // Let the first two take their slots, then the third is turned away at once.
        tokio::task::yield_now().await;
        tokio::task::yield_now().await;
        let stats = registry().bulkhead("bh-reject").unwrap().stats();
        assert_eq!(stats.in_flight, 2);
        gate.add_permits(2);
    };
    let (a, b, c, ()) = tokio::join!(first, second, third, check);
    assert!(a.is_ok() && b.is_ok());
    match c {
        Err(AppError::Policy(Error::BulkheadFull { max_concurrent, .. })) => {
            assert_eq!(max_concurrent, 2)
        }
        other => panic!("expected a full bulkhead, got {other:?}"),
    }
    assert_eq!(runs.get(), 2);
    let stats = registry().bulkhead("bh-reject").unwrap().stats();
    assert_eq!((stats.in_flight, stats.rejected), (0, 1));
}

// Two bulkheads of the same shape, one per test: tests run in parallel and must not share slots.
#[bulkhead(max = 1, queue = 1, queue_timeout = "1s", name = "bh-queue-frees")]
async fn queued(hold: Duration) -> Result<(), AppError> {
    tokio::time::sleep(hold).await;
    Ok(())
}

#[bulkhead(max = 1, queue = 1, queue_timeout = "1s", name = "bh-queue-gives-up")]
async fn queued_briefly(hold: Duration) -> Result<(), AppError> {
    tokio::time::sleep(hold).await;
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn a_queued_caller_gets_the_slot_when_it_frees() {
    let start = Instant::now();
    let (a, b) = tokio::join!(queued(Duration::from_millis(600)), async {
        tokio::task::yield_now().await;
        let result = queued(Duration::from_millis(100)).await;
        (result, start.elapsed())
    });
    assert!(a.is_ok());
    assert!(b.0.is_ok());
    assert_eq!(b.1, Duration::from_millis(700));
}

#[tokio::test(start_paused = true)]
async fn a_queued_caller_gives_up_after_queue_timeout() {
    let start = Instant::now();
    let (a, b, c) = tokio::join!(
        queued_briefly(Duration::from_secs(5)),
        async {
            tokio::task::yield_now().await;
            let result = queued_briefly(Duration::ZERO).await;
            (result, start.elapsed())
        },
        async {
            tokio::task::yield_now().await;
            tokio::task::yield_now().await;
            // The one queue place is taken: rejected at once.
            let result = queued_briefly(Duration::ZERO).await;
            (result, start.elapsed())
        }
    );
    assert!(a.is_ok());
    assert_eq!(b.0.unwrap_err().code(), Some("BULKHEAD_FULL"));
    assert_eq!(b.1, Duration::from_secs(1));
    assert_eq!(c.0.unwrap_err().code(), Some("BULKHEAD_FULL"));
    assert_eq!(c.1, Duration::ZERO);
}

#[bulkhead(max = 1, name = "bh-cancel")]
async fn parked() -> Result<(), AppError> {
    std::future::pending::<()>().await;
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_call_gives_its_slot_back() {
    let _ = tokio::time::timeout(Duration::from_millis(10), parked()).await;
    let stats = registry().bulkhead("bh-cancel").unwrap().stats();
    assert_eq!(stats.in_flight, 0);
    let _ = tokio::time::timeout(Duration::from_millis(10), parked()).await;
    assert_eq!(
        registry().bulkhead("bh-cancel").unwrap().stats().rejected,
        0
    );
}
