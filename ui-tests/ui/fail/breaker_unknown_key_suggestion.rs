use resilience::circuit_breaker;

#[circuit_breaker(failure_treshold = 3)]
async fn fetch() -> Result<u32, resilience::Error> {
    Ok(1)
}

fn main() {}
