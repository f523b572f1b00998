use resilience::timeout;

#[timeout(ms = 500, secs = 1)]
async fn fetch() -> Result<u32, resilience::Error> {
    Ok(1)
}

#[timeout(duration = "1s", ms = 500)]
async fn fetch_again() -> Result<u32, resilience::Error> {
    Ok(1)
}

fn main() {}
