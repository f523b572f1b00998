//! Every `#[circuit_breaker]` key, both trip rules and both window kinds, `critical` alone and with
//! a value, and `crate`.

use resilience::{circuit_breaker, Error};

#[derive(Debug, PartialEq)]
enum ApiError {
    Unavailable,
    NotFound,
    Policy(Error),
}

impl From<Error> for ApiError {
    fn from(err: Error) -> Self {
        ApiError::Policy(err)
    }
}

fn is_outage(err: &ApiError) -> bool {
    matches!(err, ApiError::Unavailable | ApiError::Policy(_))
}

fn is_client_error(err: &ApiError) -> bool {
    matches!(err, ApiError::NotFound)
}

#[circuit_breaker]
async fn defaults() -> Result<u32, ApiError> {
    Ok(1)
}

#[circuit_breaker(
    name = "breaker-keys",
    failure_threshold = 3,
    reset_timeout = "10s",
    half_open_max_calls = 2,
    success_threshold = 3,
    slow_call = "2s",
    half_open_timeout = "5s",
    failure_if = is_outage,
    ignore_if = is_client_error,
    critical,
    shared,
)]
async fn consecutive() -> Result<u32, ApiError> {
    Ok(1)
}

#[circuit_breaker(
    failure_rate = 0.5,
    window = 20,
    min_calls = 10,
    reset_timeout_ms = 500,
    half_open_timeout_ms = 250,
    critical = false,
    shared = false,
    crate = "::resilience"
)]
async fn count_window() -> Result<u32, ApiError> {
    Ok(1)
}

#[circuit_breaker(failure_rate = 1, window = "60s", min_calls = 100, slow_call_ms = 750)]
async fn time_window() -> Result<u32, ApiError> {
    Ok(1)
}

#[circuit_breaker(failure_rate = 0.25)]
async fn default_window() -> Result<u32, ApiError> {
    Ok(1)
}

// A site that gives only a name joins the breaker of that name.
#[circuit_breaker(name = "breaker-keys")]
async fn joins_by_name() -> Result<u32, ApiError> {
    Err(ApiError::NotFound)
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    runtime.block_on(async {
        assert_eq!(defaults().await, Ok(1));
        assert_eq!(consecutive().await, Ok(1));
        assert_eq!(count_window().await, Ok(1));
        assert_eq!(time_window().await, Ok(1));
        assert_eq!(default_window().await, Ok(1));
        assert_eq!(joins_by_name().await, Err(ApiError::NotFound));
    });
    let breaker = resilience::registry()
        .circuit_breaker("breaker-keys")
        .unwrap();
    assert!(breaker.is_critical());
}
