use resilience::fallback;

fn cached(_: resilience::Error) -> Result<u32, resilience::Error> {
    Ok(0)
}

fn is_outage(_: &resilience::Error) -> bool {
    true
}

#[fallback(cached, when = is_outage)]
async fn fetch() -> Result<u32, resilience::Error> {
    Ok(1)
}

fn main() {}
