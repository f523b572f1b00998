use resilience::{circuit_breaker, rate_limit};

#[circuit_breaker(shared = "yes")]
async fn breaker() -> Result<u32, resilience::Error> {
    Ok(1)
}

#[rate_limit(rate = 10, shared = 1)]
async fn limiter() -> Result<u32, resilience::Error> {
    Ok(1)
}

#[circuit_breaker(shared = "true")]
async fn quoted() -> Result<u32, resilience::Error> {
    Ok(1)
}

fn main() {}
