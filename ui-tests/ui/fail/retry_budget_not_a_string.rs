use resilience::retry;

#[retry(max_attempts = 3, budget = api)]
async fn fetch() -> Result<u32, std::io::Error> {
    Ok(1)
}

#[retry(max_attempts = 3, retry_budget = "api")]
async fn other() -> Result<u32, std::io::Error> {
    Ok(1)
}

fn main() {}
