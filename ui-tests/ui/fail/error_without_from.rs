use resilience::circuit_breaker;

#[derive(Debug)]
struct ApiError;

#[circuit_breaker(name = "api")]
async fn fetch() -> Result<u32, ApiError> {
    Ok(1)
}

fn main() {}
