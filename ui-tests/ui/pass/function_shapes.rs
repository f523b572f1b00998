//! Every function shape keeps compiling: methods with each receiver, trait impls, generics with
//! `where` clauses, lifetimes, `impl Trait` arguments and returns, patterns and `mut` bindings in
//! arguments, result aliases, `anyhow::Result`, `io::Result`, boxed errors; and the futures stay
//! `Send`.

use std::fmt::Display;
use std::future::Future;
use std::sync::Arc;

use resilience::{bulkhead, circuit_breaker, retry, timeout, Error};

#[derive(Debug, Clone, PartialEq)]
pub struct AppError(String);

impl From<Error> for AppError {
    fn from(err: Error) -> Self {
        AppError(err.to_string())
    }
}

pub struct Service {
    calls: u32,
}

impl Service {
    /// Docs, visibility and other attributes are kept.
    #[must_use = "the reply is the point"]
    #[retry(max_attempts = 2, backoff = "none")]
    #[circuit_breaker]
    pub async fn by_ref(&self, id: u64) -> Result<String, AppError> {
        Ok(format!("{id}:{}", self.calls))
    }

    #[retry(max_attempts = 2, backoff = "none")]
    pub(crate) async fn by_mut(&mut self, mut line: String) -> Result<u32, AppError> {
        line.push('!');
        self.calls += 1;
        Ok(self.calls)
    }

    #[timeout(ms = 100)]
    async fn by_arc(self: Arc<Self>) -> Result<u32, AppError> {
        Ok(self.calls)
    }

    #[bulkhead(max = 1)]
    async fn by_value(self) -> Result<u32, AppError> {
        Ok(self.calls)
    }

    #[retry(max_attempts = 2)]
    async fn associated(x: u32) -> Result<u32, AppError> {
        Ok(x)
    }

    #[circuit_breaker]
    async fn returns_self() -> Result<Self, AppError> {
        Ok(Service { calls: 0 })
    }
}

trait Repository {
    fn find(&self, id: u64) -> impl Future<Output = Result<String, AppError>> + Send;
    async fn count(&self) -> Result<usize, AppError>;
}

struct Memory(Vec<String>);

impl Repository for Memory {
    #[retry(max_attempts = 2, backoff = "none")]
    #[timeout(ms = 50)]
    async fn find(&self, id: u64) -> Result<String, AppError> {
        Ok(format!("user {id}"))
    }

    #[bulkhead(max = 2)]
    async fn count(&self) -> Result<usize, AppError> {
        Ok(self.0.len())
    }
}

#[retry(max_attempts = 2, backoff = "none")]
#[circuit_breaker(name = "shape-generic")]
async fn generic<T, U>(value: T, label: &U) -> Result<String, AppError>
where
    T: Display + Clone + Send,
    U: Display + ?Sized + Sync,
{
    Ok(format!("{label}={value}"))
}

#[retry]
async fn const_generic<const N: usize>(bytes: [u8; N]) -> Result<usize, AppError> {
    Ok(bytes.len())
}

#[timeout(ms = 10)]
async fn impl_trait_arg(items: impl IntoIterator<Item = u32>) -> Result<u32, AppError> {
    Ok(items.into_iter().sum())
}

#[retry(max_attempts = 2, backoff = "none")]
async fn retried_impl_trait(make: impl Fn() -> u32 + Clone) -> Result<u32, AppError> {
    Ok(make())
}

#[retry(max_attempts = 2, backoff = "none")]
async fn patterns((a, b): (u32, u32), _: u8, mut total: u64) -> Result<u64, AppError> {
    total += u64::from(a + b);
    Ok(total)
}

#[timeout(ms = 10)]
async fn borrowed<'a, 'b: 'a>(text: &'a str, _other: &'b str) -> Result<&'a str, AppError> {
    Ok(text.trim())
}

#[circuit_breaker]
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
    let n: u8 = "3".parse()?;
    Ok(n)
}

#[retry(max_attempts = 2)]
#[timeout(ms = 10)]
async fn io_result() -> std::io::Result<u8> {
    Ok(4)
}

#[retry(max_attempts = 2)]
async fn retry_only_any_error() -> Result<u8, &'static str> {
    // `#[retry]` alone never rejects a call, so the error type needs no conversion.
    Ok(5)
}

#[retry(max_attempts = 3, jitter)]
#[circuit_breaker(name = "shape-send")]
#[timeout(ms = 5000)]
#[bulkhead(max = 10)]
async fn full_stack(value: String) -> Result<String, AppError> {
    Ok(value)
}

#[resilience::retry(max_attempts = 2)]
#[doc = "Other attributes may sit between ours."]
#[resilience::circuit_breaker]
#[allow(clippy::needless_return)]
#[resilience::timeout(ms = 50)]
#[resilience::bulkhead(max = 2)]
async fn full_stack_by_path() -> Result<u8, AppError> {
    return Ok(6);
}

fn assert_send<F: Future + Send>(future: F) -> F {
    future
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut service = Service { calls: 0 };
        assert_eq!(assert_send(service.by_ref(7)).await, Ok("7:0".to_owned()));
        assert_eq!(assert_send(service.by_mut("a".to_owned())).await, Ok(1));
        let shared = Arc::new(service);
        assert_eq!(assert_send(Arc::clone(&shared).by_arc()).await, Ok(1));
        let service = Arc::into_inner(shared).unwrap();
        assert_eq!(assert_send(service.by_value()).await, Ok(1));
        assert_eq!(Service::associated(3).await, Ok(3));
        assert!(Service::returns_self().await.is_ok());

        let memory = Memory(vec!["a".to_owned()]);
        assert_eq!(assert_send(memory.find(1)).await, Ok("user 1".to_owned()));
        assert_eq!(memory.count().await, Ok(1));

        assert_eq!(assert_send(generic(3, "x")).await, Ok("x=3".to_owned()));
        assert_eq!(const_generic([1, 2, 3]).await, Ok(3));
        assert_eq!(assert_send(impl_trait_arg(vec![1, 2, 3])).await, Ok(6));
        assert_eq!(retried_impl_trait(|| 5).await, Ok(5));
        assert_eq!(patterns((1, 2), 0, 10).await, Ok(13));
        assert_eq!(borrowed("  hi ", "").await, Ok("hi"));
        assert_eq!(returns_impl_trait().await.unwrap().to_string(), "42");
        assert_eq!(aliased().await, Ok(1));
        assert_eq!(boxed_error().await.unwrap(), 7);
        assert_eq!(anyhow_result().await.unwrap(), 3);
        assert_eq!(io_result().await.unwrap(), 4);
        assert_eq!(retry_only_any_error().await, Ok(5));
        let spawned = assert_send(full_stack("sent".to_owned()));
        assert_eq!(spawned.await, Ok("sent".to_owned()));
        assert_eq!(assert_send(full_stack_by_path()).await, Ok(6));
    });
}
