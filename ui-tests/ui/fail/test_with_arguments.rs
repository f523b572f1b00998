#[resilience::test]
async fn checks_the_breaker(name: &str, retries: u32) {
    assert!(resilience::registry().circuit_breaker(name).is_none());
    assert!(retries > 0);
}

fn main() {}
