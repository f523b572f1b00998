use resilience::bulkhead;

#[bulkhead(max = 2, capacity = 10)]
async fn fetch() -> Result<u32, resilience::Error> {
    Ok(1)
}

fn main() {}
