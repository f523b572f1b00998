use resilience::circuit_breaker;

#[circuit_breaker(name = api)]
async fn unquoted() -> Result<u32, resilience::Error> {
    Ok(1)
}

#[circuit_breaker(name = "  ")]
async fn blank() -> Result<u32, resilience::Error> {
    Ok(1)
}

fn main() {}
