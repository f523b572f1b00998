use resilience::rate_limit;

// `f64` is neither `Hash` nor `Eq`: the error points at the key expression.
#[rate_limit(rate = 10, key = latitude)]
async fn nearby(latitude: f64) -> Result<f64, resilience::Error> {
    Ok(latitude)
}

fn main() {}
