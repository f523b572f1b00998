//! The breaker's behaviour, on tokio's paused clock.

mod closed;
mod config;
mod half_open;
mod observe;
mod rate;
mod reconfigure;

use std::time::Duration;

use super::{CircuitBreaker, CircuitBreakerBuilder};
use crate::Error;

/// The operation error of the tests' calls; rejections arrive through `From<Error>`.
#[derive(Debug, Clone, PartialEq)]
enum TestError {
    Operation(&'static str),
    Rejected(Error),
}

impl From<Error> for TestError {
    fn from(error: Error) -> Self {
        TestError::Rejected(error)
    }
}

fn build(builder: CircuitBreakerBuilder) -> CircuitBreaker {
    builder.build().expect("the test's settings are valid")
}

async fn succeed(breaker: &CircuitBreaker) -> Result<(), TestError> {
    breaker.call(async { Ok(()) }).await
}

async fn fail(breaker: &CircuitBreaker) -> Result<(), TestError> {
    breaker
        .call(async { Err(TestError::Operation("down")) })
        .await
}

/// A call that succeeds after `duration` of (virtual) time.
async fn succeed_after(breaker: &CircuitBreaker, duration: Duration) -> Result<(), TestError> {
    breaker
        .call(async {
            tokio::time::sleep(duration).await;
            Ok(())
        })
        .await
}

/// The `retry_after` of a rejection by an open circuit; panics on anything else.
fn retry_after<T: std::fmt::Debug>(result: Result<T, TestError>) -> Option<Duration> {
    match result {
        Err(TestError::Rejected(Error::CircuitOpen { retry_after, .. })) => retry_after,
        other => panic!("expected a CircuitOpen rejection, got {other:?}"),
    }
}
