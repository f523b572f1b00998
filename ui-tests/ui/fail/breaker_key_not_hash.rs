use resilience::circuit_breaker;

// `f64` is neither `Hash` nor `Eq`: the error points at the key expression, and nothing else
// reports it again (no error on the permit's methods).
#[circuit_breaker(key = latitude)]
async fn nearby(latitude: f64) -> Result<f64, resilience::Error> {
    Ok(latitude)
}

fn main() {}
