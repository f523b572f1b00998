use resilience::bulkhead;

#[bulkhead(max = 0)]
async fn fetch() -> Result<u32, resilience::Error> {
    Ok(1)
}

fn main() {}
