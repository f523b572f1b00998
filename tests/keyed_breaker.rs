//! Keyed circuit breakers as a user writes them: `#[circuit_breaker(key = ..)]` per host, a key
//! computed from an argument the body then takes, two sites sharing the per-key circuits by
//! name, a retry above a keyed breaker, and `key_idle` / `max_keys` from a file.

use std::time::Duration;

use resilience::{circuit_breaker, registry, retry, CircuitState, Config, Error, PolicyStats};

#[derive(Debug, PartialEq)]
enum FetchError {
    Down,
    Rejected(Error),
}

impl From<Error> for FetchError {
    fn from(error: Error) -> Self {
        FetchError::Rejected(error)
    }
}

#[circuit_breaker(
    name = "kb-per-host",
    failure_threshold = 2,
    reset_timeout = "10s",
    key = host
)]
async fn fetch(host: String, up: bool) -> Result<String, FetchError> {
    if up {
        Ok(host)
    } else {
        Err(FetchError::Down)
    }
}

#[tokio::test(start_paused = true)]
async fn each_host_has_a_circuit_of_its_own() {
    let (a, b) = ("a.example".to_owned(), "b.example".to_owned());
    for _ in 0..2 {
        assert_eq!(fetch(a.clone(), false).await, Err(FetchError::Down));
    }
    let Err(FetchError::Rejected(Error::CircuitOpen { retry_after, .. })) =
        fetch(a.clone(), true).await
    else {
        panic!("host a is open");
    };
    assert_eq!(retry_after, Some(Duration::from_secs(10)));
    assert_eq!(
        fetch(b.clone(), true).await,
        Ok(b.clone()),
        "host b is not held off by host a"
    );
    let breaker = registry().circuit_breaker("kb-per-host").unwrap();
    assert_eq!(breaker.key_state(&a), Some(CircuitState::Open));
    assert_eq!(breaker.key_state(&b), Some(CircuitState::Closed));
    assert_eq!(
        breaker.state(),
        CircuitState::Closed,
        "the breaker's own circuit"
    );
    assert_eq!(breaker.in_flight(), 0);

    // After the reset timeout the next call is a probe; its success closes host a.
    tokio::time::advance(Duration::from_secs(10)).await;
    assert_eq!(fetch(a.clone(), true).await, Ok(a.clone()));
    assert_eq!(breaker.key_state(&a), Some(CircuitState::Closed));

    let stats = breaker.stats();
    let keys = stats.keys.expect("a keyed breaker");
    assert_eq!(keys.keys, 2);
    assert_eq!(
        stats.failures, 2,
        "every key's calls count in the breaker's stats"
    );
    assert_eq!(stats.rejected, 1);
}

/// Two sites naming one keyed breaker share the per-key circuits; the second gives only the
/// name and the key.
#[circuit_breaker(name = "kb-shared", failure_threshold = 2, key = host)]
async fn fetch_shared(host: String, up: bool) -> Result<String, FetchError> {
    fetch_plain(host, up)
}

fn fetch_plain(host: String, up: bool) -> Result<String, FetchError> {
    if up {
        Ok(host)
    } else {
        Err(FetchError::Down)
    }
}

#[circuit_breaker(name = "kb-shared", key = host)]
async fn ping(host: String) -> Result<(), FetchError> {
    drop(host);
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn two_sites_share_the_keys() {
    let host = "shared.example".to_owned();
    for _ in 0..2 {
        assert_eq!(
            fetch_shared(host.clone(), false).await,
            Err(FetchError::Down)
        );
    }
    assert!(matches!(
        ping(host.clone()).await,
        Err(FetchError::Rejected(Error::CircuitOpen { .. }))
    ));
    assert_eq!(ping("other.example".to_owned()).await, Ok(()));
}

#[retry(max_attempts = 3, delay = "1s", retry_on = ["circuit_open"])]
#[circuit_breaker(name = "kb-retried", failure_threshold = 1, reset_timeout = "1s", key = id)]
async fn flaky(id: u64, fail_first: bool) -> Result<u64, FetchError> {
    use std::sync::atomic::{AtomicBool, Ordering};
    static FAILED: AtomicBool = AtomicBool::new(false);
    if fail_first && !FAILED.swap(true, Ordering::SeqCst) {
        return Err(FetchError::Down);
    }
    Ok(id)
}

#[tokio::test(start_paused = true)]
async fn a_retry_above_a_keyed_breaker_waits_out_the_key_and_probes() {
    // Attempt 1 fails and opens key 7; attempt 2 (after 1s) is the probe and succeeds.
    assert_eq!(flaky(7, true).await, Ok(7));
    let breaker = registry().circuit_breaker("kb-retried").unwrap();
    assert_eq!(breaker.key_state(&7_u64), Some(CircuitState::Closed));
}

#[circuit_breaker(name = "kb-from-file", key = id)]
async fn configured(id: u32) -> Result<u32, Error> {
    Ok(id)
}

#[resilience::test]
async fn key_idle_and_max_keys_come_from_a_file() {
    registry()
        .apply(
            &Config::from_toml_str(
                "[circuit_breaker.kb-from-file]\nkey_idle = \"5s\"\nmax_keys = 8\n",
            )
            .unwrap(),
        )
        .unwrap();
    for id in 0..64 {
        assert_eq!(configured(id).await, Ok(id));
    }
    let breaker = registry().circuit_breaker("kb-from-file").unwrap();
    let config = breaker.config();
    assert_eq!(
        (config.key_idle, config.max_keys),
        (Some(Duration::from_secs(5)), 8)
    );
    let snapshot = registry().snapshot();
    let row = snapshot
        .policies()
        .iter()
        .find(|row| row.name() == "kb-from-file")
        .expect("one row for the keyed breaker");
    let PolicyStats::CircuitBreaker(stats) = row.stats() else {
        panic!("a breaker row");
    };
    let keys = stats.keys.as_ref().expect("keyed");
    assert!(keys.keys <= 8, "{keys:?}");
    assert_eq!(keys.keys + keys.evicted, 64);
    assert!(snapshot.to_string().contains("keys"), "{snapshot}");
}
