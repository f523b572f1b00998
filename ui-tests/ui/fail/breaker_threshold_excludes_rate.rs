use resilience::circuit_breaker;

#[circuit_breaker(failure_threshold = 5, failure_rate = 0.5)]
async fn fetch() -> Result<u32, resilience::Error> {
    Ok(1)
}

fn main() {}
