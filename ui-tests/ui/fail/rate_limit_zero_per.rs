use resilience::rate_limit;

#[rate_limit(rate = 5, per = "0s")]
async fn send() -> Result<u32, resilience::Error> {
    Ok(1)
}

fn main() {}
