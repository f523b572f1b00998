use resilience::chaos;

#[chaos(fault_rate = 1.5, latency = "200ms", latency_rate = -0.1)]
async fn fetch() -> Result<u32, resilience::Error> {
    Ok(1)
}

fn main() {}
