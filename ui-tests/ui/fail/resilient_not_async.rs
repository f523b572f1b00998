use resilience::resilient;

#[resilient(policy = "payment-service")]
fn charge() -> Result<u32, resilience::Error> {
    Ok(1)
}

fn main() {}
