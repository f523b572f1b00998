//! Keyed bulkheads as a user writes them: `#[bulkhead(key = ..)]` per tenant, with a key
//! computed from an argument the body then takes.

use std::time::Duration;

use resilience::{bulkhead, registry, Error};

/// A job the body consumes: the key borrows its tenant before the call.
struct Job {
    tenant: String,
    payload: u64,
}

#[bulkhead(name = "kbh-per-tenant", max = 1, key = job.tenant.clone(), max_keys = 1000, key_idle = "5m")]
async fn run(job: Job, hold: Duration) -> Result<u64, Error> {
    let Job { payload, .. } = job;
    tokio::time::sleep(hold).await;
    Ok(payload)
}

fn job(tenant: &str, payload: u64) -> Job {
    Job {
        tenant: tenant.to_owned(),
        payload,
    }
}

#[tokio::test(start_paused = true)]
async fn each_tenant_has_slots_of_its_own() {
    let long = run(job("acme", 1), Duration::from_secs(1));
    let probe = async {
        tokio::task::yield_now().await;
        let same = run(job("acme", 2), Duration::ZERO).await;
        let other = run(job("globex", 3), Duration::ZERO).await;
        let bulkhead = registry().bulkhead("kbh-per-tenant").unwrap();
        assert_eq!(bulkhead.key_in_flight(&"acme".to_owned()), 1);
        assert_eq!(bulkhead.stats().in_flight, 1);
        (same, other)
    };
    let (first, (same, other)) = tokio::join!(long, probe);
    assert_eq!(first, Ok(1));
    assert!(matches!(same, Err(Error::BulkheadFull { .. })), "{same:?}");
    assert_eq!(other, Ok(3), "another tenant is not held off");
    let bulkhead = registry().bulkhead("kbh-per-tenant").unwrap();
    assert_eq!(bulkhead.stats().in_flight, 0);
    assert_eq!(bulkhead.key_count(), Some(2));
    let keys = bulkhead.stats().keys.expect("keyed");
    assert_eq!((keys.keys, keys.max_keys), (2, 1000));
    assert!(registry().snapshot().to_string().contains("2/1000 keys"));
    let config = bulkhead.config();
    assert_eq!(
        (config.key_idle, config.max_keys),
        (Duration::from_secs(300), 1000)
    );
}
