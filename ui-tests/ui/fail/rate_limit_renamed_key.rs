use resilience::rate_limit;

#[rate_limit(limit = 100, period = "1s")]
async fn send() -> Result<u32, resilience::Error> {
    Ok(1)
}

fn main() {}
