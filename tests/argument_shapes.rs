//! Every kind of argument under a body that runs again (`#[retry]`) or is followed by a fallback
//! (`#[fallback]`): each attempt starts from the arguments as the caller passed them, `#[cfg]` on
//! an argument is respected, the future is `Send` whenever the body's is (a `!Sync` argument
//! included), and arguments are cloned only where a later attempt or the fallback needs them.

mod common;

use std::cell::Cell;
use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use common::{AppError, Runs};
use resilience::{fallback, retry};

/// Fails until the body has run `succeed_on` times.
fn flaky(runs: &Runs, succeed_on: u32) -> Result<(), AppError> {
    if runs.tick() >= succeed_on {
        Ok(())
    } else {
        Err(AppError::Down("flaky"))
    }
}

#[retry(max_attempts = 3, backoff = "none")]
async fn parse(mut input: &[u8], runs: &Runs) -> Result<u8, AppError> {
    // Consumes the slice as a parser does; every attempt must see all of it.
    let first = input[0];
    input = &input[1..];
    let _ = input;
    flaky(runs, 3)?;
    Ok(first)
}

#[tokio::test]
async fn a_mut_slice_binding_starts_every_attempt_where_the_caller_left_it() {
    let runs = Runs::new();
    assert_eq!(parse(&[7, 8, 9], &runs).await, Ok(7));
    assert_eq!(runs.get(), 3);
}

#[retry(max_attempts = 3, backoff = "none")]
async fn advance(mut cursor: &mut Vec<u32>, runs: &Runs) -> Result<usize, AppError> {
    cursor.push(runs.get());
    let mut other = Vec::new();
    // Reassigning the binding must not leak into the next attempt.
    let seen = cursor.len();
    cursor = &mut other;
    cursor.push(0);
    flaky(runs, 2)?;
    Ok(seen)
}

#[retry(max_attempts = 3, backoff = "none")]
async fn count_down(mut budget: u32, runs: &Runs) -> Result<u32, AppError> {
    budget -= 1;
    flaky(runs, 3)?;
    Ok(budget)
}

#[tokio::test]
async fn mut_bindings_of_every_kind_start_afresh() {
    let runs = Runs::new();
    let mut items = Vec::new();
    // Both attempts push through the caller's vector: the reborrow is the caller's, afresh.
    assert_eq!(advance(&mut items, &runs).await, Ok(2));
    assert_eq!(items, [0, 1]);

    let runs = Runs::new();
    assert_eq!(count_down(10, &runs).await, Ok(9));
}

#[retry(max_attempts = 2, backoff = "none")]
async fn configured(
    #[cfg(not(test))] missing: String,
    #[cfg(test)] present: String,
    runs: &Runs,
) -> Result<usize, AppError> {
    flaky(runs, 2)?;
    Ok(present.len())
}

fn cfg_fallback(
    #[cfg(not(test))] _missing: String,
    #[cfg(test)] present: String,
    _runs: &Runs,
    _error: AppError,
) -> Result<usize, AppError> {
    Ok(present.len() * 100)
}

#[fallback(cfg_fallback)]
async fn configured_with_fallback(
    #[cfg(not(test))] missing: String,
    #[cfg(test)] present: String,
    runs: &Runs,
) -> Result<usize, AppError> {
    flaky(runs, 2)?;
    Ok(present.len())
}

#[tokio::test]
async fn cfg_on_an_argument_is_respected() {
    let runs = Runs::new();
    assert_eq!(configured("abc".to_owned(), &runs).await, Ok(3));
    assert_eq!(runs.get(), 2);
    let runs = Runs::new();
    assert_eq!(
        configured_with_fallback("abcd".to_owned(), &runs).await,
        Ok(400)
    );
}

fn assert_send<F: Future + Send>(future: F) -> F {
    future
}

#[retry(max_attempts = 2, backoff = "none")]
async fn with_cell(counter: Cell<u32>, runs: &Runs) -> Result<u32, AppError> {
    counter.set(counter.get() + 1);
    tokio::task::yield_now().await;
    flaky(runs, 2)?;
    Ok(counter.get())
}

fn cell_fallback(counter: Cell<u32>, _runs: &Runs, _error: AppError) -> Result<u32, AppError> {
    Ok(counter.get() + 100)
}

#[fallback(cell_fallback)]
async fn with_cell_and_fallback(counter: Cell<u32>, runs: &Runs) -> Result<u32, AppError> {
    counter.set(counter.get() + 1);
    tokio::task::yield_now().await;
    flaky(runs, 2)?;
    Ok(counter.get())
}

#[tokio::test]
async fn a_not_sync_owned_argument_keeps_the_future_send() {
    let runs: &'static Runs = Box::leak(Box::new(Runs::new()));
    // Each attempt gets its own copy of the cell: the second attempt counts from 5 again.
    let call = assert_send(with_cell(Cell::new(5), runs));
    assert_eq!(tokio::spawn(call).await.unwrap(), Ok(6));

    let runs: &'static Runs = Box::leak(Box::new(Runs::new()));
    let call = assert_send(with_cell_and_fallback(Cell::new(5), runs));
    // The fallback gets the caller's cell, untouched by the body.
    assert_eq!(tokio::spawn(call).await.unwrap(), Ok(105));
}

/// A value that counts how often it was cloned.
#[derive(Debug)]
struct Counted(Arc<AtomicU32>);

impl Clone for Counted {
    fn clone(&self) -> Self {
        self.0.fetch_add(1, Ordering::SeqCst);
        Counted(Arc::clone(&self.0))
    }
}

#[retry(max_attempts = 1)]
async fn single_attempt(_value: Counted) -> Result<(), AppError> {
    Ok(())
}

#[retry(max_attempts = 3, backoff = "none")]
async fn three_attempts(_value: Counted, runs: &Runs, succeed_on: u32) -> Result<(), AppError> {
    flaky(runs, succeed_on)
}

fn counted_fallback(_value: Counted, _error: AppError) -> Result<(), AppError> {
    Ok(())
}

#[fallback(counted_fallback)]
async fn with_fallback(_value: Counted) -> Result<(), AppError> {
    Ok(())
}

#[tokio::test]
async fn arguments_are_cloned_only_for_a_later_attempt_or_the_fallback() {
    let clones = Arc::new(AtomicU32::new(0));
    let value = || Counted(Arc::clone(&clones));

    single_attempt(value()).await.unwrap();
    assert_eq!(clones.load(Ordering::SeqCst), 0, "max_attempts = 1 moves");

    // A first-try success clones once (a second attempt might have needed the original).
    three_attempts(value(), &Runs::new(), 1).await.unwrap();
    assert_eq!(clones.swap(0, Ordering::SeqCst), 1);

    // Three attempts: two clones, and the last attempt takes the original.
    assert!(three_attempts(value(), &Runs::new(), 4).await.is_err());
    assert_eq!(clones.swap(0, Ordering::SeqCst), 2);

    // A fallback needs the original after the body: one clone per call.
    with_fallback(value()).await.unwrap();
    assert_eq!(clones.swap(0, Ordering::SeqCst), 1);
}
