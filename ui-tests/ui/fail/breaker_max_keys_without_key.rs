use resilience::circuit_breaker;

#[circuit_breaker(max_keys = 100, key_idle = "1m")]
async fn fetch(host: u64) -> Result<u64, resilience::Error> {
    Ok(host)
}

fn main() {}
