use resilience::circuit_breaker;

// `f64` is neither `Hash` nor `Eq`: the error points at the key expression.
#[circuit_breaker(key = latitude)]
async fn nearby(latitude: f64) -> Result<f64, resilience::Error> {
    Ok(latitude)
}

fn main() {}
