use resilience::{circuit_breaker, fallback};

/// Answers with an `Option` the function does not return.
fn cached(_id: u64, _error: resilience::Error) -> Result<Option<u32>, resilience::Error> {
    Ok(None)
}

#[fallback(cached)]
#[circuit_breaker]
async fn fetch(id: u64) -> Result<u32, resilience::Error> {
    Ok(id as u32)
}

/// An async fallback with the wrong output.
async fn cached_async(_id: u64, _error: resilience::Error) -> Result<String, resilience::Error> {
    Ok(String::new())
}

#[fallback(cached_async)]
async fn load(id: u64) -> Result<u32, resilience::Error> {
    Ok(id as u32)
}

fn main() {}
