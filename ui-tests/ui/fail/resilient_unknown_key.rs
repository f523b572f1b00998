use resilience::resilient;

#[resilient(polcy = "payment-service")]
async fn charge() -> Result<u32, resilience::Error> {
    Ok(1)
}

#[resilient(name = "payment-service")]
async fn refund() -> Result<u32, resilience::Error> {
    Ok(1)
}

#[resilient(policy = "payment-service", max_attempts = 3)]
async fn capture() -> Result<u32, resilience::Error> {
    Ok(1)
}

fn main() {}
