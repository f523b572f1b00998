use resilience::{bulkhead, retry, timeout};

#[retry(max_attempts = 0)]
#[timeout(ms = 0)]
#[bulkhead(max = 0)]
async fn fetch() -> Result<u32, resilience::Error> {
    Ok(1)
}

fn main() {}
