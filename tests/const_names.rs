//! `name = CONST`: sites that share a policy name it once, as a `const`, so that a typo is a
//! compile error rather than a second policy with default settings.

mod common;

use common::AppError;
use resilience::{circuit_breaker, registry, retry, CircuitState};

mod names {
    pub const PAYMENTS: &str = "const-names-payments";
}

const PAYMENTS: &str = names::PAYMENTS;

#[circuit_breaker(name = PAYMENTS, failure_threshold = 1)]
async fn charge() -> Result<(), AppError> {
    Err(AppError::Down("charge"))
}

#[retry(max_attempts = 1)]
#[circuit_breaker(name = names::PAYMENTS)]
async fn refund() -> Result<(), AppError> {
    Ok(())
}

#[tokio::test]
async fn sites_naming_one_const_share_the_policy() {
    assert!(charge().await.is_err());
    let breaker = registry().circuit_breaker("const-names-payments").unwrap();
    assert_eq!(breaker.state(), CircuitState::Open);
    // The other site names the same const through its path: it meets the open circuit.
    assert!(matches!(refund().await, Err(AppError::Policy(_))));
}
