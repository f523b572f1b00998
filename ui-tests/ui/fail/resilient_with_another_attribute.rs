use resilience::{fallback, resilient, retry, timeout};

#[resilient(policy = "payment-service")]
#[retry(max_attempts = 2)]
async fn charge() -> Result<u32, resilience::Error> {
    Ok(1)
}

#[timeout(ms = 100)]
#[resilient(policy = "payment-service")]
async fn refund() -> Result<u32, resilience::Error> {
    Ok(1)
}

fn cached(_error: resilience::Error) -> Result<u32, resilience::Error> {
    Ok(0)
}

#[resilient(policy = "payment-service")]
#[fallback(cached)]
async fn balance() -> Result<u32, resilience::Error> {
    Ok(1)
}

#[resilient(policy = "payment-service")]
#[resilience::resilient(policy = "billing")]
async fn capture() -> Result<u32, resilience::Error> {
    Ok(1)
}

fn main() {}
