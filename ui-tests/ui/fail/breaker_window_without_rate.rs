use resilience::circuit_breaker;

#[circuit_breaker(window = 50, min_calls = 10)]
async fn fetch() -> Result<u32, resilience::Error> {
    Ok(1)
}

fn main() {}
