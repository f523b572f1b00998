use resilience::retry;

#[retry(backoff = "none", delay = "1s")]
async fn fetch() -> Result<u32, String> {
    Ok(1)
}

fn main() {}
