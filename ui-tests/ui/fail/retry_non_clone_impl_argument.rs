use resilience::{fallback, retry};

// An `impl Trait` argument that is not `Clone`: the fix is a bound.
#[retry(max_attempts = 3)]
async fn charge(account: impl AsRef<str>) -> Result<usize, resilience::Error> {
    Ok(account.as_ref().len())
}

fn cached(_account: impl AsRef<str>, _error: resilience::Error) -> Result<usize, resilience::Error> {
    Ok(0)
}

#[fallback(cached)]
async fn balance(account: impl AsRef<str>) -> Result<usize, resilience::Error> {
    Ok(account.as_ref().len())
}

fn main() {}
