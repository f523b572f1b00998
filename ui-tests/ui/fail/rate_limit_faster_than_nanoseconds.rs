use resilience::rate_limit;

#[rate_limit(rate = 2000, per_ms = 0, wait = "soon")]
async fn send() -> Result<u32, resilience::Error> {
    Ok(1)
}

#[rate_limit(rate = 2000, per = "1us")]
async fn flood() -> Result<u32, resilience::Error> {
    Ok(1)
}

fn main() {}
