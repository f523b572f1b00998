use resilience::retry;

#[retry(backoff = "fixed", delays = ["100ms", "1s"])]
async fn fetch() -> Result<u32, String> {
    Ok(1)
}

// Written the other way round, the error still spans the key written second.
#[retry(delays = ["100ms", "1s"], factor = 3.0)]
async fn fetch_again() -> Result<u32, String> {
    Ok(1)
}

fn main() {}
