use resilience::rate_limit;

#[rate_limit(rate = 10, key = user, shared)]
async fn fetch(user: u64) -> Result<u64, resilience::Error> {
    Ok(user)
}

fn main() {}
