use resilience::retry;

#[retry]
async fn fetch() -> (u32, String) {
    (1, String::new())
}

fn main() {}
