use resilience::{retry, timeout};

#[retry(max_attempts = 3)]
#[timeout(ms = 100)]
#[retry(max_attempts = 5)]
async fn fetch() -> Result<u32, resilience::Error> {
    Ok(1)
}

#[timeout(ms = 100)]
#[resilience::timeout(ms = 200)]
async fn fetch_again() -> Result<u32, resilience::Error> {
    Ok(1)
}

fn main() {}
