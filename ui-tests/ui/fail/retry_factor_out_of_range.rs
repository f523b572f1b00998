use resilience::retry;

#[retry(factor = 0.5)]
async fn fetch() -> Result<u32, String> {
    Ok(1)
}

fn main() {}
