//! The attributes on methods of an `#[async_trait]` trait or impl. `#[async_trait]` expands first
//! and turns each `async fn` into a `fn` returning a boxed future; the attributes then wrap the
//! boxed `async` block, so the policies act exactly as on a plain `async fn`. `#[resilient]`
//! does the same with its composite.

mod common;

use std::sync::Arc;

use async_trait::async_trait;
use common::{AppError, Runs};
use resilience::{circuit_breaker, registry, retry, timeout, CircuitState};

#[async_trait]
trait Repository: Send + Sync {
    async fn find(&self, id: u64) -> Result<String, AppError>;

    async fn save(&self, id: u64, body: String) -> Result<usize, AppError>;

    #[circuit_breaker(failure_threshold = 1)]
    async fn ping(&self) -> Result<(), AppError> {
        Err(AppError::Down("ping"))
    }
}

struct Postgres {
    runs: Runs,
}

#[async_trait]
impl Repository for Postgres {
    #[retry(max_attempts = 3, backoff = "none")]
    #[timeout(ms = 100)]
    async fn find(&self, id: u64) -> Result<String, AppError> {
        if self.runs.tick() < 3 {
            return Err(AppError::Down("find"));
        }
        Ok(format!("row {id}"))
    }

    #[retry(max_attempts = 2, backoff = "none")]
    async fn save(&self, id: u64, body: String) -> Result<usize, AppError> {
        // `body` is moved: each attempt gets its own.
        let owned: String = body;
        if self.runs.tick() % 2 == 1 {
            return Err(AppError::Down("save"));
        }
        Ok(owned.len() + id as usize)
    }
}

#[tokio::test]
async fn policies_wrap_an_async_trait_method() {
    let repo: Arc<dyn Repository> = Arc::new(Postgres { runs: Runs::new() });
    assert_eq!(repo.find(7).await, Ok("row 7".to_owned()));
    let retry = registry()
        .retry("async_trait_impls::Postgres::find")
        .expect("the retry is registered under the implementing type");
    assert_eq!(retry.stats().retries, 2);

    // The future stays `Send`, as `#[async_trait]` requires: it runs on a spawned task.
    let saved = tokio::spawn({
        let repo = Arc::clone(&repo);
        async move { repo.save(1, "abc".to_owned()).await }
    })
    .await
    .unwrap();
    assert_eq!(saved, Ok(4));
}

#[tokio::test]
async fn a_default_method_of_an_async_trait_has_a_breaker_per_implementor() {
    let repo = Postgres { runs: Runs::new() };
    assert!(repo.ping().await.is_err());
    assert_eq!(
        registry()
            .circuit_breaker("async_trait_impls::Postgres::ping")
            .unwrap()
            .state(),
        CircuitState::Open
    );
}

#[async_trait]
trait Ledger: Send + Sync {
    async fn post(&self, entry: String) -> Result<usize, AppError>;
}

struct Books {
    runs: Runs,
}

#[async_trait]
impl Ledger for Books {
    #[resilience::resilient(policy = "async-trait-composite")]
    async fn post(&self, entry: String) -> Result<usize, AppError> {
        if self.runs.tick() < 2 {
            return Err(AppError::Down("post"));
        }
        Ok(entry.len())
    }
}

#[tokio::test]
async fn a_composite_wraps_the_boxed_future() {
    registry()
        .register_pipeline(
            resilience::Pipeline::builder("async-trait-composite")
                .retry(|retry| retry.max_attempts(3).no_backoff()),
        )
        .unwrap();
    let books: Arc<dyn Ledger> = Arc::new(Books { runs: Runs::new() });
    assert_eq!(books.post("rent".to_owned()).await, Ok(4));
    let retry = registry().retry("async-trait-composite").unwrap();
    assert_eq!(retry.stats().successes_after_retry, 1);
}
