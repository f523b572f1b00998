//! The supervisor against a small reference model of OTP's rules: random children, strategy
//! and intensity, then random crashes, normal exits, panics and clock advances; after each,
//! the starts and stops seen, and whether and how the run ended, must be the model's.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use proptest::prelude::*;
use proptest::strategy::Strategy as _;
use tokio::time::Instant;

use super::test_child::{settle, Command, Driver};
use super::{Restart, Strategy, Supervisor, SupervisorError};

#[derive(Debug, Clone, Copy)]
enum Op {
    End(usize, Command),
    Advance(u64),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum State {
    Running,
    Ended,
    Removed,
}

/// OTP's supervisor rules, written plainly.
struct Model {
    strategy: Strategy,
    restarts: Vec<Restart>,
    max: u32,
    period: Duration,
    states: Vec<State>,
    history: Vec<Instant>,
    log: Vec<String>,
    result: Option<Result<(), (usize, u32)>>,
}

impl Model {
    fn new(strategy: Strategy, restarts: Vec<Restart>, max: u32, period: Duration) -> Self {
        let log = (0..restarts.len()).map(|i| format!("start c{i}")).collect();
        let states = vec![State::Running; restarts.len()];
        let mut model = Model {
            strategy,
            restarts,
            max,
            period,
            states,
            history: Vec::new(),
            log,
            result: None,
        };
        model.check_done();
        model
    }

    fn check_done(&mut self) {
        if !self.states.contains(&State::Running) {
            self.result = Some(Ok(()));
        }
    }

    fn end(&mut self, i: usize, how: Command, now: Instant) {
        let restart = match (self.restarts[i], how) {
            (Restart::Permanent, _) => true,
            (Restart::Transient, Command::Exit) => false,
            (Restart::Transient, _) => true,
            (Restart::Temporary, _) => false,
        };
        if !restart {
            self.states[i] = if self.restarts[i] == Restart::Temporary {
                State::Removed
            } else {
                State::Ended
            };
            self.check_done();
            return;
        }
        self.states[i] = State::Ended;
        self.history.retain(|&t| now - t <= self.period);
        self.history.push(now);
        let count = self.history.len() as u32;
        if count > self.max {
            for j in (0..self.states.len()).rev() {
                if self.states[j] == State::Running {
                    self.log.push(format!("stop c{j}"));
                    self.states[j] = State::Ended;
                }
            }
            self.result = Some(Err((i, count)));
            return;
        }
        let n = self.states.len();
        let group = match self.strategy {
            Strategy::OneForOne => i..i + 1,
            Strategy::OneForAll => 0..n,
            Strategy::RestForOne => i..n,
        };
        for j in group.clone().rev() {
            if j != i && self.states[j] == State::Running {
                self.log.push(format!("stop c{j}"));
                self.states[j] = State::Ended;
            }
        }
        for j in group {
            if self.states[j] == State::Removed || self.restarts[j] == Restart::Temporary {
                self.states[j] = State::Removed;
            } else {
                self.log.push(format!("start c{j}"));
                self.states[j] = State::Running;
            }
        }
        self.check_done();
    }
}

fn restart() -> impl proptest::strategy::Strategy<Value = Restart> {
    prop_oneof![
        2 => Just(Restart::Permanent),
        1 => Just(Restart::Transient),
        1 => Just(Restart::Temporary),
    ]
}

fn strategy() -> impl proptest::strategy::Strategy<Value = Strategy> {
    prop_oneof![
        Just(Strategy::OneForOne),
        Just(Strategy::OneForAll),
        Just(Strategy::RestForOne),
    ]
}

fn op() -> impl proptest::strategy::Strategy<Value = Op> {
    prop_oneof![
        4 => (0..4usize).prop_map(|i| Op::End(i, Command::Crash)),
        2 => (0..4usize).prop_map(|i| Op::End(i, Command::Exit)),
        1 => (0..4usize).prop_map(|i| Op::End(i, Command::Panic)),
        3 => (0..3000u64).prop_map(Op::Advance),
    ]
}

static CASE: AtomicU64 = AtomicU64::new(0);

fn check(
    strategy: Strategy,
    restarts: Vec<Restart>,
    max: u32,
    period_ms: u64,
    ops: Vec<Op>,
) -> Result<(), TestCaseError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    runtime.block_on(async move {
        let period = Duration::from_millis(period_ms);
        let driver = Driver::default();
        let mut builder =
            Supervisor::builder(format!("model-{}", CASE.fetch_add(1, Ordering::Relaxed)))
                .strategy(strategy)
                .intensity(max, period);
        for (i, restart) in restarts.iter().enumerate() {
            builder = builder.child(driver.child(&format!("c{i}"), *restart, false));
        }
        let supervisor = builder.build().unwrap();
        let mut run = tokio::spawn(async move { supervisor.run().await });
        settle().await;
        let mut model = Model::new(strategy, restarts.clone(), max, period);
        let mut seen = driver.take_log();
        prop_assert_eq!(&seen, &model.log);
        for op in ops {
            if model.result.is_some() {
                break;
            }
            match op {
                Op::Advance(ms) => tokio::time::advance(Duration::from_millis(ms)).await,
                Op::End(i, how) => {
                    let i = i % restarts.len();
                    if model.states[i] != State::Running {
                        continue;
                    }
                    let now = Instant::now();
                    driver.send(&format!("c{i}"), how);
                    model.end(i, how, now);
                }
            }
            settle().await;
            seen.extend(driver.take_log());
            prop_assert_eq!(&seen, &model.log, "after {:?}", op);
            prop_assert_eq!(run.is_finished(), model.result.is_some(), "after {:?}", op);
        }
        if let Some(expected) = model.result {
            let result = (&mut run).await.unwrap();
            match (result, expected) {
                (Ok(()), Ok(())) => {}
                (
                    Err(SupervisorError::GaveUp {
                        child, restarts: n, ..
                    }),
                    Err((i, count)),
                ) => {
                    prop_assert_eq!(&*child, format!("c{i}"));
                    prop_assert_eq!(n, count);
                }
                (result, expected) => {
                    prop_assert!(false, "ran to {:?}, the model to {:?}", result, expected)
                }
            }
        } else {
            run.abort();
        }
        Ok(())
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn the_supervisor_follows_otp_rules(
        strategy in strategy(),
        restarts in proptest::collection::vec(restart(), 1..=4),
        max in 0u32..=4,
        period_ms in 1000u64..=6000,
        ops in proptest::collection::vec(op(), 0..30),
    ) {
        check(strategy, restarts, max, period_ms, ops)?;
    }
}
