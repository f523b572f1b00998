use resilience::retry;

#[retry(max_atempts = 3, delay = "soon", factor = 0.5, jitter = 2.0, name = "")]
async fn fetch() -> Result<u32, String> {
    Ok(1)
}

fn main() {}
