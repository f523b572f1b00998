use resilience::hedge;

#[hedge(delay = "50ms", budget = " ")]
async fn fetch() -> Result<u32, resilience::Error> {
    Ok(1)
}

fn main() {}
