use resilience::fallback;

/// Misses the `id` argument the annotated function takes.
fn cached(_error: resilience::Error) -> Result<u32, resilience::Error> {
    Ok(0)
}

#[fallback(cached)]
async fn fetch(id: u64) -> Result<u32, resilience::Error> {
    Ok(id as u32)
}

fn main() {}
