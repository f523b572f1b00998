use resilience::fallback;

fn cached(_pair: (u32, u32), _error: resilience::Error) -> Result<u32, resilience::Error> {
    Ok(0)
}

#[fallback(cached)]
async fn fetch((a, b): (u32, u32)) -> Result<u32, resilience::Error> {
    Ok(a + b)
}

fn main() {}
