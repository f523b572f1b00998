use resilience::circuit_breaker;

#[circuit_breaker(key)]
async fn fetch(host: u64) -> Result<u64, resilience::Error> {
    Ok(host)
}

fn main() {}
