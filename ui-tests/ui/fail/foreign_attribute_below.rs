use resilience::{circuit_breaker, retry};

// `#[tracing::instrument]` between two resilience attributes would wrap the whole stack, not
// each attempt: a compile error says where to write it.
#[retry(max_attempts = 3)]
#[tracing::instrument]
#[circuit_breaker]
async fn fetch(id: u64) -> Result<u64, resilience::Error> {
    Ok(id)
}

fn main() {}
