use resilience::timeout;

#[timeout(duration = "5 parsecs")]
async fn fetch() -> Result<u32, resilience::Error> {
    Ok(1)
}

fn main() {}
