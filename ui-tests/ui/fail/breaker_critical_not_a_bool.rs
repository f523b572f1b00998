use resilience::circuit_breaker;

#[circuit_breaker(critical = "yes")]
async fn fetch() -> Result<u32, resilience::Error> {
    Ok(1)
}

#[circuit_breaker(critical = "true")]
async fn quoted() -> Result<u32, resilience::Error> {
    Ok(1)
}

#[circuit_breaker(failure_threshold = 3, critical = 1)]
async fn numbered() -> Result<u32, resilience::Error> {
    Ok(1)
}

fn main() {}
