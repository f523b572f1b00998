use resilience::bulkhead;

#[bulkhead(max = 2, max_keys = 10)]
async fn fetch(tenant: u64) -> Result<u64, resilience::Error> {
    Ok(tenant)
}

fn main() {}
