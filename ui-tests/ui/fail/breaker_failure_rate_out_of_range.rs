use resilience::circuit_breaker;

#[circuit_breaker(failure_rate = 1.5)]
async fn fetch() -> Result<u32, resilience::Error> {
    Ok(1)
}

fn main() {}
