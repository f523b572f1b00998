//! [`RedisStore`]: the [`SharedStore`] on Redis, and its builder.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Client, Script, Value};
use resilience::store::{
    BreakerReport, FleetBreaker, FleetPhase, FleetRule, RateDecision, RateRequest, StoreError,
    StoreFuture, DEFAULT_SYNC_INTERVAL,
};
use resilience::SharedStore;

use crate::keys::{key, CIRCUIT_BREAKER, RATE_LIMIT};

/// The prefix when none is given.
pub const DEFAULT_PREFIX: &str = "default";
/// The per-operation timeout when none is given: 100 ms.
pub const DEFAULT_OPERATION_TIMEOUT: Duration = Duration::from_millis(100);
/// The connection timeout when none is given: 1 s.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// Why [`RedisStore::connect`] failed: only connecting can fail. Once connected, the store
/// never returns an error to a call (see [`StoreError`] for what its policies see).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RedisStoreError {
    /// The URL does not parse, or names no Redis (`redis://host:port/db`).
    #[error("bad Redis URL: {0}")]
    Url(String),
    /// Redis did not accept the connection.
    #[error("cannot connect to {address}: {reason}")]
    Connect {
        /// Where it tried, without credentials.
        address: String,
        /// What went wrong.
        reason: String,
    },
    /// A prefix that would break the key layout: empty, or with a `:` or whitespace.
    #[error("bad key prefix {0:?}: it must be non-empty, with no `:` and no whitespace")]
    Prefix(String),
}

/// Builds a [`RedisStore`]; start from [`RedisStore::builder`].
///
/// ```no_run
/// use std::time::Duration;
///
/// # async fn example() -> Result<(), resilience_redis::RedisStoreError> {
/// let store = resilience_redis::RedisStore::builder("redis://10.0.0.5:6379/0")
///     .prefix("checkout")
///     .operation_timeout(Duration::from_millis(50))
///     .sync_interval(Duration::from_millis(250))
///     .connect()
///     .await?;
/// resilience::registry().set_store(store);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until `connect` is called"]
pub struct RedisStoreBuilder {
    url: String,
    prefix: String,
    operation_timeout: Duration,
    connect_timeout: Duration,
    sync_interval: Duration,
}

impl RedisStoreBuilder {
    /// The key prefix (default `"default"`): instances share state only under the same prefix,
    /// so that several services, or environments, can use one Redis. Non-empty, with no `:`
    /// and no whitespace.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The longest one operation may take (default 100 ms): past it, the policy falls back to
    /// its local state for that call or sync. A shared limiter's call waits at most this long
    /// for Redis.
    pub fn operation_timeout(mut self, timeout: Duration) -> Self {
        self.operation_timeout = timeout;
        self
    }

    /// The longest connecting (and each reconnection attempt) may take (default 1 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How often each shared breaker syncs with the fleet (default 100 ms): another instance's
    /// transition is followed within one interval. At least 1 ms.
    pub fn sync_interval(mut self, interval: Duration) -> Self {
        self.sync_interval = interval;
        self
    }

    /// Connects to Redis, failing when it does not answer now. Later outages never fail: the
    /// connection is re-established in the background (the `redis` crate's
    /// `ConnectionManager`), and the policies run locally meanwhile.
    ///
    /// # Errors
    ///
    /// [`RedisStoreError::Url`], [`RedisStoreError::Prefix`], [`RedisStoreError::Connect`].
    pub async fn connect(self) -> Result<RedisStore, RedisStoreError> {
        if self.prefix.is_empty()
            || self.prefix.contains(':')
            || self.prefix.chars().any(char::is_whitespace)
        {
            return Err(RedisStoreError::Prefix(self.prefix));
        }
        let client =
            Client::open(self.url.as_str()).map_err(|e| RedisStoreError::Url(e.to_string()))?;
        let address = client.get_connection_info().addr().to_string();
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.connect_timeout))
            .set_response_timeout(Some(self.operation_timeout))
            // Reconnect quickly and give up soon: the next operation tries again, and the
            // policies run locally meanwhile.
            .set_number_of_retries(1)
            .set_min_delay(Duration::from_millis(10))
            .set_max_delay(Duration::from_millis(200));
        let connect = ConnectionManager::new_with_config(client, config);
        let connection = match tokio::time::timeout(self.connect_timeout, connect).await {
            Ok(Ok(connection)) => connection,
            Ok(Err(error)) => {
                return Err(RedisStoreError::Connect {
                    address,
                    reason: error.to_string(),
                })
            }
            Err(_) => {
                return Err(RedisStoreError::Connect {
                    address,
                    reason: format!("no answer within {:?}", self.connect_timeout),
                })
            }
        };
        Ok(RedisStore {
            inner: Arc::new(Inner {
                describe: format!("redis://{address} (prefix {})", self.prefix),
                connection,
                prefix: self.prefix,
                operation_timeout: self.operation_timeout,
                sync_interval: self.sync_interval.max(Duration::from_millis(1)),
                gcra: Script::new(include_str!("lua/gcra.lua")),
                breaker: Script::new(include_str!("lua/breaker.lua")),
            }),
        })
    }
}

/// The [`SharedStore`] on Redis: shared breakers and rate limiters for a fleet of instances.
/// Cheap to clone (one connection, shared).
///
/// Connect with [`RedisStore::connect`] or [`RedisStore::builder`], then hand it to
/// [`resilience::Registry::set_store`]. See the [crate docs](crate) for what is shared and how.
#[derive(Clone)]
pub struct RedisStore {
    inner: Arc<Inner>,
}

struct Inner {
    describe: String,
    connection: ConnectionManager,
    prefix: String,
    operation_timeout: Duration,
    sync_interval: Duration,
    gcra: Script,
    breaker: Script,
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("store", &self.inner.describe)
            .field("operation_timeout", &self.inner.operation_timeout)
            .field("sync_interval", &self.inner.sync_interval)
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// Connects to the Redis at `url` (`redis://[user:password@]host:port[/db]`) with the
    /// defaults: prefix `"default"`, 100 ms per operation, a 100 ms sync interval.
    ///
    /// # Errors
    ///
    /// As [`RedisStoreBuilder::connect`].
    pub async fn connect(url: impl Into<String>) -> Result<Self, RedisStoreError> {
        Self::builder(url).connect().await
    }

    /// A builder for a store on the Redis at `url`.
    pub fn builder(url: impl Into<String>) -> RedisStoreBuilder {
        RedisStoreBuilder {
            url: url.into(),
            prefix: DEFAULT_PREFIX.to_owned(),
            operation_timeout: DEFAULT_OPERATION_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            sync_interval: DEFAULT_SYNC_INTERVAL,
        }
    }

    /// The key a policy's state is kept under: `resilience:{prefix}:{kind}:{name}`, `kind`
    /// being `"rate_limit"` or `"circuit_breaker"`.
    ///
    /// ```no_run
    /// # async fn example() -> Result<(), resilience_redis::RedisStoreError> {
    /// let store = resilience_redis::RedisStore::builder("redis://127.0.0.1:6379")
    ///     .prefix("checkout")
    ///     .connect()
    ///     .await?;
    /// assert_eq!(store.key_of("circuit_breaker", "payments"), "resilience:checkout:circuit_breaker:payments");
    /// # Ok(()) }
    /// ```
    pub fn key_of(&self, kind: &str, name: &str) -> String {
        key(&self.inner.prefix, kind, name)
    }

    /// Runs `script` with one key and `args` within the operation timeout.
    async fn eval(
        &self,
        script: &Script,
        key: String,
        args: Vec<String>,
    ) -> Result<Value, StoreError> {
        let mut connection = self.inner.connection.clone();
        let mut invocation = script.key(key);
        for arg in args {
            invocation.arg(arg);
        }
        let run = invocation.invoke_async::<Value>(&mut connection);
        match tokio::time::timeout(self.inner.operation_timeout, run).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) if error.is_timeout() => {
                Err(StoreError::TimedOut(self.inner.operation_timeout))
            }
            Ok(Err(error)) => Err(StoreError::Unreachable(error.to_string())),
            Err(_) => Err(StoreError::TimedOut(self.inner.operation_timeout)),
        }
    }
}

impl SharedStore for RedisStore {
    fn describe(&self) -> String {
        self.inner.describe.clone()
    }

    fn sync_interval(&self) -> Duration {
        self.inner.sync_interval
    }

    fn acquire_permit<'a>(
        &'a self,
        name: &'a str,
        request: RateRequest,
    ) -> StoreFuture<'a, RateDecision> {
        Box::pin(async move {
            let interval = micros_at_least_one(request.interval);
            let args = vec![interval.to_string(), request.burst.max(1).to_string()];
            let reply = self
                .eval(&self.inner.gcra, self.key_of(RATE_LIMIT, name), args)
                .await?;
            parse_rate(&reply)
        })
    }

    fn sync_breaker<'a>(
        &'a self,
        name: &'a str,
        report: BreakerReport,
    ) -> StoreFuture<'a, FleetBreaker> {
        Box::pin(async move {
            let reply = self
                .eval(
                    &self.inner.breaker,
                    self.key_of(CIRCUIT_BREAKER, name),
                    breaker_args(&report),
                )
                .await?;
            parse_breaker(&reply)
        })
    }
}

fn millis(duration: Duration) -> u128 {
    duration.as_millis()
}

/// Microseconds, rounded up, at least 1: the GCRA's unit (Lua numbers are doubles, exact to
/// 2^53, which microseconds since the epoch fit and nanoseconds do not).
fn micros_at_least_one(duration: Duration) -> u128 {
    duration.as_nanos().div_ceil(1000).max(1)
}

fn breaker_args(report: &BreakerReport) -> Vec<String> {
    let (threshold, rate, min_calls, window) = match report.rule {
        FleetRule::ConsecutiveFailures(threshold) => (threshold, 1.0, 1, Duration::from_secs(1)),
        FleetRule::FailureRate {
            rate,
            min_calls,
            window,
        } => (0, rate, min_calls, window),
    };
    vec![
        report.generation.to_string(),
        report.proposal.map_or("", FleetPhase::as_str).to_owned(),
        report.phase.as_str().to_owned(),
        millis(report.open_for).to_string(),
        report.successes.to_string(),
        report.failures.to_string(),
        report.trailing_failures.to_string(),
        threshold.to_string(),
        format!("{rate}"),
        min_calls.to_string(),
        millis(window).max(1).to_string(),
        millis(report.bucket).max(1).to_string(),
        millis(report.half_open_timeout).to_string(),
        millis(report.ttl).max(1).to_string(),
    ]
}

fn int(value: &Value) -> Option<i64> {
    match value {
        Value::Int(n) => Some(*n),
        Value::BulkString(bytes) => std::str::from_utf8(bytes).ok()?.parse().ok(),
        Value::SimpleString(text) => text.parse().ok(),
        _ => None,
    }
}

fn text(value: &Value) -> Option<&str> {
    match value {
        Value::BulkString(bytes) => std::str::from_utf8(bytes).ok(),
        Value::SimpleString(text) => Some(text),
        _ => None,
    }
}

fn garbage(what: &str, reply: &Value) -> StoreError {
    StoreError::Garbage(format!("{what}: {reply:?}"))
}

/// `{1, 0}` or `{0, retry_after_us}`.
fn parse_rate(reply: &Value) -> Result<RateDecision, StoreError> {
    let Value::Array(items) = reply else {
        return Err(garbage("rate limit reply", reply));
    };
    match items.as_slice() {
        [allowed, retry] => match (int(allowed), int(retry)) {
            (Some(1), _) => Ok(RateDecision::Permitted),
            (Some(0), Some(micros)) if micros > 0 => Ok(RateDecision::Limited {
                retry_after: Duration::from_micros(micros.unsigned_abs()),
            }),
            _ => Err(garbage("rate limit reply", reply)),
        },
        _ => Err(garbage("rate limit reply", reply)),
    }
}

/// `{generation, phase, ms since the phase began, applied}`.
fn parse_breaker(reply: &Value) -> Result<FleetBreaker, StoreError> {
    let Value::Array(items) = reply else {
        return Err(garbage("breaker reply", reply));
    };
    let [generation, phase, since, applied] = items.as_slice() else {
        return Err(garbage("breaker reply", reply));
    };
    let (Some(generation), Some(phase), Some(since), Some(applied)) = (
        int(generation).and_then(|g| u64::try_from(g).ok()),
        text(phase).and_then(FleetPhase::parse),
        int(since),
        int(applied),
    ) else {
        return Err(garbage("breaker reply", reply));
    };
    let open_for = if phase == FleetPhase::Closed {
        Duration::ZERO
    } else {
        Duration::from_millis(since.max(0).unsigned_abs())
    };
    Ok(FleetBreaker {
        generation,
        phase,
        open_for,
        proposal_applied: applied == 1,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(text: &str) -> Value {
        Value::BulkString(text.as_bytes().to_vec())
    }

    #[test]
    fn rate_replies_parse_and_garbage_is_an_error() {
        let ok = Value::Array(vec![Value::Int(1), Value::Int(0)]);
        assert_eq!(parse_rate(&ok), Ok(RateDecision::Permitted));
        let limited = Value::Array(vec![Value::Int(0), Value::Int(2500)]);
        assert_eq!(
            parse_rate(&limited),
            Ok(RateDecision::Limited {
                retry_after: Duration::from_micros(2500)
            })
        );
        for bad in [
            Value::Nil,
            Value::Okay,
            Value::Array(vec![]),
            Value::Array(vec![Value::Int(0), Value::Int(0)]),
            Value::Array(vec![Value::Int(7), Value::Int(1)]),
            Value::Array(vec![bulk("x"), bulk("y")]),
        ] {
            assert!(
                matches!(parse_rate(&bad), Err(StoreError::Garbage(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn breaker_replies_parse_and_garbage_is_an_error() {
        let reply = Value::Array(vec![
            Value::Int(4),
            bulk("open"),
            Value::Int(1500),
            Value::Int(1),
        ]);
        assert_eq!(
            parse_breaker(&reply),
            Ok(FleetBreaker {
                generation: 4,
                phase: FleetPhase::Open,
                open_for: Duration::from_millis(1500),
                proposal_applied: true,
            })
        );
        let closed = Value::Array(vec![
            Value::Int(5),
            bulk("closed"),
            Value::Int(99),
            Value::Int(0),
        ]);
        assert_eq!(parse_breaker(&closed).unwrap().open_for, Duration::ZERO);
        for bad in [
            Value::Int(3),
            Value::Array(vec![
                Value::Int(1),
                bulk("ajar"),
                Value::Int(0),
                Value::Int(0),
            ]),
            Value::Array(vec![
                Value::Int(-1),
                bulk("open"),
                Value::Int(0),
                Value::Int(0),
            ]),
            Value::Array(vec![Value::Int(1), bulk("open")]),
        ] {
            assert!(
                matches!(parse_breaker(&bad), Err(StoreError::Garbage(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn intervals_round_up_to_a_microsecond() {
        assert_eq!(micros_at_least_one(Duration::from_nanos(1)), 1);
        assert_eq!(micros_at_least_one(Duration::from_nanos(1500)), 2);
        assert_eq!(micros_at_least_one(Duration::from_millis(10)), 10_000);
        assert_eq!(micros_at_least_one(Duration::ZERO), 1);
    }
}
