use resilience::bulkhead;

#[bulkhead(max = 2, key)]
async fn fetch(tenant: u64) -> Result<u64, resilience::Error> {
    Ok(tenant)
}

fn main() {}
