use resilience::{circuit_breaker, retry};

// Retrying an open circuit within 300ms, when the breaker waits 30s before a probe: every retry
// would be rejected again.
#[retry(retry_on = ["timeout", "circuit_open"])]
#[circuit_breaker(name = "payments")]
async fn charge(id: u64) -> Result<u64, resilience::Error> {
    Ok(id)
}

// Fine: the schedule outlasts the breaker's reset_timeout.
#[retry(max_attempts = 4, delay = "1s", retry_on = ["circuit_open"])]
#[circuit_breaker(name = "ledger", reset_timeout = "2s")]
async fn post(id: u64) -> Result<u64, resilience::Error> {
    Ok(id)
}

fn main() {}
