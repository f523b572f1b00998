use resilience::{retry, timeout};

// The timeout bounds all attempts, and fires before the first retry's sleep ends.
#[timeout(ms = 200)]
#[retry(max_attempts = 3, delay = "500ms")]
async fn fetch(id: u64) -> Result<u64, resilience::Error> {
    Ok(id)
}

// The default first delay (100ms) counts too.
#[timeout(ms = 100)]
#[retry]
async fn load(id: u64) -> Result<u64, resilience::Error> {
    Ok(id)
}

// Fine: the timeout leaves room for a second attempt; or it bounds each attempt (below).
#[timeout(secs = 2)]
#[retry(max_attempts = 3, delay = "500ms")]
async fn roomy(id: u64) -> Result<u64, resilience::Error> {
    Ok(id)
}

#[retry(max_attempts = 3, delay = "500ms")]
#[timeout(ms = 200)]
async fn per_attempt(id: u64) -> Result<u64, resilience::Error> {
    Ok(id)
}

fn main() {}
