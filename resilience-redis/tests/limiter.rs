//! The shared rate limiter against a real `redis-server`: one bucket for every instance, on
//! Redis's clock, namespaced and expiring, and indifferent to a flush or garbage in its key.

mod support;

use std::time::Duration;

use redis::AsyncCommands;
use resilience::store::{RateDecision, RateRequest};
use resilience::{rate_limit, registry, Error, SharedStore};
use resilience_redis::RedisStore;
use support::RedisServer;

#[rate_limit(name = "search", rate = 5, per = "60s", shared)]
async fn search() -> Result<(), Error> {
    Ok(())
}

/// What `#[rate_limit(rate = 5, per = "60s")]` asks of the store.
const SEARCH: RateRequest = RateRequest {
    interval: Duration::from_secs(12),
    burst: 5,
};

const KEY: &str = "resilience:limiter:rate_limit:search";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shared_limit_holds_across_instances_and_survives_a_flush_and_garbage() {
    let server = RedisServer::start();
    let store = RedisStore::builder(server.url())
        .prefix("limiter")
        .connect()
        .await
        .unwrap();
    // Another instance of the service: its own connection, the same prefix.
    let other = RedisStore::builder(server.url())
        .prefix("limiter")
        .connect()
        .await
        .unwrap();
    registry().set_store(store);

    // Five cells for the fleet: three taken here, two by the other instance.
    for _ in 0..3 {
        search().await.unwrap();
    }
    for _ in 0..2 {
        assert_eq!(
            other.acquire_permit("search", SEARCH).await,
            Ok(RateDecision::Permitted)
        );
    }
    match search().await {
        Err(Error::RateLimited { retry_after, .. }) => {
            assert!(
                retry_after > Duration::ZERO && retry_after <= Duration::from_secs(12),
                "{retry_after:?}"
            );
        }
        other => panic!("the fleet's bucket is empty: expected a rejection, got {other:?}"),
    }
    assert!(matches!(
        other.acquire_permit("search", SEARCH).await,
        Ok(RateDecision::Limited { .. })
    ));
    let limiter = registry().rate_limiter("search").unwrap();
    assert!(limiter.is_shared());
    assert_eq!(limiter.stats().permitted, 3);

    // The key is namespaced and expires.
    let mut redis = server.client().await;
    let ttl: i64 = redis.pttl(KEY).await.unwrap();
    assert!(ttl > 0 && ttl <= 61_000, "{ttl}");
    // Another prefix is another fleet.
    let elsewhere = RedisStore::builder(server.url())
        .prefix("elsewhere")
        .connect()
        .await
        .unwrap();
    assert_eq!(
        elsewhere.acquire_permit("search", SEARCH).await,
        Ok(RateDecision::Permitted)
    );

    // Flushed: the bucket is full again, and no call failed on the way.
    let () = redis::cmd("FLUSHALL")
        .query_async(&mut redis)
        .await
        .unwrap();
    search().await.unwrap();

    // Garbage in the key, of another type or unreadable: the call passes and the key heals.
    let () = redis.del(KEY).await.unwrap();
    let () = redis.hset(KEY, "not", "a bucket").await.unwrap();
    search().await.unwrap();
    let kind: String = redis::cmd("TYPE")
        .arg(KEY)
        .query_async(&mut redis)
        .await
        .unwrap();
    assert_eq!(kind, "string");
    let () = redis.set(KEY, "twelve o'clock").await.unwrap();
    search().await.unwrap();
    let tat: String = redis.get(KEY).await.unwrap();
    assert!(tat.parse::<u64>().is_ok(), "{tat}");
    assert!(registry().clear_store());
}

#[tokio::test]
async fn the_gcra_admits_the_burst_then_one_per_interval() {
    let server = RedisServer::start();
    let store = RedisStore::connect(server.url()).await.unwrap();
    let fast = RateRequest {
        interval: Duration::from_millis(100),
        burst: 3,
    };
    for _ in 0..3 {
        assert_eq!(
            store.acquire_permit("burst", fast).await,
            Ok(RateDecision::Permitted)
        );
    }
    let Ok(RateDecision::Limited { retry_after }) = store.acquire_permit("burst", fast).await
    else {
        panic!("the burst is spent");
    };
    assert!(retry_after <= Duration::from_millis(100), "{retry_after:?}");
    // The next cell falls due on Redis's clock: poll until it has, within a bound.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    loop {
        match store.acquire_permit("burst", fast).await {
            Ok(RateDecision::Permitted) => break,
            Ok(RateDecision::Limited { retry_after }) => {
                assert!(tokio::time::Instant::now() < deadline, "no cell refilled");
                tokio::time::sleep(retry_after).await;
            }
            Err(error) => panic!("{error}"),
        }
    }
    assert!(matches!(
        store.acquire_permit("burst", fast).await,
        Ok(RateDecision::Limited { .. })
    ));
}

#[tokio::test]
async fn a_bad_prefix_or_url_is_refused_and_an_absent_server_fails_to_connect() {
    for prefix in ["", "a:b", "has space"] {
        let refused = RedisStore::builder("redis://127.0.0.1:1")
            .prefix(prefix)
            .connect()
            .await;
        assert!(
            matches!(refused, Err(resilience_redis::RedisStoreError::Prefix(_))),
            "{prefix:?}"
        );
    }
    assert!(matches!(
        RedisStore::connect("http://nowhere").await,
        Err(resilience_redis::RedisStoreError::Url(_))
    ));
    let server = RedisServer::start();
    let url = server.url();
    drop(server);
    assert!(matches!(
        RedisStore::connect(url).await,
        Err(resilience_redis::RedisStoreError::Connect { .. })
    ));
}
