use resilience::retry;

trait Repository {
    // A declaration has no body to wrap.
    #[retry(max_attempts = 3)]
    async fn find(&self, id: u64) -> Result<String, resilience::Error>;
}

fn main() {}
