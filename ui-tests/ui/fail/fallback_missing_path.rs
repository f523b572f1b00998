use resilience::fallback;

fn is_outage(_: &resilience::Error) -> bool {
    true
}

#[fallback(fallback_if = is_outage)]
async fn fetch() -> Result<u32, resilience::Error> {
    Ok(1)
}

fn main() {}
