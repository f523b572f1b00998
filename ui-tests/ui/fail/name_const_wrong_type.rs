use resilience::circuit_breaker;

const LIMIT: u32 = 5;

// A `const` name must be a `&str`.
#[circuit_breaker(name = LIMIT)]
async fn fetch() -> Result<u32, resilience::Error> {
    Ok(1)
}

fn main() {}
