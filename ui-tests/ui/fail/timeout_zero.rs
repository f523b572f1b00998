use resilience::timeout;

#[timeout(ms = 0)]
async fn fetch() -> Result<u32, resilience::Error> {
    Ok(1)
}

fn main() {}
