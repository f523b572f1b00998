use resilience::rate_limit;

#[rate_limit(rate = 10, max_keys = 100, key_idle = "1m")]
async fn fetch(user: u64) -> Result<u64, resilience::Error> {
    Ok(user)
}

fn main() {}
