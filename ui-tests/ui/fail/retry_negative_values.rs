use resilience::retry;

#[retry(max_attempts = -1, jitter = -0.5)]
async fn fetch() -> Result<u32, String> {
    Ok(1)
}

fn main() {}
