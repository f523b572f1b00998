use resilience::{bulkhead, retry};

#[retry(crate = "not a path!")]
async fn fetch() -> Result<u32, String> {
    Ok(1)
}

#[bulkhead(max = 1, crate = my_facade::resilience)]
async fn unquoted() -> Result<u32, resilience::Error> {
    Ok(1)
}

fn main() {}
