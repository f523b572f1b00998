use resilience::rate_limit;

#[rate_limit(rate = 0)]
async fn send() -> Result<u32, resilience::Error> {
    Ok(1)
}

fn main() {}
