//! Every key of `#[rate_limit]` and `#[fallback]`, alone and stacked with the others.

use resilience::{bulkhead, circuit_breaker, fallback, rate_limit, retry, timeout};

#[derive(Debug)]
enum AppError {
    Down,
    Policy(resilience::Error),
}

impl From<resilience::Error> for AppError {
    fn from(err: resilience::Error) -> Self {
        AppError::Policy(err)
    }
}

#[rate_limit(rate = 100)]
async fn rate_only() -> Result<u32, AppError> {
    Ok(1)
}

#[rate_limit(rate = 100, per = "1m", burst = 10, wait = "250ms", name = "ui-rate-all")]
async fn rate_all() -> Result<u32, AppError> {
    Ok(1)
}

#[rate_limit(rate = 5, per_ms = 1500, wait_ms = 20, shared = false)]
async fn rate_ms() -> Result<u32, AppError> {
    Ok(1)
}

#[rate_limit(rate = 5, key = user, key_idle = "10m", max_keys = 1000, name = "ui-rate-keyed")]
async fn rate_keyed(user: String) -> Result<String, AppError> {
    Ok(user)
}

#[rate_limit(rate = 5, key = (tenant.clone(), *shard), key_idle_ms = 60000)]
async fn rate_keyed_tuple(tenant: &String, shard: &u8) -> Result<u8, AppError> {
    Ok(*shard)
}

struct Client {
    host: String,
}

impl Client {
    #[rate_limit(rate = 5, key = self.host)]
    async fn rate_keyed_method(&self) -> Result<usize, AppError> {
        Ok(self.host.len())
    }
}

fn cached(_id: u64, _error: AppError) -> Result<u32, AppError> {
    Ok(0)
}

async fn cached_async(_id: u64, _error: AppError) -> Result<u32, AppError> {
    Ok(0)
}

fn is_outage(error: &AppError) -> bool {
    matches!(error, AppError::Policy(_))
}

mod cache {
    pub fn lookup(id: u64, _error: String) -> Result<u32, String> {
        Ok(id as u32)
    }
}

#[fallback(cached)]
async fn with_sync_fallback(id: u64) -> Result<u32, AppError> {
    let _ = id;
    Err(AppError::Down)
}

#[fallback(cached_async, fallback_if = is_outage)]
async fn with_async_fallback(id: u64) -> Result<u32, AppError> {
    let _ = id;
    Err(AppError::Down)
}

#[fallback(cache::lookup)]
#[retry(max_attempts = 2, backoff = "none")]
async fn with_path_fallback(id: u64) -> Result<u32, String> {
    Err(format!("no {id}"))
}

#[fallback(cached, fallback_if = is_outage)]
#[retry(max_attempts = 3, jitter)]
#[circuit_breaker(name = "ui-fallback-stack")]
#[rate_limit(rate = 50)]
#[timeout(ms = 500)]
#[bulkhead(max = 4)]
async fn everything(id: u64) -> Result<u32, AppError> {
    Ok(id as u32)
}

fn assert_send<F: std::future::Future + Send>(future: F) -> F {
    future
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    assert_eq!(rate_only().await.unwrap(), 1);
    assert_eq!(rate_all().await.unwrap(), 1);
    assert_eq!(rate_ms().await.unwrap(), 1);
    assert_eq!(rate_keyed("u".to_owned()).await.unwrap(), "u");
    assert_eq!(rate_keyed_tuple(&"t".to_owned(), &3).await.unwrap(), 3);
    let client = Client { host: "db".to_owned() };
    assert_eq!(client.rate_keyed_method().await.unwrap(), 2);
    assert_eq!(with_sync_fallback(1).await.unwrap(), 0);
    assert!(with_async_fallback(1).await.is_err());
    assert_eq!(with_path_fallback(7).await.unwrap(), 7);
    assert_eq!(assert_send(everything(3)).await.unwrap(), 3);
}
