use resilience::resilient;

#[resilient]
async fn charge() -> Result<u32, resilience::Error> {
    Ok(1)
}

#[resilient(crate = "resilience")]
async fn refund() -> Result<u32, resilience::Error> {
    Ok(1)
}

fn main() {}
