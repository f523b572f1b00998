use resilience::retry;

#[retry(backoff = "exponentail")]
async fn fetch() -> Result<u32, String> {
    Ok(1)
}

fn main() {}
