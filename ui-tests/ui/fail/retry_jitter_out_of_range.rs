use resilience::retry;

#[retry(jitter = 1.5)]
async fn fetch() -> Result<u32, String> {
    Ok(1)
}

fn main() {}
