//! A fallback on a method: another method, named `Self::method` (called with `self` first, as
//! the annotated method is) or `self.method` (called on the receiver), sync or async.

mod common;

use std::sync::Mutex;

use common::AppError;
use resilience::{circuit_breaker, fallback};

struct PriceService {
    cache: Mutex<Vec<(String, u32)>>,
    healthy: bool,
}

impl PriceService {
    fn cached(&self, sku: String, _error: AppError) -> Result<u32, AppError> {
        let cache = self.cache.lock().unwrap();
        cache
            .iter()
            .find(|(known, _)| *known == sku)
            .map(|(_, price)| *price)
            .ok_or(AppError::Down("no cached price"))
    }

    async fn cached_later(&self, sku: String, error: AppError) -> Result<u32, AppError> {
        tokio::task::yield_now().await;
        self.cached(sku, error)
    }

    #[fallback(Self::cached)]
    #[circuit_breaker(failure_threshold = 5)]
    async fn price(&self, sku: String) -> Result<u32, AppError> {
        if self.healthy {
            Ok(sku.len() as u32)
        } else {
            Err(AppError::Down("pricing"))
        }
    }

    #[fallback(self.cached_later)]
    async fn price_async(&self, sku: String) -> Result<u32, AppError> {
        if self.healthy {
            Ok(sku.len() as u32)
        } else {
            Err(AppError::Down("pricing"))
        }
    }
}

#[tokio::test]
async fn a_method_falls_back_to_another_method() {
    let service = PriceService {
        cache: Mutex::new(vec![("apple".to_owned(), 120)]),
        healthy: false,
    };
    assert_eq!(service.price("apple".to_owned()).await, Ok(120));
    assert_eq!(service.price_async("apple".to_owned()).await, Ok(120));
    assert_eq!(
        service.price("pear".to_owned()).await,
        Err(AppError::Down("no cached price"))
    );

    let healthy = PriceService {
        cache: Mutex::new(Vec::new()),
        healthy: true,
    };
    assert_eq!(healthy.price("kiwi".to_owned()).await, Ok(4));
    assert_eq!(healthy.price_async("kiwi".to_owned()).await, Ok(4));
}
