use resilience::{circuit_breaker, retry};

// An attribute macro above the stack wraps all of it, as written; inert attributes anywhere are
// fine.
#[tracing::instrument]
#[retry(max_attempts = 3)]
#[allow(clippy::unused_async)]
#[circuit_breaker]
#[doc = "Fetches."]
async fn fetch(id: u64) -> Result<u64, resilience::Error> {
    Ok(id)
}

fn main() {
    let _ = fetch(1);
}
