use resilience::resilient;

#[resilient(policy = 42)]
async fn charge() -> Result<u32, resilience::Error> {
    Ok(1)
}

#[resilient(policy = "  ")]
async fn refund() -> Result<u32, resilience::Error> {
    Ok(1)
}

#[resilient(policy = payments)]
async fn capture() -> Result<u32, resilience::Error> {
    Ok(1)
}

#[resilient(policy = "payments", policy = "billing")]
async fn void() -> Result<u32, resilience::Error> {
    Ok(1)
}

fn main() {}
