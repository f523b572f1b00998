//! Every `#[timeout]` and `#[bulkhead]` key.

use resilience::{bulkhead, timeout, Error};

#[timeout(ms = 5000)]
async fn millis() -> Result<u32, Error> {
    Ok(1)
}

#[timeout(secs = 5, name = "timeout-keys")]
async fn seconds() -> Result<u32, Error> {
    Ok(1)
}

#[timeout(duration = "1m30s")]
async fn human() -> Result<u32, Error> {
    Ok(1)
}

#[bulkhead(max = 1)]
async fn smallest() -> Result<u32, Error> {
    Ok(1)
}

#[bulkhead(max = 10, queue = 20, queue_timeout = "500ms", name = "bulkhead-keys")]
async fn queued() -> Result<u32, Error> {
    Ok(1)
}

#[bulkhead(max = 4, queue = 1, queue_timeout_ms = 250)]
async fn queued_ms() -> Result<u32, Error> {
    Ok(1)
}

#[bulkhead(max = 2, queue = 0)]
async fn no_queue() -> Result<u32, Error> {
    Ok(1)
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    runtime.block_on(async {
        assert_eq!(millis().await, Ok(1));
        assert_eq!(seconds().await, Ok(1));
        assert_eq!(human().await, Ok(1));
        assert_eq!(smallest().await, Ok(1));
        assert_eq!(queued().await, Ok(1));
        assert_eq!(queued_ms().await, Ok(1));
        assert_eq!(no_queue().await, Ok(1));
    });
    assert!(resilience::registry().timeout("timeout-keys").is_some());
    assert!(resilience::registry().bulkhead("bulkhead-keys").is_some());
}
