use resilience::retry;

#[retry(colour = "red")]
async fn fetch() -> Result<u32, String> {
    Ok(1)
}

fn main() {}
