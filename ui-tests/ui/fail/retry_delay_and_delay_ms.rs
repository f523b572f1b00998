use resilience::retry;

#[retry(delay = "100ms", delay_ms = 100)]
async fn fetch() -> Result<u32, String> {
    Ok(1)
}

fn main() {}
