use resilience::rate_limit;

#[rate_limit(per = "1s", burst = 10)]
async fn send() -> Result<u32, resilience::Error> {
    Ok(1)
}

fn main() {}
