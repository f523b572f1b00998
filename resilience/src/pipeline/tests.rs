//! A pipeline's members replaced in place under calls, and the registry's rules for a name
//! defined late. Each test has a registry of its own (`Registry::default()`).

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::{Pipeline, PipelineMembers};
use crate::{Bulkhead, Error, Event, PolicyKind, Registry, Retry, Timeout};

fn timeout(name: &str, ms: u64) -> Arc<Timeout> {
    Arc::new(Timeout::new(name, Duration::from_millis(ms)).unwrap())
}

fn with_timeout(timeout: &Arc<Timeout>) -> PipelineMembers {
    PipelineMembers {
        timeout: Some(Arc::clone(timeout)),
        ..PipelineMembers::default()
    }
}

#[test]
fn execute_is_send_when_the_operation_is() {
    fn assert_send<F: std::future::Future + Send>(_: F) {}
    let pipeline = Pipeline::builder("send").build().unwrap();
    assert_send(pipeline.execute(|| async { Ok::<u32, Error>(1) }));
    let registry = Registry::default();
    assert_send(registry.execute("send", || async { Ok::<u32, Error>(1) }));
}

#[tokio::test(start_paused = true)]
async fn a_running_call_keeps_its_members_and_the_next_call_gets_the_new_ones() {
    let registry = Registry::default();
    let patient = timeout("swap", 1_000);
    let strict = timeout("swap", 100);
    let pipeline = registry.define_pipeline("swap", with_timeout(&patient));

    let slow = || async {
        tokio::time::sleep(Duration::from_millis(500)).await;
        Ok::<_, Error>("done")
    };
    let running = pipeline.execute(slow);
    let replace = async {
        tokio::time::sleep(Duration::from_millis(10)).await;
        let same = registry.define_pipeline("swap", with_timeout(&strict));
        assert!(Arc::ptr_eq(&same, &pipeline), "replaced in place");
    };
    let (result, ()) = tokio::join!(running, replace);
    assert_eq!(result, Ok("done"), "started under the 1s timeout");

    let after = pipeline.execute(slow).await;
    assert!(
        matches!(after, Err(Error::Timeout { after, .. }) if after == Duration::from_millis(100))
    );
    assert_eq!((patient.stats().calls, patient.stats().in_time), (1, 1));
    assert_eq!((strict.stats().calls, strict.stats().timeouts), (1, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_replaced_under_concurrent_calls_run_every_call_through_one_set() {
    const TASKS: u32 = 4;
    const CALLS: u32 = 500;
    let registry = Arc::new(Registry::default());
    // Two sets of members: each call runs through exactly one, whole.
    let first = (
        timeout("concurrent", 60_000),
        Arc::new(Bulkhead::new("concurrent", 1_000).unwrap()),
    );
    let second = (
        timeout("concurrent", 60_000),
        Arc::new(Bulkhead::new("concurrent", 1_000).unwrap()),
    );
    let members = |(timeout, bulkhead): &(Arc<Timeout>, Arc<Bulkhead>)| PipelineMembers {
        retry: Some(Arc::new(Retry::builder("concurrent").build().unwrap())),
        timeout: Some(Arc::clone(timeout)),
        bulkhead: Some(Arc::clone(bulkhead)),
        ..PipelineMembers::default()
    };
    let pipeline = registry.define_pipeline("concurrent", members(&first));
    let ran = Arc::new(AtomicU32::new(0));

    let callers: Vec<_> = (0..TASKS)
        .map(|_| {
            let registry = Arc::clone(&registry);
            let ran = Arc::clone(&ran);
            tokio::spawn(async move {
                for _ in 0..CALLS {
                    let result = registry
                        .execute("concurrent", || async {
                            ran.fetch_add(1, Ordering::Relaxed);
                            tokio::task::yield_now().await;
                            Ok::<_, Error>(())
                        })
                        .await;
                    assert_eq!(result, Ok(()));
                }
            })
        })
        .collect();
    let swapper = {
        let registry = Arc::clone(&registry);
        let sets = [
            members(&first),
            members(&second),
            PipelineMembers::default(),
        ];
        tokio::spawn(async move {
            for i in 0..300 {
                registry.define_pipeline("concurrent", sets[i % 3].clone());
                tokio::task::yield_now().await;
            }
            registry.define_pipeline("concurrent", sets[0].clone());
        })
    };
    for caller in callers {
        caller.await.unwrap();
    }
    swapper.await.unwrap();

    let total = TASKS * CALLS;
    assert_eq!(ran.load(Ordering::Relaxed), total, "one attempt per call");
    // Every call went through one timeout, or, with no members, through none.
    let timed = first.0.stats().calls + second.0.stats().calls;
    assert_eq!(timed + pipeline.stats().unprotected_calls, u64::from(total));
    // Every slot was given back.
    assert_eq!(first.1.stats().in_flight, 0);
    assert_eq!(second.1.stats().in_flight, 0);
    assert_eq!(
        registry.pipeline("concurrent").unwrap().members().kinds(),
        [PolicyKind::Retry, PolicyKind::Timeout, PolicyKind::Bulkhead]
    );
}

#[tokio::test]
async fn a_definition_fills_the_missing_placeholder_in_place() {
    let registry = Registry::default();
    let mut events = crate::events::subscribe();
    let site = registry.pipeline_or_missing("late");
    assert_eq!(registry.missing_pipelines(), [Arc::from("late")]);
    assert!(Arc::ptr_eq(&site, &registry.pipeline_or_missing("late")));

    let defined = registry.define_pipeline("late", with_timeout(&timeout("late", 50)));
    assert!(Arc::ptr_eq(&site, &defined));
    assert!(registry.missing_pipelines().is_empty());
    assert_eq!(site.members().kinds(), [PolicyKind::Timeout]);

    let mut missing = 0;
    loop {
        let event = match events.try_recv() {
            Ok(event) => event,
            // Tests running beside this one send events too.
            Err(tokio::sync::broadcast::error::TryRecvError::Lagged(_)) => continue,
            Err(_) => break,
        };
        if matches!(&event, Event::PolicyMissing { kind: PolicyKind::Pipeline, name } if &**name == "late")
        {
            missing += 1;
            assert!(event.to_string().contains("run unprotected"), "{event}");
        }
    }
    assert_eq!(missing, 1);
}

#[test]
fn a_second_registration_keeps_the_first_and_reports_the_differing_members() {
    let registry = Registry::default();
    let first = registry
        .register_pipeline(Pipeline::builder("twice").retry(|r| r.max_attempts(2)))
        .unwrap();
    let second = registry
        .register_pipeline(
            Pipeline::builder("twice")
                .retry(|r| r.max_attempts(5))
                .bulkhead(|b| b.max_concurrent(3)),
        )
        .unwrap();
    assert!(Arc::ptr_eq(&first, &second));
    assert_eq!(first.members().kinds(), [PolicyKind::Retry]);
    // The bulkhead it would not use is not registered.
    assert!(registry.bulkhead("twice").is_none());
    let rows = registry.policies();
    let row = |kind| rows.iter().find(|p| p.kind() == kind).unwrap();
    assert_eq!(row(PolicyKind::Pipeline).conflicts(), ["bulkhead"]);
    assert_eq!(row(PolicyKind::Pipeline).config(), "retry");
    // The retry it shares keeps its settings; the other one is reported as for any policy.
    assert_eq!(row(PolicyKind::Retry).conflicts(), ["max_attempts"]);
    assert_eq!(
        first
            .members()
            .retry
            .as_ref()
            .unwrap()
            .config()
            .max_attempts,
        2
    );
}

#[test]
fn a_refused_member_registers_nothing() {
    let registry = Registry::default();
    let refused = registry.register_pipeline(
        Pipeline::builder("refused")
            .retry(|r| r.max_attempts(3))
            .bulkhead(|b| b.max_concurrent(0)),
    );
    assert!(refused.is_err());
    assert!(registry.policies().is_empty());
    assert!(registry.pipeline("refused").is_none());
}

#[test]
fn the_snapshot_shows_a_missing_composite() {
    let registry = Registry::default();
    registry.pipeline_or_missing("nowhere");
    let snapshot = registry.snapshot();
    let row = &snapshot.policies()[0];
    assert_eq!(
        (row.kind(), row.name(), row.missing()),
        (PolicyKind::Pipeline, "nowhere", true)
    );
    let table = snapshot.to_string();
    let line = table.lines().nth(1).unwrap();
    assert!(line.starts_with("policy"), "{table}");
    assert!(
        line.contains("no members: calls run unprotected"),
        "{table}"
    );
    assert!(line.contains("MISSING"), "{table}");
}

/// An `execute` future's size for an operation capturing `N` bytes. Every layer borrows the one
/// below instead of moving it, so the members add a fixed size, however large the operation.
fn execute_size<const N: usize>() -> (usize, usize) {
    let pipeline = Pipeline::builder("sizes")
        .retry(|r| r)
        .circuit_breaker(|b| b)
        .rate_limit(|l| l.rate(1))
        .timeout(Duration::from_secs(1))
        .bulkhead(|b| b.max_concurrent(1))
        .build()
        .unwrap();
    let data = [0_u8; N];
    let op = move || async move { Ok::<_, Error>(data.len()) };
    let registry = Registry::default();
    let direct = std::mem::size_of_val(&pipeline.execute(op));
    let by_name = std::mem::size_of_val(&registry.execute("sizes", op));
    (direct, by_name)
}

#[test]
fn an_execute_future_grows_with_the_operation_not_with_its_layers() {
    let (small, small_by_name) = execute_size::<64>();
    let (large, large_by_name) = execute_size::<4096>();
    // Three copies of the captured bytes, none per layer: the closure, which an `async fn` keeps
    // twice (its argument and the body's binding of it, rust-lang/rust#62958), and one
    // attempt's future.
    let growth = 3 * (4096 - 64);
    assert!(large - small <= growth, "{small} -> {large}");
    assert!(
        large_by_name - small_by_name <= growth,
        "{small_by_name} -> {large_by_name}"
    );
    assert!(small < 2048, "the layers' own state: {small} bytes");
}

#[tokio::test(start_paused = true)]
async fn a_configuration_defines_its_composites_in_place() {
    let registry = Registry::default();
    let site = registry.pipeline_or_missing("cfg-composite");
    let config = crate::Config::from_toml_str(
        "[policy.cfg-composite]\nretry = { max_attempts = 2, backoff = \"none\" }\ntimeout = \"50ms\"\n",
    )
    .unwrap();
    registry.apply(&config).unwrap();
    assert!(registry.missing_pipelines().is_empty());
    assert_eq!(
        site.members().kinds(),
        [PolicyKind::Retry, PolicyKind::Timeout]
    );
    assert_eq!(
        registry
            .retry("cfg-composite")
            .unwrap()
            .config()
            .max_attempts,
        2
    );

    let runs = AtomicU32::new(0);
    let hanging = site
        .execute(|| async {
            runs.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_secs(1)).await;
            Ok::<_, Error>(())
        })
        .await;
    assert!(
        matches!(hanging, Err(Error::Timeout { after, .. }) if after == Duration::from_millis(50))
    );
    assert_eq!(runs.load(Ordering::SeqCst), 2);

    // A reload lists the members anew: in place, under the site. (The timeout stays: a policy
    // only the file gave settings cannot lose its required `duration`.)
    let reload = crate::Config::from_toml_str(
        "[policy.cfg-composite]\ntimeout = \"80ms\"\nbulkhead = { max = 1 }\n",
    )
    .unwrap();
    registry.apply(&reload).unwrap();
    assert_eq!(
        site.members().kinds(),
        [PolicyKind::Timeout, PolicyKind::Bulkhead]
    );
    assert_eq!(
        registry.timeout("cfg-composite").unwrap().duration(),
        Duration::from_millis(80)
    );

    // Unregistered: gone from the listings; the next definition revives the same object.
    assert!(registry.unregister_policy("cfg-composite"));
    assert!(registry.pipeline("cfg-composite").is_none());
    assert!(!registry
        .policy_names()
        .contains(&"cfg-composite".to_owned()));
    let revived = registry
        .register_pipeline(Pipeline::builder("cfg-composite").retry(|r| r.max_attempts(4)))
        .unwrap();
    assert!(Arc::ptr_eq(&site, &revived));
    assert_eq!(site.members().kinds(), [PolicyKind::Retry]);
    assert!(registry
        .policy_names()
        .contains(&"cfg-composite".to_owned()));
}
