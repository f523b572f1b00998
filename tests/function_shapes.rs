//! Every function shape the attributes support keeps compiling and behaving: methods with each
//! receiver, trait impls, generics, `impl Trait` arguments, lifetimes, result aliases, `Send`.

mod common;

use std::fmt::Display;
use std::sync::Arc;
use std::time::Duration;

use common::{AppError, Runs};
use resilience::{bulkhead, circuit_breaker, registry, retry, timeout};

struct Service {
    runs: Runs,
    log: Vec<String>,
}

impl Service {
    /// Docs and visibility are kept.
    #[retry(max_attempts = 3, backoff = "none")]
    #[circuit_breaker]
    pub async fn by_ref(&self, succeed_on: u32) -> Result<u32, AppError> {
        let n = self.runs.tick();
        if n >= succeed_on {
            Ok(n)
        } else {
            Err(AppError::Down("by_ref"))
        }
    }

    #[retry(max_attempts = 3, backoff = "none")]
    async fn by_mut(&mut self, line: String) -> Result<usize, AppError> {
        self.log.push(line);
        if self.log.len() < 2 {
            return Err(AppError::Down("by_mut"));
        }
        Ok(self.log.len())
    }

    #[timeout(ms = 100)]
    async fn by_arc(self: Arc<Self>) -> Result<u32, AppError> {
        Ok(self.runs.tick())
    }

    #[retry(max_attempts = 2, backoff = "none")]
    async fn by_value(self) -> Result<u32, AppError> {
        Ok(self.runs.tick())
    }

    #[bulkhead(max = 1)]
    async fn associated(x: u32) -> Result<u32, AppError> {
        Ok(x)
    }
}

#[tokio::test]
async fn methods_with_every_receiver() {
    let mut service = Service {
        runs: Runs::new(),
        log: Vec::new(),
    };
    assert_eq!(service.by_ref(2).await, Ok(2));
    assert_eq!(service.by_mut("a".to_owned()).await, Ok(2));
    assert_eq!(service.log, ["a", "a"]);
    let shared = Arc::new(service);
    assert_eq!(Arc::clone(&shared).by_arc().await, Ok(3));
    let owned = Arc::into_inner(shared).unwrap();
    assert_eq!(owned.by_value().await, Ok(4));
    assert_eq!(Service::associated(7).await, Ok(7));
    // A method's policies are named after its type.
    assert!(registry()
        .circuit_breaker("function_shapes::Service::by_ref")
        .is_some());
    assert!(registry()
        .bulkhead("function_shapes::Service::associated")
        .is_some());
}

trait Repository {
    async fn find(&self, id: u64) -> Result<String, AppError>;
}

struct Memory;

impl Repository for Memory {
    #[retry(max_attempts = 2, backoff = "none")]
    #[timeout(ms = 50)]
    async fn find(&self, id: u64) -> Result<String, AppError> {
        Ok(format!("user {id}"))
    }
}

#[tokio::test]
async fn trait_impl_methods() {
    assert_eq!(Memory.find(7).await, Ok("user 7".to_owned()));
}

#[retry(max_attempts = 2, backoff = "none")]
#[circuit_breaker(name = "shape-generic")]
async fn generic<T, U>(value: T, label: &U) -> Result<String, AppError>
where
    T: Display + Clone + Send,
    U: Display + ?Sized,
{
    Ok(format!("{label}={value}"))
}

#[timeout(ms = 10)]
async fn impl_trait_arg(items: impl IntoIterator<Item = u32>) -> Result<u32, AppError> {
    Ok(items.into_iter().sum())
}

#[retry(max_attempts = 2, backoff = "none")]
async fn retried_impl_trait(make: impl Fn() -> u32 + Clone) -> Result<u32, AppError> {
    Ok(make())
}

#[timeout(ms = 10)]
async fn borrowed<'a>(text: &'a str, _other: &str) -> Result<&'a str, AppError> {
    Ok(text.trim())
}

#[timeout(ms = 10)]
async fn returns_impl_trait() -> Result<impl Display, AppError> {
    Ok(42)
}

type AppResult<T> = Result<T, AppError>;

#[circuit_breaker]
async fn aliased() -> AppResult<u8> {
    Ok(1)
}

#[bulkhead(max = 3)]
async fn boxed_error() -> Result<u8, Box<dyn std::error::Error + Send + Sync>> {
    let n: u8 = "7".parse()?;
    Ok(n)
}

#[timeout(ms = 10)]
async fn anyhow_result() -> anyhow::Result<u8> {
    Ok(3)
}

#[tokio::test]
async fn generic_borrowing_and_aliased_functions() {
    assert_eq!(generic(3, "x").await, Ok("x=3".to_owned()));
    assert_eq!(impl_trait_arg(vec![1, 2, 3]).await, Ok(6));
    assert_eq!(retried_impl_trait(|| 5).await, Ok(5));
    assert_eq!(borrowed("  hi ", "").await, Ok("hi"));
    assert_eq!(returns_impl_trait().await.unwrap().to_string(), "42");
    assert_eq!(aliased().await, Ok(1));
    assert_eq!(boxed_error().await.unwrap(), 7);
    assert_eq!(anyhow_result().await.unwrap(), 3);
}

#[retry(max_attempts = 3, jitter)]
#[circuit_breaker(name = "shape-send")]
#[timeout(ms = 5000)]
#[bulkhead(max = 10)]
async fn sendable(value: String) -> Result<String, AppError> {
    tokio::time::sleep(Duration::from_millis(1)).await;
    Ok(value)
}

fn assert_send<F: std::future::Future + Send + 'static>(future: F) -> F {
    future
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_future_stays_send_and_spawns() {
    let handle = tokio::spawn(assert_send(sendable("spawned".to_owned())));
    assert_eq!(handle.await.unwrap(), Ok("spawned".to_owned()));
}
