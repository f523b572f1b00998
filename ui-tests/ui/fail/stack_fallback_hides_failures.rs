use resilience::{circuit_breaker, fallback, retry};

fn cached(_id: u64, _error: resilience::Error) -> Result<u64, resilience::Error> {
    Ok(0)
}

// The fallback answers every failure before the breaker sees it: the breaker never opens.
#[circuit_breaker(name = "prices")]
#[fallback(cached)]
async fn price(id: u64) -> Result<u64, resilience::Error> {
    Ok(id)
}

// The same below a retry: the retry never retries.
#[retry(max_attempts = 3)]
#[fallback(cached)]
async fn quote(id: u64) -> Result<u64, resilience::Error> {
    Ok(id)
}

fn is_outage(_error: &resilience::Error) -> bool {
    true
}

// With `fallback_if` it is legitimate: no error here.
#[circuit_breaker(name = "stock")]
#[fallback(cached, fallback_if = is_outage)]
async fn stock(id: u64) -> Result<u64, resilience::Error> {
    Ok(id)
}

fn main() {}
