use resilience::chaos;

fn boom() -> String {
    "boom".to_owned()
}

#[chaos(fault_rate = 0.1, error = boom)]
async fn fetch() -> Result<u32, std::io::Error> {
    Ok(1)
}

fn main() {}
