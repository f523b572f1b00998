use resilience::resilient;

#[resilient(policy = "payment-service")]
async fn charge() -> u32 {
    1
}

#[resilient(policy = "payment-service")]
async fn refund() {}

fn main() {}
