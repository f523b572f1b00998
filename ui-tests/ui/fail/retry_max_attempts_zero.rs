use resilience::retry;

#[retry(max_attempts = 0)]
async fn fetch() -> Result<u32, String> {
    Ok(1)
}

fn main() {}
