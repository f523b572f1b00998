use resilience::retry;

#[retry(delay = 100)]
async fn fetch() -> Result<u32, String> {
    Ok(1)
}

fn main() {}
