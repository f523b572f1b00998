use resilience::bulkhead;

#[bulkhead(max = 1)]
struct Pool;

fn main() {}
