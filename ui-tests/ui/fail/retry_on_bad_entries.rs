use resilience::retry;

// An unknown rejection (with the closest one suggested), one named twice, a list that is not one.
#[retry(retry_on = ["timeouts", "rate_limited", "rate_limited"])]
async fn fetch(id: u64) -> Result<u64, resilience::Error> {
    Ok(id)
}

#[retry(retry_on = "timeout")]
async fn load(id: u64) -> Result<u64, resilience::Error> {
    Ok(id)
}

fn main() {}
