use resilience::retry;

// Too large for the attempt counter.
#[retry(max_attempts = 5000000000)]
async fn fetch() -> Result<u32, String> {
    Ok(1)
}

fn main() {}
