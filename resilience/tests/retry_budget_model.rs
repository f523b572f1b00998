//! Model-based property test of the retry budget: random sequences of calls (deposits), retries
//! (withdrawals) and clock advances, run against the real [`RetryBudget`] on tokio's paused
//! clock and against [`Model`], a plain transcription of OPERATIONS.md §7: over the window,
//! retries may be at most `ratio` of the calls plus `min_per_sec × window`. The model keeps every
//! event with its time and counts in exact rationals (the ratio is drawn in thousandths); the
//! window is the slot of "now" and the nine before it, a slot being a tenth of the window. The
//! two must agree on every withdrawal and on the counters at the end.

use std::time::Duration;

use proptest::prelude::*;
use resilience::RetryBudget;

#[derive(Debug, Clone)]
enum Step {
    Deposit,
    Withdraw,
    Advance(u64),
}

#[derive(Debug, Clone)]
struct Settings {
    /// The ratio in thousandths: 0.0 to 2.0, fractions of every kind (0.3, 0.125, 0.007).
    ratio_thousandths: u64,
    min_per_sec: u32,
    /// A multiple of 10 ms, so that a slot is a whole number of milliseconds.
    window_ms: u64,
}

/// The budget as the specification says it, over a log of every event.
struct Model {
    settings: Settings,
    now_ms: u64,
    /// (time in ms, is a withdrawal)
    events: Vec<(u64, bool)>,
}

impl Model {
    fn slot(&self, at_ms: u64) -> u64 {
        at_ms / (self.settings.window_ms / 10)
    }

    fn in_window(&self, at_ms: u64) -> bool {
        let now = self.slot(self.now_ms);
        let slot = self.slot(at_ms);
        slot + 10 > now && slot <= now
    }

    fn withdraw(&mut self) -> bool {
        let deposits = self
            .events
            .iter()
            .filter(|(at, retry)| !retry && self.in_window(*at))
            .count() as u128;
        let withdrawals = self
            .events
            .iter()
            .filter(|(at, retry)| *retry && self.in_window(*at))
            .count() as u128;
        // withdrawals + 1 ≤ ratio × deposits + min_per_sec × window, times 10^6 (ms × thousandths).
        let allowed = (withdrawals + 1) * 1_000_000
            <= u128::from(self.settings.ratio_thousandths) * deposits * 1000
                + u128::from(self.settings.min_per_sec)
                    * u128::from(self.settings.window_ms)
                    * 1000;
        if allowed {
            self.events.push((self.now_ms, true));
        }
        allowed
    }
}

fn settings() -> impl Strategy<Value = Settings> {
    (0u64..=2000, prop_oneof![Just(0u32), 0u32..4], 1u64..=100).prop_map(|(ratio, floor, tens)| {
        Settings {
            // A ratio of 0 with a floor of 0 is refused: give it a floor then.
            ratio_thousandths: ratio,
            min_per_sec: if ratio == 0 && floor == 0 { 1 } else { floor },
            window_ms: tens * 10,
        }
    })
}

fn steps() -> impl Strategy<Value = Vec<Step>> {
    proptest::collection::vec(
        prop_oneof![
            4 => Just(Step::Deposit),
            4 => Just(Step::Withdraw),
            2 => (1u64..300).prop_map(Step::Advance),
        ],
        1..300,
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn the_budget_follows_the_model(settings in settings(), steps in steps()) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        runtime.block_on(async move {
            let budget = RetryBudget::builder("model")
                .ratio(settings.ratio_thousandths as f64 / 1000.0)
                .min_per_sec(settings.min_per_sec)
                .window(Duration::from_millis(settings.window_ms))
                .build()
                .unwrap();
            let mut model = Model { settings: settings.clone(), now_ms: 0, events: Vec::new() };
            let (mut deposits, mut withdrawals, mut refusals) = (0u64, 0u64, 0u64);
            for (i, step) in steps.iter().enumerate() {
                match step {
                    Step::Deposit => {
                        budget.deposit();
                        model.events.push((model.now_ms, false));
                        deposits += 1;
                    }
                    Step::Withdraw => {
                        let expected = model.withdraw();
                        let actual = budget.try_withdraw();
                        prop_assert_eq!(actual, expected, "step {}: {:?}", i, step);
                        if expected { withdrawals += 1 } else { refusals += 1 }
                    }
                    Step::Advance(ms) => {
                        tokio::time::advance(Duration::from_millis(*ms)).await;
                        model.now_ms += ms;
                    }
                }
            }
            let stats = budget.stats();
            prop_assert_eq!((stats.deposits, stats.withdrawals, stats.refusals), (deposits, withdrawals, refusals));
            Ok(())
        })?;
    }
}
