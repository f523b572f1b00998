use resilience::circuit_breaker;

#[circuit_breaker(failure_rate = 0.5, window = 0)]
async fn zero() -> Result<u32, resilience::Error> {
    Ok(1)
}

#[circuit_breaker(failure_rate = 0.5, window = "a minute")]
async fn unparsable() -> Result<u32, resilience::Error> {
    Ok(1)
}

fn main() {}
