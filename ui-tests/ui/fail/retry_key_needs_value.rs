use resilience::retry;

#[retry(max_attempts)]
async fn fetch() -> Result<u32, String> {
    Ok(1)
}

fn main() {}
