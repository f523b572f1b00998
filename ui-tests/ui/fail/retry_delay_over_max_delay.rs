use resilience::retry;

// The default cap of 30s would cut every delay.
#[retry(backoff = "fixed", delay = "1m")]
async fn fetch() -> Result<u32, String> {
    Ok(1)
}

#[retry(delay = "200ms", max_delay_ms = 100)]
async fn capped() -> Result<u32, String> {
    Ok(1)
}

#[retry(delays = ["1s", "1m"])]
async fn scheduled() -> Result<u32, String> {
    Ok(1)
}

fn main() {}
