use resilience::fallback;

#[fallback("cached")]
async fn fetch() -> Result<u32, resilience::Error> {
    Ok(1)
}

fn main() {}
