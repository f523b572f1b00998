#[resilience::test]
fn checks_the_breaker() {
    assert!(resilience::registry().circuit_breaker("none").is_none());
}

fn main() {}
