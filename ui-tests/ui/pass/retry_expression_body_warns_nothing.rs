// A retried body that is one expression (the whole block its tail): the expansion splices the
// block's statements, so rustc sees no block in a block and warns nothing (`unused_braces` at
// the user's braces, with rustc 1.95, before).
#![deny(warnings)]

use resilience::{bulkhead, circuit_breaker, retry, timeout};

#[retry(max_attempts = 3)]
#[circuit_breaker(name = "expression-body")]
#[timeout(ms = 100)]
#[bulkhead(max = 10)]
pub async fn add_one(x: u64) -> Result<u64, resilience::Error> {
    Ok(x + 1)
}

#[retry(max_attempts = 2)]
pub async fn echo(text: String) -> Result<String, resilience::Error> {
    Ok(text)
}

fn main() {}
