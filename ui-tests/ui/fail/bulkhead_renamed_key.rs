use resilience::bulkhead;

// A name other libraries use points to ours.
#[bulkhead(max_concurrent = 10)]
async fn fetch() -> Result<u32, resilience::Error> {
    Ok(1)
}

fn main() {}
