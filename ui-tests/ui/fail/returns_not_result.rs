use resilience::timeout;

#[timeout(ms = 100)]
async fn fetch() -> u32 {
    1
}

fn main() {}
