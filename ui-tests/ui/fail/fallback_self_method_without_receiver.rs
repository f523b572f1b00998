use resilience::fallback;

struct Prices;

impl Prices {
    fn cached(&self, _error: resilience::Error) -> Result<u32, resilience::Error> {
        Ok(0)
    }

    // No `self` to call `self.cached` on.
    #[fallback(self.cached)]
    async fn latest() -> Result<u32, resilience::Error> {
        Ok(1)
    }

    // Not a path nor a method of `self`.
    #[fallback(cached())]
    async fn current(&self) -> Result<u32, resilience::Error> {
        Ok(1)
    }
}

fn main() {}
