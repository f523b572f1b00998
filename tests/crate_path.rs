//! `crate = "path"` reaches the runtime through a facade: a crate that re-exports `resilience`
//! under its own path, as a platform crate of an organisation does.

mod common;

use common::{AppError, Runs};

/// The organisation's facade: the runtime re-exported under another path.
mod platform {
    pub use resilience as resilient;
}

#[platform::resilient::retry(crate = "platform::resilient", max_attempts = 3, backoff = "none")]
#[platform::resilient::circuit_breaker(name = "crate-path-breaker")]
async fn fetch(runs: &Runs) -> Result<u32, AppError> {
    let n = runs.tick();
    if n < 3 {
        Err(AppError::Down("fetch"))
    } else {
        Ok(n)
    }
}

#[tokio::test]
async fn a_stack_reaches_the_runtime_through_a_facade_path() {
    let runs = Runs::new();
    assert_eq!(fetch(&runs).await, Ok(3));
    let breaker = platform::resilient::registry()
        .circuit_breaker("crate-path-breaker")
        .expect("the breaker registered through the facade");
    assert_eq!(breaker.stats().failures, 2);
}
