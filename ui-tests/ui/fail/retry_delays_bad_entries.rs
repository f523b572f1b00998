use resilience::retry;

#[retry(delays = [])]
async fn empty() -> Result<u32, String> {
    Ok(1)
}

#[retry(delays = [100, "later", "1s"])]
async fn bad_entries() -> Result<u32, String> {
    Ok(1)
}

fn main() {}
