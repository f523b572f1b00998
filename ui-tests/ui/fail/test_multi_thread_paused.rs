#[resilience::test(flavor = "multi_thread", worker_threads = 2)]
async fn checks_the_breaker() {
    assert!(resilience::registry().circuit_breaker("none").is_none());
}

fn main() {}
