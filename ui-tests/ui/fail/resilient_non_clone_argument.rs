use resilience::resilient;

struct Connection;

#[resilient(policy = "payment-service")]
async fn charge(connection: Connection, amount: u64) -> Result<u64, resilience::Error> {
    let _ = connection;
    Ok(amount)
}

fn main() {}
