use resilience::retry;

// A malformed argument does not hide the mistakes in the others.
#[retry(max_attempts 3, factor = 0.5)]
async fn fetch() -> Result<u32, String> {
    Ok(1)
}

fn main() {}
