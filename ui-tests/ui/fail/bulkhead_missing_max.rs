use resilience::bulkhead;

#[bulkhead(queue = 5)]
async fn fetch() -> Result<u32, resilience::Error> {
    Ok(1)
}

fn main() {}
