use resilience::circuit_breaker;

#[circuit_breaker(failure_threshold = 0, half_open_max_calls = 0, success_threshold = 0, slow_call = "0s")]
async fn fetch() -> Result<u32, resilience::Error> {
    Ok(1)
}

fn main() {}
