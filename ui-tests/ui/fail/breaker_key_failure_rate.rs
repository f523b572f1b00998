use resilience::circuit_breaker;

#[circuit_breaker(key = host, failure_rate = 0.5, window = 20)]
async fn fetch(host: u64) -> Result<u64, resilience::Error> {
    Ok(host)
}

fn main() {}
