use resilience::chaos;

#[chaos(failure_rate = 0.1, delay = "1s")]
async fn fetch() -> Result<u32, resilience::Error> {
    Ok(1)
}

fn main() {}
