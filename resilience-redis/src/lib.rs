//! Fleet-wide state for the [`resilience`] policies, on Redis.
//!
//! [`RedisStore`] implements [`resilience::SharedStore`]: hand it to the registry, and every
//! breaker and rate limiter marked `shared` shares its state with the other instances of the
//! service that use the same Redis and the same [prefix](RedisStoreBuilder::prefix).
//!
//! ```no_run
//! use resilience::{circuit_breaker, rate_limit};
//!
//! #[circuit_breaker(name = "payments", shared)]
//! #[rate_limit(rate = 100, per = "1s", shared)]
//! async fn charge(cents: u64) -> Result<(), resilience::Error> {
//!     Ok(())
//! }
//!
//! # #[tokio::main] async fn main() -> Result<(), resilience_redis::RedisStoreError> {
//! let store = resilience_redis::RedisStore::connect("redis://127.0.0.1:6379").await?;
//! resilience::registry().set_store(store);
//! charge(250).await.ok();
//! # Ok(()) }
//! ```
//!
//! What is shared, and how (see also [`resilience::store`]):
//!
//! - **Rate limiter:** one GCRA bucket per limiter name, in one Lua script on Redis's clock
//!   (`TIME`): one round trip per call, and the limit holds across instances.
//! - **Circuit breaker:** no round trip on a call's path. Every
//!   [`sync_interval`](RedisStoreBuilder::sync_interval) (default 100 ms) each instance adds its
//!   outcome counts to the fleet's (per time bucket), proposes the transitions it made, and
//!   follows the fleet's state, in one Lua script guarded by the breaker's generation.
//! - **Failure:** unreachable, slower than the
//!   [`operation_timeout`](RedisStoreBuilder::operation_timeout), restarted, flushed or
//!   holding garbage: no call fails; the policies fall back to their local state and re-join
//!   when Redis answers. A missing or unreadable key is re-seeded.
//!
//! Keys are `resilience:{prefix}:{kind}:{name}` (`kind` is `rate_limit` or
//! `circuit_breaker`), each with a time to live, so a dead fleet leaves nothing behind.
#![forbid(unsafe_code)]

mod keys;
mod store;

pub use store::{RedisStore, RedisStoreBuilder, RedisStoreError};
