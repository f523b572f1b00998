use resilience::bulkhead;

// `f64` is neither `Hash` nor `Eq`: the error points at the key expression, and nothing else
// reports it again.
#[bulkhead(max = 2, key = latitude)]
async fn nearby(latitude: f64) -> Result<f64, resilience::Error> {
    Ok(latitude)
}

fn main() {}
