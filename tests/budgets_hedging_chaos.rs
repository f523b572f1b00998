//! Retry budgets, `#[hedge]` and `#[chaos]` as a user writes them, alone and stacked with the
//! other attributes, through the registry, the configuration file, the snapshot and events.
//!
//! Stack order (top = outermost, as for every attribute): `#[retry]` → `#[hedge]` →
//! `#[circuit_breaker]` → `#[rate_limit]` → `#[timeout]` → `#[bulkhead]` → `#[chaos]`. A retry
//! above a hedge retries the hedged call; each hedged attempt goes through the policies below
//! it (its own timeout, counted by the breaker); chaos innermost stands for the dependency
//! itself, so every policy above sees its faults and delays.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{AppError, Runs};
use resilience::{
    chaos, circuit_breaker, hedge, registry, retry, timeout, CircuitState, Config, Event,
    PolicyKind, PolicyStats, RetryBudget,
};
use tokio::time::{sleep, Instant};

/// The next event of `kind` named `name`.
async fn next_event(
    events: &mut tokio::sync::broadcast::Receiver<Event>,
    kind: PolicyKind,
    name: &str,
) -> Event {
    loop {
        let event = events.recv().await.expect("events");
        if event.kind() == Some(kind) && event.name() == Some(name) {
            return event;
        }
    }
}

#[retry(max_attempts = 5, backoff = "none", budget = "it-budget-spent")]
async fn always_down(runs: &Runs) -> Result<(), AppError> {
    runs.tick();
    Err(AppError::Down("always"))
}

#[resilience::test]
async fn an_empty_budget_ends_the_retry_with_the_last_error() {
    let budget = registry()
        .retry_budget_or_register(
            RetryBudget::builder("it-budget-spent")
                .ratio(0.0)
                .min_per_sec(1)
                .window(Duration::from_secs(1)),
        )
        .unwrap();
    let mut events = registry().subscribe();
    let runs = Runs::new();
    // The floor allows one retry in the window: two runs instead of five.
    assert_eq!(always_down(&runs).await, Err(AppError::Down("always")));
    assert_eq!(runs.get(), 2);
    match next_event(&mut events, PolicyKind::RetryBudget, "it-budget-spent").await {
        Event::RetryBudgetExhausted {
            policy_kind,
            policy,
            ..
        } => {
            assert_eq!(policy_kind, PolicyKind::Retry);
            assert!(policy.ends_with("always_down"), "{policy}");
        }
        other => panic!("unexpected {other}"),
    }
    // Spent: the next call runs once.
    assert!(always_down(&runs).await.is_err());
    assert_eq!(runs.get(), 3);
    let stats = budget.stats();
    assert_eq!(
        (stats.deposits, stats.withdrawals, stats.refusals),
        (2, 1, 2)
    );
    // A second later the window is fresh.
    tokio::time::advance(Duration::from_secs(1)).await;
    assert!(always_down(&runs).await.is_err());
    assert_eq!(runs.get(), 5);
    let retry_row = registry()
        .policies()
        .into_iter()
        .find(|row| row.kind() == PolicyKind::Retry && row.name().ends_with("always_down"))
        .unwrap();
    assert!(
        retry_row.config().ends_with("budget=it-budget-spent"),
        "{}",
        retry_row.config()
    );
    assert!(matches!(retry_row.stats(), PolicyStats::Retry(s) if s.exhausted == 3));
}

#[retry(max_attempts = 2, backoff = "none", budget = "it-budget-undefined")]
async fn flaky_once(runs: &Runs) -> Result<u32, AppError> {
    match runs.tick() {
        1 => Err(AppError::Down("once")),
        n => Ok(n),
    }
}

#[resilience::test]
async fn a_budget_named_but_never_defined_has_the_defaults() {
    let runs = Runs::new();
    assert_eq!(flaky_once(&runs).await, Ok(2));
    let budget = registry().retry_budget("it-budget-undefined").unwrap();
    assert_eq!(budget.config(), resilience::RetryBudgetConfig::default());
    let row = registry()
        .policies()
        .into_iter()
        .find(|row| row.kind() == PolicyKind::RetryBudget && row.name() == "it-budget-undefined")
        .unwrap();
    assert_eq!(row.config(), "ratio=0.2 min_per_sec=10 window=10s");
    match row.stats() {
        PolicyStats::RetryBudget(stats) => {
            assert_eq!(
                (stats.deposits, stats.withdrawals, stats.refusals),
                (1, 1, 0)
            );
        }
        other => panic!("unexpected {other:?}"),
    }
    let table = registry().snapshot().to_string();
    assert!(
        table.contains("deposits=1 withdrawals=1 refusals=0"),
        "{table}"
    );
}

#[resilience::test]
async fn the_file_sets_a_budget_and_refuses_one_that_never_retries() {
    let budget = registry()
        .retry_budget_or_register(RetryBudget::builder("it-budget-file").ratio(0.1))
        .unwrap();
    let config =
        Config::from_toml_str("[retry_budget.it-budget-file]\nratio = 0.5\nmin_per_sec = 0\n")
            .unwrap();
    let report = registry().apply(&config).unwrap();
    assert!(report
        .changed
        .iter()
        .any(|change| change.name == "it-budget-file" && change.keys == ["ratio", "min_per_sec"]));
    assert_eq!(
        (budget.config().ratio, budget.config().min_per_sec),
        (0.5, 0)
    );
    let row = registry()
        .policies()
        .into_iter()
        .find(|row| row.name() == "it-budget-file")
        .unwrap();
    assert_eq!(row.source_of("ratio"), resilience::Source::File);

    // Stacked on the code's 0.1, a file's floor of 0 is fine; its ratio 0 with it is not.
    let never =
        Config::from_toml_str("[retry_budget.it-budget-file]\nratio = 0\nmin_per_sec = 0\n")
            .unwrap();
    let error = registry().apply(&never).unwrap_err().to_string();
    assert!(error.contains("never allow a retry"), "{error}");
    assert_eq!(
        budget.config().ratio,
        0.5,
        "the configuration in force stays"
    );
    // Every key is checked when read, with the table's ranges.
    let bad = Config::from_toml_str("[retry_budget.x]\nratio = -1\n").unwrap_err();
    assert!(bad.to_string().contains("ratio"), "{bad}");
    registry().apply(&Config::empty()).unwrap();
}

#[chaos(fault_rate = 1.0, name = "it-chaos-basic")]
async fn dependency(runs: &Runs) -> Result<u32, AppError> {
    Ok(runs.tick())
}

#[resilience::test]
async fn chaos_is_off_until_enabled_at_run_time() {
    let runs = Runs::new();
    assert_eq!(dependency(&runs).await, Ok(1));
    let chaos = registry()
        .chaos("it-chaos-basic")
        .expect("registered by the first call");
    assert!(!chaos.is_enabled());
    let mut events = registry().subscribe();
    chaos.enable();
    let err = dependency(&runs).await.unwrap_err();
    assert_eq!(err.code(), Some("INJECTED"));
    assert_eq!(runs.get(), 1, "a failed call does not run");
    match next_event(&mut events, PolicyKind::Chaos, "it-chaos-basic").await {
        Event::ChaosInjected { fault, delay, .. } => assert!(fault && delay.is_none()),
        other => panic!("unexpected {other}"),
    }
    chaos.disable();
    assert_eq!(dependency(&runs).await, Ok(2));
    let row = registry()
        .policies()
        .into_iter()
        .find(|row| row.kind() == PolicyKind::Chaos && row.name() == "it-chaos-basic")
        .unwrap();
    assert!(matches!(row.stats(), PolicyStats::Chaos(s) if s.injected_faults == 1 && !s.enabled));
}

/// The user's own error for an injected fault.
fn teapot() -> std::io::Error {
    std::io::Error::other("injected teapot")
}

#[chaos(fault_rate = 0.5, error = teapot, name = "it-chaos-seeded")]
async fn seeded() -> Result<(), std::io::Error> {
    Ok(())
}

#[resilience::test]
async fn a_seeded_chaos_injects_the_users_error_reproducibly() {
    seeded().await.unwrap();
    let chaos = registry().chaos("it-chaos-seeded").unwrap();
    chaos.enable();
    let mut outcomes = Vec::new();
    for _ in 0..2 {
        chaos.seed(9);
        let mut run = Vec::new();
        for _ in 0..32 {
            match seeded().await {
                Ok(()) => run.push(true),
                Err(error) => {
                    assert_eq!(error.to_string(), "injected teapot");
                    run.push(false);
                }
            }
        }
        outcomes.push(run);
    }
    assert_eq!(outcomes[0], outcomes[1]);
    assert!(outcomes[0].contains(&true) && outcomes[0].contains(&false));
    chaos.disable();
}

#[chaos(latency = "200ms", name = "it-chaos-latency")]
async fn slow_by_chaos() -> Result<(), AppError> {
    Ok(())
}

#[timeout(ms = 100)]
#[chaos(latency = "200ms", name = "it-chaos-under-timeout")]
async fn timed_chaos() -> Result<(), AppError> {
    Ok(())
}

#[resilience::test]
async fn the_file_enables_chaos_and_its_delays_meet_the_timeout_above() {
    slow_by_chaos().await.unwrap();
    timed_chaos().await.unwrap();
    let config = Config::from_toml_str(
        "[chaos.it-chaos-latency]\nenabled = true\n\n[chaos.it-chaos-under-timeout]\nenabled = true\n",
    )
    .unwrap();
    registry().apply(&config).unwrap();
    let started = Instant::now();
    slow_by_chaos().await.unwrap();
    assert_eq!(started.elapsed(), Duration::from_millis(200));
    let err = timed_chaos().await.unwrap_err();
    assert_eq!(err.code(), Some("TIMEOUT"));
    // A file without the sections takes back what the earlier one enabled.
    registry().apply(&Config::empty()).unwrap();
    assert!(!registry().chaos("it-chaos-latency").unwrap().is_enabled());
    let started = Instant::now();
    slow_by_chaos().await.unwrap();
    assert_eq!(started.elapsed(), Duration::ZERO);
}

#[circuit_breaker(failure_threshold = 2, name = "it-chaos-breaker")]
#[chaos(fault_rate = 1.0, name = "it-chaos-below-breaker")]
async fn guarded() -> Result<(), AppError> {
    Ok(())
}

#[resilience::test]
async fn a_breaker_above_chaos_counts_its_faults_as_failures() {
    guarded().await.unwrap();
    registry().chaos("it-chaos-below-breaker").unwrap().enable();
    assert!(guarded().await.is_err());
    assert!(guarded().await.is_err());
    let breaker = registry().circuit_breaker("it-chaos-breaker").unwrap();
    assert_eq!(breaker.state(), CircuitState::Open);
    assert_eq!(guarded().await.unwrap_err().code(), Some("CIRCUIT_OPEN"));
    registry()
        .chaos("it-chaos-below-breaker")
        .unwrap()
        .disable();
}

#[retry(max_attempts = 3, backoff = "none")]
#[chaos(fault_rate = 0.5, name = "it-chaos-below-retry")]
async fn retried(runs: &Runs) -> Result<u32, AppError> {
    Ok(runs.tick())
}

#[resilience::test]
async fn a_retry_above_chaos_retries_its_faults() {
    let runs = Runs::new();
    retried(&runs).await.unwrap();
    let chaos = registry().chaos("it-chaos-below-retry").unwrap();
    chaos.enable();
    chaos.seed(1);
    let mut succeeded = 0;
    for _ in 0..20 {
        if retried(&runs).await.is_ok() {
            succeeded += 1;
        }
    }
    // One in eight calls fails three times running; most succeed after a retry.
    assert!(succeeded >= 12, "{succeeded}");
    assert!(chaos.stats().injected_faults > 0);
    chaos.disable();
}

#[hedge(delay = "50ms", max_hedged = 1, name = "it-hedge")]
async fn lookup(key: String, runs: Arc<Runs>) -> Result<String, AppError> {
    // The first attempt hangs; the hedge answers.
    let wait = if runs.tick() == 1 { 10_000 } else { 5 };
    sleep(Duration::from_millis(wait)).await;
    Ok(key)
}

#[resilience::test]
async fn a_hedge_answers_for_a_slow_call_with_its_own_copy_of_the_arguments() {
    let runs = Arc::new(Runs::new());
    let started = Instant::now();
    assert_eq!(
        lookup("k".to_owned(), runs.clone()).await,
        Ok("k".to_owned())
    );
    assert_eq!(started.elapsed(), Duration::from_millis(55));
    assert_eq!(runs.get(), 2);
    let hedge = registry().hedge("it-hedge").unwrap();
    assert_eq!((hedge.stats().hedged, hedge.stats().hedge_wins), (1, 1));
}

#[retry(max_attempts = 2, backoff = "none", name = "it-stack-retry")]
#[hedge(delay = "50ms", max_hedged = 1, name = "it-stack-hedge")]
#[timeout(ms = 80, name = "it-stack-timeout")]
async fn stacked(runs: &Runs) -> Result<u32, AppError> {
    let n = runs.tick();
    // Attempts 1 and 2 (the first hedged call) hang past their own timeouts; the retry's
    // hedged call answers with its first attempt.
    if n <= 2 {
        sleep(Duration::from_secs(10)).await;
    }
    Ok(n)
}

#[resilience::test]
async fn retry_hedge_timeout_nest_as_written() {
    let runs = Runs::new();
    let started = Instant::now();
    assert_eq!(stacked(&runs).await, Ok(3));
    // The primary times out at 80ms, its hedge (from 50ms) at 130ms: the hedged call fails
    // with the primary's timeout, and the retry's call answers at once.
    assert_eq!(started.elapsed(), Duration::from_millis(130));
    assert_eq!(
        registry()
            .timeout("it-stack-timeout")
            .unwrap()
            .stats()
            .timeouts,
        2
    );
    assert_eq!(
        registry().hedge("it-stack-hedge").unwrap().stats().hedged,
        1
    );
    assert_eq!(
        registry().retry("it-stack-retry").unwrap().stats().retries,
        1
    );
}

#[hedge(
    delay = "10ms",
    max_hedged = 2,
    budget = "it-hedge-budget",
    name = "it-hedge-budgeted"
)]
async fn budgeted_hedge(runs: &Runs) -> Result<u32, AppError> {
    runs.tick();
    sleep(Duration::from_millis(100)).await;
    Ok(1)
}

#[resilience::test]
async fn hedges_draw_on_a_named_budget() {
    registry()
        .retry_budget_or_register(
            RetryBudget::builder("it-hedge-budget")
                .ratio(0.0)
                .min_per_sec(1)
                .window(Duration::from_secs(1)),
        )
        .unwrap();
    let mut events = registry().subscribe();
    let runs = Runs::new();
    assert_eq!(budgeted_hedge(&runs).await, Ok(1));
    assert_eq!(runs.get(), 2, "one hedge, the second refused");
    match next_event(&mut events, PolicyKind::RetryBudget, "it-hedge-budget").await {
        Event::RetryBudgetExhausted { policy_kind, .. } => {
            assert_eq!(policy_kind, PolicyKind::Hedge)
        }
        other => panic!("unexpected {other}"),
    }
}

#[resilience::test]
async fn a_composite_retry_names_a_budget_in_the_file() {
    let config = Config::from_toml_str(
        "[retry_budget.it-pay-budget]\nratio = 0.5\n\n[policy.it-pay]\nretry = { max_attempts = 3, delay = \"10ms\", budget = \"it-pay-budget\" }\n",
    )
    .unwrap();
    registry().apply(&config).unwrap();
    let answer: Result<u32, resilience::Failure<AppError>> =
        registry().execute("it-pay", || async { Ok(7) }).await;
    assert_eq!(answer.unwrap(), 7);
    let retry = registry().retry("it-pay").unwrap();
    assert_eq!(retry.config().budget.as_deref(), Some("it-pay-budget"));
    let budget = registry().retry_budget("it-pay-budget").unwrap();
    assert_eq!(budget.config().ratio, 0.5);
    assert_eq!(budget.stats().deposits, 1);
}
