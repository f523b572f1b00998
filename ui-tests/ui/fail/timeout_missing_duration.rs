use resilience::timeout;

#[timeout]
async fn bare() -> Result<u32, resilience::Error> {
    Ok(1)
}

#[timeout(name = "db")]
async fn named_only() -> Result<u32, resilience::Error> {
    Ok(1)
}

fn main() {}
