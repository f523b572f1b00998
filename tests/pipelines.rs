//! Composite policies: each scenario runs three ways, through the stacked attributes
//! `#[retry] #[circuit_breaker] #[rate_limit] #[timeout] #[bulkhead]`, through
//! `registry().execute(name, ..)` and through `#[resilient(policy = name)]`, and the three give
//! the same outcomes and the same counters on every member. Then the rules of a composite
//! called before it is defined, and `#[resilient]` on the function shapes that need it.

mod common;

use std::fmt::Debug;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use common::{AppError, Runs};
use resilience::{
    bulkhead, circuit_breaker, rate_limit, registry, resilient, retry, timeout, BulkheadStats,
    CircuitBreakerStats, CircuitState, Event, Pipeline, PipelineBuilder, PolicyKind, PolicyStats,
    RateLimiterStats, RetryStats, TimeoutStats,
};
use tokio::sync::broadcast::error::TryRecvError;
use tokio::time::{sleep, Instant};

/// The three ways to run one scenario; the policies of each are named `<scenario>-<way>`.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Way {
    Attributes,
    Execute,
    Site,
}

const WAYS: [Way; 3] = [Way::Attributes, Way::Execute, Way::Site];

impl Way {
    fn name(self, scenario: &str) -> String {
        let way = match self {
            Way::Attributes => "attributes",
            Way::Execute => "execute",
            Way::Site => "site",
        };
        format!("{scenario}-{way}")
    }
}

/// What one way of running a scenario did: its calls' outcomes, how often the body ran, the
/// virtual time it took, and every member's counters.
#[derive(Debug, PartialEq)]
struct Observed {
    outcomes: Vec<String>,
    runs: u32,
    elapsed: Duration,
    retry: Option<RetryStats>,
    breaker: Option<CircuitBreakerStats>,
    limiter: Option<RateLimiterStats>,
    timeout: Option<TimeoutStats>,
    bulkhead: Option<BulkheadStats>,
}

impl Observed {
    fn of(name: &str, outcomes: Vec<String>, runs: &Runs, started: Instant) -> Self {
        Observed {
            outcomes,
            runs: runs.get(),
            elapsed: started.elapsed(),
            retry: registry().retry(name).map(|p| p.stats()),
            // Wall-clock times differ from run to run; the counters and the state must not.
            breaker: registry().circuit_breaker(name).map(|p| {
                let mut stats = p.stats();
                stats.last_success = None;
                stats.last_failure = None;
                stats.opened_at = None;
                stats
            }),
            limiter: registry().rate_limiter(name).map(|p| p.stats()),
            timeout: registry().timeout(name).map(|p| p.stats()),
            bulkhead: registry().bulkhead(name).map(|p| p.stats()),
        }
    }
}

/// A call's outcome, without the policy names that differ from way to way.
fn outcome<T: Debug>(result: &Result<T, AppError>) -> String {
    match result {
        Ok(value) => format!("Ok({value:?})"),
        Err(AppError::Down(why)) => format!("Down({why})"),
        Err(AppError::Policy(rejection)) => rejection.code().to_owned(),
    }
}

/// Registers the composite of `scenario` for the two ways that run one.
fn register(scenario: &str, members: impl Fn(PipelineBuilder) -> PipelineBuilder) {
    for way in [Way::Execute, Way::Site] {
        let builder = members(Pipeline::builder(way.name(scenario)));
        registry().register_pipeline(builder).unwrap();
    }
}

/// Runs the scenario each way, in turn, checks that the three agree, and returns what they did.
async fn each_way<F, Fut>(scenario: F) -> Observed
where
    F: Fn(Way) -> Fut,
    Fut: Future<Output = Observed>,
{
    let mut observed = Vec::new();
    for way in WAYS {
        observed.push(scenario(way).await);
    }
    let attributes = observed.remove(0);
    for (way, other) in WAYS[1..].iter().zip(observed) {
        assert_eq!(
            other, attributes,
            "{way:?} differs from the stacked attributes"
        );
    }
    attributes
}

// Scenario: transient failures, then a success.

async fn transient(runs: &Runs) -> Result<u32, AppError> {
    let run = runs.tick();
    sleep(Duration::from_millis(1)).await;
    if run < 3 {
        Err(AppError::Down("transient"))
    } else {
        Ok(run)
    }
}

#[retry(
    name = "transient-attributes",
    max_attempts = 3,
    backoff = "fixed",
    delay = "10ms"
)]
#[circuit_breaker(name = "transient-attributes", failure_threshold = 5)]
#[timeout(name = "transient-attributes", ms = 1000)]
#[bulkhead(name = "transient-attributes", max = 10)]
async fn transient_attributes(runs: &Runs) -> Result<u32, AppError> {
    transient(runs).await
}

#[resilient(policy = "transient-site")]
async fn transient_site(runs: &Runs) -> Result<u32, AppError> {
    transient(runs).await
}

#[tokio::test(start_paused = true)]
async fn transient_failures_then_a_success() {
    register("transient", |pipeline| {
        pipeline
            .retry(|r| r.max_attempts(3).fixed(Duration::from_millis(10)))
            .circuit_breaker(|b| b.failure_threshold(5))
            .timeout(Duration::from_secs(1))
            .bulkhead(|b| b.max_concurrent(10))
    });
    let observed = each_way(|way| async move {
        let runs = Runs::new();
        let started = Instant::now();
        let result = match way {
            Way::Attributes => transient_attributes(&runs).await,
            Way::Execute => {
                registry()
                    .execute("transient-execute", || transient(&runs))
                    .await
            }
            Way::Site => transient_site(&runs).await,
        };
        Observed::of(
            &way.name("transient"),
            vec![outcome(&result)],
            &runs,
            started,
        )
    })
    .await;

    assert_eq!(observed.outcomes, ["Ok(3)"]);
    // Three attempts of 1ms, two sleeps of 10ms.
    assert_eq!(observed.elapsed, Duration::from_millis(23));
    let retry = observed.retry.unwrap();
    assert_eq!((retry.retries, retry.successes_after_retry), (2, 1));
    let breaker = observed.breaker.unwrap();
    assert_eq!((breaker.failures, breaker.successes), (2, 1));
    assert_eq!(observed.timeout.unwrap().in_time, 3);
}

// Scenario: a persistent failure opens the breaker, and the open circuit is not retried.

async fn persistent(runs: &Runs) -> Result<u32, AppError> {
    runs.tick();
    Err(AppError::Down("persistent"))
}

#[retry(name = "persistent-attributes", max_attempts = 5, backoff = "none")]
#[circuit_breaker(name = "persistent-attributes", failure_threshold = 2)]
async fn persistent_attributes(runs: &Runs) -> Result<u32, AppError> {
    persistent(runs).await
}

#[resilient(policy = "persistent-site")]
async fn persistent_site(runs: &Runs) -> Result<u32, AppError> {
    persistent(runs).await
}

#[tokio::test(start_paused = true)]
async fn a_persistent_failure_opens_the_breaker_and_the_open_circuit_is_not_retried() {
    register("persistent", |pipeline| {
        pipeline
            .retry(|r| r.max_attempts(5).no_backoff())
            .circuit_breaker(|b| b.failure_threshold(2))
    });
    let observed = each_way(|way| async move {
        let runs = Runs::new();
        let started = Instant::now();
        let mut outcomes = Vec::new();
        for _ in 0..2 {
            let result = match way {
                Way::Attributes => persistent_attributes(&runs).await,
                Way::Execute => {
                    registry()
                        .execute("persistent-execute", || persistent(&runs))
                        .await
                }
                Way::Site => persistent_site(&runs).await,
            };
            outcomes.push(outcome(&result));
        }
        Observed::of(&way.name("persistent"), outcomes, &runs, started)
    })
    .await;

    assert_eq!(observed.outcomes, ["CIRCUIT_OPEN", "CIRCUIT_OPEN"]);
    // Two failures opened the circuit; neither call retried it.
    assert_eq!(observed.runs, 2);
    let breaker = observed.breaker.unwrap();
    assert_eq!(breaker.state, CircuitState::Open);
    assert_eq!((breaker.failures, breaker.rejected), (2, 2));
    assert_eq!(observed.retry.unwrap().not_retryable, 2);
}

// Scenario: a rate limit's `retry_after` is honoured by the retry above it.

async fn send(runs: &Runs) -> Result<u32, AppError> {
    Ok(runs.tick())
}

#[retry(
    name = "limited-attributes",
    max_attempts = 3,
    backoff = "fixed",
    delay = "10ms"
)]
#[rate_limit(name = "limited-attributes", rate = 1, per = "1s")]
async fn limited_attributes(runs: &Runs) -> Result<u32, AppError> {
    send(runs).await
}

#[resilient(policy = "limited-site")]
async fn limited_site(runs: &Runs) -> Result<u32, AppError> {
    send(runs).await
}

#[tokio::test(start_paused = true)]
async fn a_rate_limits_retry_after_is_honoured() {
    register("limited", |pipeline| {
        pipeline
            .retry(|r| r.max_attempts(3).fixed(Duration::from_millis(10)))
            .rate_limit(|l| l.rate(1).per(Duration::from_secs(1)))
    });
    let observed = each_way(|way| async move {
        let runs = Runs::new();
        let started = Instant::now();
        let mut outcomes = Vec::new();
        for _ in 0..2 {
            let result = match way {
                Way::Attributes => limited_attributes(&runs).await,
                Way::Execute => registry().execute("limited-execute", || send(&runs)).await,
                Way::Site => limited_site(&runs).await,
            };
            outcomes.push(outcome(&result));
        }
        Observed::of(&way.name("limited"), outcomes, &runs, started)
    })
    .await;

    assert_eq!(observed.outcomes, ["Ok(1)", "Ok(2)"]);
    // The second call slept the limiter's second, not the backoff's 10ms.
    assert_eq!(observed.elapsed, Duration::from_secs(1));
    let limiter = observed.limiter.unwrap();
    assert_eq!((limiter.permitted, limiter.rejected), (2, 1));
    assert_eq!(observed.retry.unwrap().retries, 1);
}

// Scenario: a timeout below the breaker counts as its failure.

async fn hang(runs: &Runs) -> Result<u32, AppError> {
    runs.tick();
    sleep(Duration::from_secs(10)).await;
    Ok(0)
}

#[retry(name = "hanging-attributes", max_attempts = 3, backoff = "none")]
#[circuit_breaker(name = "hanging-attributes", failure_threshold = 2)]
#[timeout(name = "hanging-attributes", ms = 100)]
async fn hanging_attributes(runs: &Runs) -> Result<u32, AppError> {
    hang(runs).await
}

#[resilient(policy = "hanging-site")]
async fn hanging_site(runs: &Runs) -> Result<u32, AppError> {
    hang(runs).await
}

#[tokio::test(start_paused = true)]
async fn a_timeout_counts_as_a_breaker_failure() {
    register("hanging", |pipeline| {
        pipeline
            .retry(|r| r.max_attempts(3).no_backoff())
            .circuit_breaker(|b| b.failure_threshold(2))
            .timeout(Duration::from_millis(100))
    });
    let observed = each_way(|way| async move {
        let runs = Runs::new();
        let started = Instant::now();
        let result = match way {
            Way::Attributes => hanging_attributes(&runs).await,
            Way::Execute => registry().execute("hanging-execute", || hang(&runs)).await,
            Way::Site => hanging_site(&runs).await,
        };
        Observed::of(&way.name("hanging"), vec![outcome(&result)], &runs, started)
    })
    .await;

    // Two timeouts (retried) opened the circuit; the third attempt was rejected, not retried.
    assert_eq!(observed.outcomes, ["CIRCUIT_OPEN"]);
    assert_eq!(observed.runs, 2);
    assert_eq!(observed.elapsed, Duration::from_millis(200));
    assert_eq!(observed.timeout.unwrap().timeouts, 2);
    let breaker = observed.breaker.unwrap();
    assert_eq!((breaker.state, breaker.failures), (CircuitState::Open, 2));
}

// Scenario: a full bulkhead below the breaker is not its failure.

async fn occupy(runs: &Runs) -> Result<u32, AppError> {
    let run = runs.tick();
    sleep(Duration::from_secs(1)).await;
    Ok(run)
}

#[retry(
    name = "crowded-attributes",
    max_attempts = 2,
    backoff = "fixed",
    delay = "10ms"
)]
#[circuit_breaker(name = "crowded-attributes", failure_threshold = 1)]
#[bulkhead(name = "crowded-attributes", max = 1)]
async fn crowded_attributes(runs: &Runs) -> Result<u32, AppError> {
    occupy(runs).await
}

#[resilient(policy = "crowded-site")]
async fn crowded_site(runs: &Runs) -> Result<u32, AppError> {
    occupy(runs).await
}

async fn crowded(way: Way, runs: &Runs) -> Result<u32, AppError> {
    match way {
        Way::Attributes => crowded_attributes(runs).await,
        Way::Execute => registry().execute("crowded-execute", || occupy(runs)).await,
        Way::Site => crowded_site(runs).await,
    }
}

#[tokio::test(start_paused = true)]
async fn a_full_bulkhead_is_not_a_breaker_failure() {
    register("crowded", |pipeline| {
        pipeline
            .retry(|r| r.max_attempts(2).fixed(Duration::from_millis(10)))
            .circuit_breaker(|b| b.failure_threshold(1))
            .bulkhead(|b| b.max_concurrent(1))
    });
    let observed = each_way(|way| async move {
        let runs = Runs::new();
        let started = Instant::now();
        // The first call holds the only slot for a second; the second finds it full twice.
        let (holder, crowded_out) = tokio::join!(crowded(way, &runs), crowded(way, &runs));
        let outcomes = vec![outcome(&holder), outcome(&crowded_out)];
        Observed::of(&way.name("crowded"), outcomes, &runs, started)
    })
    .await;

    assert_eq!(observed.outcomes, ["Ok(1)", "BULKHEAD_FULL"]);
    assert_eq!(observed.elapsed, Duration::from_secs(1));
    // A threshold of one failure, and still closed: the rejections were ignored.
    let breaker = observed.breaker.unwrap();
    assert_eq!(breaker.state, CircuitState::Closed);
    assert_eq!(
        (breaker.successes, breaker.ignored, breaker.failures),
        (1, 2, 0)
    );
    assert_eq!(observed.bulkhead.unwrap().rejected, 2);
    assert_eq!(observed.retry.unwrap().exhausted, 1);
}

// A composite called before anything defined it.

/// The `PolicyMissing` events of a composite named `name` received so far.
fn missing_events(events: &mut tokio::sync::broadcast::Receiver<Event>, name: &str) -> usize {
    let mut count = 0;
    loop {
        match events.try_recv() {
            Ok(Event::PolicyMissing {
                kind: PolicyKind::Pipeline,
                name: missing,
                ..
            }) if &*missing == name => count += 1,
            Ok(_) => {}
            Err(TryRecvError::Lagged(skipped)) => {
                panic!("the test fell {skipped} events behind: it cannot count them")
            }
            Err(TryRecvError::Empty | TryRecvError::Closed) => return count,
        }
    }
}

#[tokio::test(start_paused = true)]
async fn execute_on_an_undefined_name_runs_unprotected_and_reports_it_once() {
    let mut events = registry().subscribe();
    let runs = Runs::new();
    for _ in 0..3 {
        let result = registry()
            .execute("undefined-composite", || persistent(&runs))
            .await;
        assert_eq!(result, Err(AppError::Down("persistent")));
    }
    // Unprotected: once per call, nothing retried.
    assert_eq!(runs.get(), 3);
    assert_eq!(missing_events(&mut events, "undefined-composite"), 1);

    let row = registry()
        .policies()
        .into_iter()
        .find(|p| p.kind() == PolicyKind::Pipeline && p.name() == "undefined-composite")
        .unwrap();
    assert!(row.missing());
    assert!(matches!(row.stats(), PolicyStats::Pipeline(s) if s.unprotected_calls == 3));
    assert!(registry()
        .pipeline("undefined-composite")
        .unwrap()
        .members()
        .is_empty());
}

#[resilient(policy = "late-composite")]
async fn late_site(runs: &Runs) -> Result<u32, AppError> {
    persistent(runs).await
}

#[tokio::test(start_paused = true)]
async fn a_site_called_before_its_composite_is_defined_uses_the_members_from_then_on() {
    let mut events = registry().subscribe();
    let runs = Runs::new();
    assert_eq!(late_site(&runs).await, Err(AppError::Down("persistent")));
    assert_eq!(runs.get(), 1, "unprotected: no retry yet");
    // `execute` by the same name shares the site's rule: the same missing composite.
    let _ = registry()
        .execute("late-composite", || persistent(&runs))
        .await;
    assert_eq!(runs.get(), 2);
    assert_eq!(missing_events(&mut events, "late-composite"), 1);

    let defined = registry()
        .register_pipeline(
            Pipeline::builder("late-composite")
                .retry(|r| r.max_attempts(3).no_backoff())
                .timeout(Duration::from_secs(1)),
        )
        .unwrap();
    assert_eq!(late_site(&runs).await, Err(AppError::Down("persistent")));
    assert_eq!(runs.get(), 5, "three attempts now");
    let retry = registry().retry("late-composite").unwrap();
    assert_eq!((retry.stats().calls, retry.stats().exhausted), (1, 1));
    assert_eq!(
        registry().timeout("late-composite").unwrap().stats().calls,
        3
    );
    assert!(Arc::ptr_eq(
        &defined,
        &registry().pipeline("late-composite").unwrap()
    ));
    let row = registry()
        .policies()
        .into_iter()
        .find(|p| p.kind() == PolicyKind::Pipeline && p.name() == "late-composite")
        .unwrap();
    assert!(!row.missing());
    assert_eq!(row.config(), "retry -> timeout");
}

// `#[resilient]` on the function shapes a re-run body needs care for.

#[derive(Debug, Default)]
struct Account {
    charges: u32,
}

impl Account {
    /// `&mut self`, an owned argument (cloned for each attempt but the last) and a `&mut` one.
    #[resilient(policy = "shapes-composite")]
    async fn charge(&mut self, memo: String, log: &mut Vec<String>) -> Result<u32, AppError> {
        self.charges += 1;
        log.push(memo);
        tokio::task::yield_now().await;
        if self.charges < 3 {
            Err(AppError::Down("declined"))
        } else {
            Ok(self.charges)
        }
    }
}

/// A generic function with an `impl Trait` argument: `Clone` by its bound.
#[resilient(policy = "shapes-composite")]
async fn describe<T: Debug + Clone + Send>(
    value: T,
    suffix: impl AsRef<str> + Clone,
) -> Result<String, AppError> {
    Ok(format!("{value:?}{}", suffix.as_ref()))
}

#[tokio::test(start_paused = true)]
async fn resilient_reruns_methods_and_owned_arguments_as_retry_does() {
    registry()
        .register_pipeline(
            Pipeline::builder("shapes-composite")
                .retry(|r| r.max_attempts(3).no_backoff())
                .bulkhead(|b| b.max_concurrent(4)),
        )
        .unwrap();
    let mut account = Account::default();
    let mut log = Vec::new();
    let charged = account.charge("rent".to_owned(), &mut log).await;
    assert_eq!(charged, Ok(3));
    assert_eq!(log, ["rent", "rent", "rent"]);

    assert_eq!(describe(7_u8, "!".to_owned()).await.unwrap(), "7!");

    fn assert_send<F: Future + Send>(future: F) -> F {
        future
    }
    let runs = Runs::new();
    assert!(assert_send(send_check_site(&runs)).await.is_err());
}

// A site of its own for the `Send` check: `transient-site` belongs to
// `transient_failures_then_a_success`, which runs beside this test in the same registry, and
// sharing it made each test see the other's calls.
#[resilient(policy = "send-check-site")]
async fn send_check_site(runs: &Runs) -> Result<u32, AppError> {
    transient(runs).await
}
