use resilience::bulkhead;

#[bulkhead(max = 2, queue_timeout = "1s")]
async fn fetch() -> Result<u32, resilience::Error> {
    Ok(1)
}

fn main() {}
