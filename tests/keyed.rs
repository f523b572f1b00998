//! Keyed rate limits as a user writes them: `#[rate_limit(key = ..)]` per client, keys
//! computed from arguments the body then takes, sites sharing one keyed limiter by name, a
//! retry above a keyed limiter, and `key_idle` / `max_keys` from a file.

use std::net::IpAddr;
use std::time::Duration;

use resilience::{rate_limit, registry, retry, Config, Error, PolicyStats};

#[rate_limit(name = "kd-per-user", rate = 2, per = "1s", key = user_id)]
async fn profile(user_id: u64) -> Result<u64, Error> {
    Ok(user_id)
}

#[tokio::test(start_paused = true)]
async fn each_user_has_a_limit_of_their_own() {
    assert_eq!(profile(1).await, Ok(1));
    assert_eq!(profile(1).await, Ok(1));
    let Err(Error::RateLimited { retry_after, .. }) = profile(1).await else {
        panic!("user 1 is over the limit");
    };
    assert_eq!(retry_after, Duration::from_millis(500));
    assert_eq!(profile(2).await, Ok(2), "user 2 has a bucket of their own");
    tokio::time::advance(Duration::from_millis(500)).await;
    assert_eq!(profile(1).await, Ok(1));
    let limiter = registry().rate_limiter("kd-per-user").unwrap();
    assert_eq!(limiter.key_available(&1_u64), Some(0));
    assert_eq!(limiter.key_available(&2_u64), Some(2), "refilled meanwhile");
}

/// A request the body consumes: the key borrows it before the call, and only until then.
struct Request {
    client: IpAddr,
    body: String,
}

impl Request {
    fn client_ip(&self) -> IpAddr {
        self.client
    }
}

#[rate_limit(name = "kd-per-ip", rate = 1, per = "1m", key = req.client_ip())]
async fn handle(req: Request) -> Result<String, Error> {
    let Request { body, .. } = req;
    Ok(body)
}

/// A second site naming the same keyed limiter: it shares the per-key buckets.
#[rate_limit(name = "kd-per-ip", rate = 1, per = "1m", key = ip)]
async fn ping(ip: IpAddr) -> Result<(), Error> {
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn a_key_computed_from_an_argument_the_body_takes_and_shared_by_two_sites() {
    let home = IpAddr::from([10, 0, 0, 1]);
    let away = IpAddr::from([10, 0, 0, 2]);
    let request = |client| Request {
        client,
        body: "hello".to_owned(),
    };
    assert_eq!(handle(request(home)).await, Ok("hello".to_owned()));
    assert!(handle(request(home)).await.is_err());
    // The other site, same name, same key: the same bucket, already empty.
    assert!(ping(home).await.is_err());
    assert_eq!(ping(away).await, Ok(()));
    assert!(handle(request(away)).await.is_err());
}

#[retry(max_attempts = 2, delay = "10ms")]
#[rate_limit(name = "kd-retried", rate = 1, per = "100ms", key = tenant)]
async fn for_tenant(tenant: String) -> Result<String, Error> {
    Ok(tenant)
}

#[tokio::test(start_paused = true)]
async fn a_retry_above_a_keyed_limiter_waits_for_the_keys_next_cell() {
    let start = tokio::time::Instant::now();
    assert_eq!(for_tenant("a".to_owned()).await, Ok("a".to_owned()));
    assert_eq!(for_tenant("a".to_owned()).await, Ok("a".to_owned()));
    // The second call was rejected once, and retried after the key's `retry_after`.
    assert_eq!(start.elapsed(), Duration::from_millis(100));
    assert_eq!(for_tenant("b".to_owned()).await, Ok("b".to_owned()));
    assert_eq!(start.elapsed(), Duration::from_millis(100));
}

#[rate_limit(name = "kd-file", rate = 5, key = id, max_keys = 1000)]
async fn from_file(id: u32) -> Result<u32, Error> {
    Ok(id)
}

#[resilience::test]
async fn a_file_sets_key_idle_and_max_keys_and_the_snapshot_row_counts_the_keys() {
    registry()
        .apply(
            &Config::from_toml_str("[rate_limit.kd-file]\nkey_idle = \"10m\"\nmax_keys = 4\n")
                .unwrap(),
        )
        .unwrap();
    for id in 0..10 {
        assert_eq!(from_file(id).await, Ok(id));
    }
    let limiter = registry().rate_limiter("kd-file").unwrap();
    let config = limiter.config();
    assert_eq!(
        (config.key_idle, config.max_keys),
        (Some(Duration::from_secs(600)), 4)
    );
    let snapshot = registry().snapshot();
    let row = snapshot
        .policies()
        .iter()
        .find(|row| row.name() == "kd-file")
        .expect("one row for the keyed limiter");
    let PolicyStats::RateLimiter(stats) = row.stats() else {
        panic!("a rate limiter row");
    };
    let keys = stats.keys.as_ref().expect("keyed");
    assert!(keys.keys <= 4, "{keys:?}");
    assert_eq!(keys.keys + keys.evicted, 10);
    assert_eq!(keys.max_keys, 4);
}
