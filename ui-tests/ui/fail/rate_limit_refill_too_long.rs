use resilience::rate_limit;

// `burst` defaults to `rate`: a full bucket would take 150 years to refill.
#[rate_limit(rate = 1, per = "150years")]
async fn send() -> Result<u32, resilience::Error> {
    Ok(1)
}

#[rate_limit(rate = 1, per = "1y", burst = 101)]
async fn hoard() -> Result<u32, resilience::Error> {
    Ok(1)
}

fn main() {}
