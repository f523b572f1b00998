use resilience::retry;

#[retry(backoff = "fixed", factor = 3.0)]
async fn fetch() -> Result<u32, String> {
    Ok(1)
}

fn main() {}
