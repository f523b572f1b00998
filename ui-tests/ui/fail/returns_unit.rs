use resilience::timeout;

#[timeout(ms = 100)]
async fn fetch() {}

fn main() {}
