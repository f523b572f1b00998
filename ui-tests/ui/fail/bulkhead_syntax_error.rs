use resilience::bulkhead;

// A malformed `max` is reported once, not also as missing.
#[bulkhead(max 10, queue = -1)]
async fn fetch() -> Result<u32, resilience::Error> {
    Ok(1)
}

fn main() {}
