use resilience::chaos;

#[chaos(fault_rate = 0.1, error = "boom")]
async fn fetch() -> Result<u32, resilience::Error> {
    Ok(1)
}

fn main() {}
