use resilience::hedge;

#[hedge(delay = "50ms", max_hedged = 0)]
async fn fetch() -> Result<u32, resilience::Error> {
    Ok(1)
}

fn main() {}
