use resilience::circuit_breaker;

#[circuit_breaker(half_open_timeout = "0s")]
async fn fetch() -> Result<u32, resilience::Error> {
    Ok(1)
}

#[circuit_breaker(half_open_timout = "5s")]
async fn misspelt() -> Result<u32, resilience::Error> {
    Ok(1)
}

fn main() {}
