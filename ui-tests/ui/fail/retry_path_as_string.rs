use resilience::retry;

fn is_transient(_: &String) -> bool {
    true
}

#[retry(retry_if = "is_transient")]
async fn fetch() -> Result<u32, String> {
    Ok(1)
}

fn main() {}
