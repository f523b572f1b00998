//! Property tests of the retry schedule: every backoff strategy's delay matches a reference
//! formula, never exceeds `max_delay`, and neither panics nor overflows for any retry number up
//! to `u32::MAX`; every jitter strategy's sleeps (observed as `Event::RetryAttempt` on tokio's
//! paused clock) stay within that strategy's bounds.

use std::time::Duration;

use proptest::prelude::*;
use resilience::{Backoff, Event, Jitter, Retry};

fn retry_number() -> impl Strategy<Value = u32> {
    prop_oneof![1u32..=64, any::<u32>(), Just(u32::MAX)]
}

fn duration() -> impl Strategy<Value = Duration> {
    prop_oneof![
        (0u64..=10_000).prop_map(Duration::from_millis),
        any::<u64>().prop_map(Duration::from_nanos),
        Just(Duration::MAX),
    ]
}

fn max_delay() -> impl Strategy<Value = Duration> {
    prop_oneof![
        (1u64..=60_000).prop_map(Duration::from_millis),
        Just(Duration::MAX),
    ]
}

fn retry_with(backoff: Backoff, max_delay: Duration) -> Option<Retry> {
    Retry::builder("schedule")
        .max_attempts(3)
        .backoff(backoff)
        .max_delay(max_delay)
        .build()
        .ok()
}

/// `base * multiplier` in whole nanoseconds, exact while it fits a `u128`.
fn nanos(duration: Duration) -> u128 {
    duration.as_nanos()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn fixed_none_and_schedule_match_their_formulas(
        delay in duration(),
        schedule in proptest::collection::vec(duration(), 1..6),
        max_delay in max_delay(),
        n in retry_number(),
    ) {
        if let Some(retry) = retry_with(Backoff::None, max_delay) {
            prop_assert_eq!(retry.delay_for(n), Duration::ZERO);
        }
        if let Some(retry) = retry_with(Backoff::Fixed(delay), max_delay) {
            prop_assert_eq!(retry.delay_for(n), delay.min(max_delay));
        }
        if let Some(retry) = retry_with(Backoff::Schedule(schedule.clone()), max_delay) {
            let index = (n as usize - 1).min(schedule.len() - 1);
            prop_assert_eq!(retry.delay_for(n), schedule[index].min(max_delay));
        }
    }

    #[test]
    fn linear_is_base_times_n_capped(base in duration(), max_delay in max_delay(), n in retry_number()) {
        if let Some(retry) = retry_with(Backoff::Linear(base), max_delay) {
            // In u128 nanoseconds the product cannot overflow: 2^64 s * 10^9 * 2^32 < 2^128.
            let expected = (nanos(base) * u128::from(n)).min(nanos(max_delay));
            prop_assert_eq!(nanos(retry.delay_for(n)), expected);
        }
    }

    #[test]
    fn exponential_with_an_integer_factor_is_exact(
        base_ms in 0u64..=10_000,
        factor in 2u32..=4,
        max_delay in max_delay(),
        n in retry_number(),
    ) {
        let base = Duration::from_millis(base_ms);
        let backoff = Backoff::Exponential { base, factor: f64::from(factor) };
        if let Some(retry) = retry_with(backoff, max_delay) {
            let expected = u128::from(factor)
                .checked_pow(n - 1)
                .and_then(|power| power.checked_mul(nanos(base)))
                .map_or(nanos(max_delay), |delay| delay.min(nanos(max_delay)));
            // A zero base stays zero, whatever the power.
            let expected = if base.is_zero() { 0 } else { expected };
            let actual = nanos(retry.delay_for(n));
            if expected < 1 << 53 {
                // Below 2^53 ns (104 days) a double holds every nanosecond: exact.
                prop_assert_eq!(actual, expected);
            } else {
                // Beyond, the delay is as exact as a double: to 1 part in 2^52.
                let error = actual.abs_diff(expected) as f64;
                prop_assert!(error <= expected as f64 * 2f64.powi(-52), "{} vs {}", actual, expected);
            }
        }
    }

    #[test]
    fn exponential_with_any_factor_grows_to_the_cap_and_stays_there(
        base in duration(),
        factor in 1.0001f64..10.0,
        max_delay in max_delay(),
        n in 1u32..=200,
    ) {
        let backoff = Backoff::Exponential { base, factor };
        if let Some(retry) = retry_with(backoff, max_delay) {
            let (this, next) = (retry.delay_for(n), retry.delay_for(n + 1));
            prop_assert!(this <= max_delay && next <= max_delay);
            prop_assert!(this <= next, "not monotonic: {:?} then {:?}", this, next);
            let reference = nanos(base) as f64 * factor.powf(f64::from(n - 1));
            if reference < nanos(max_delay) as f64 {
                let error = (nanos(this) as f64 - reference).abs();
                prop_assert!(error <= reference * 1e-9 + 1.0, "{:?} vs {}", this, reference);
            } else {
                prop_assert_eq!(this, max_delay);
            }
            prop_assert_eq!(retry.delay_for(u32::MAX) <= max_delay, true);
        }
    }

    #[test]
    fn jittered_sleeps_stay_within_each_strategys_bounds(
        base_ms in 1u64..=500,
        // The cap is at least the first delay: a shorter one would cut every delay, which
        // `build` refuses.
        cap_above_base_ms in 0u64..=1_500,
        jitter in prop_oneof![
            (0.01f64..=1.0).prop_map(Jitter::Proportional),
            Just(Jitter::Full),
            Just(Jitter::Equal),
            Just(Jitter::Decorrelated),
        ],
        exponential in any::<bool>(),
    ) {
        let base = Duration::from_millis(base_ms);
        let max_delay = Duration::from_millis(base_ms + cap_above_base_ms);
        let backoff = if exponential {
            Backoff::Exponential { base, factor: 2.0 }
        } else {
            Backoff::Fixed(base)
        };
        let sleeps = observed_sleeps(backoff.clone(), jitter, max_delay)?;
        prop_assert_eq!(sleeps.len(), 5);
        let retry = retry_with(backoff, max_delay).ok_or_else(|| TestCaseError::fail("valid"))?;
        let mut previous = Duration::ZERO;
        for (retry_number, sleep) in (1u32..).zip(sleeps) {
            let delay = retry.delay_for(retry_number);
            let (low, high) = match jitter {
                Jitter::Proportional(fraction) => (
                    delay.mul_f64(1.0 - fraction).saturating_sub(Duration::from_nanos(1)),
                    delay.mul_f64(1.0 + fraction).min(max_delay),
                ),
                Jitter::Full => (Duration::ZERO, delay),
                Jitter::Equal => (delay / 2, delay),
                Jitter::Decorrelated => {
                    let first = retry.delay_for(1);
                    (first.min(max_delay), (previous.max(first) * 3).min(max_delay))
                }
                Jitter::None => (delay, delay),
                // `Jitter` is `#[non_exhaustive]`: a new strategy needs its bounds written here.
                other => return Err(TestCaseError::fail(format!("no bounds known for {other:?}"))),
            };
            prop_assert!(
                low <= sleep && sleep <= high && sleep <= max_delay,
                "retry {}: slept {:?}, expected {:?}..={:?}", retry_number, sleep, low, high
            );
            previous = sleep;
        }
    }
}

/// The sleeps a retry with `jitter` takes before 5 retries of an operation that always fails,
/// as its `RetryAttempt` events report them.
fn observed_sleeps(
    backoff: Backoff,
    jitter: Jitter,
    max_delay: Duration,
) -> Result<Vec<Duration>, TestCaseError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .map_err(|error| TestCaseError::fail(error.to_string()))?;
    runtime.block_on(async move {
        let name = "schedule-jitter";
        let retry = Retry::builder(name)
            .max_attempts(6)
            .backoff(backoff)
            .jitter(jitter)
            .max_delay(max_delay)
            .build()
            .map_err(|error| TestCaseError::fail(error.to_string()))?;
        let mut events = resilience::registry().subscribe();
        let result: Result<(), &str> = retry.call(|| async { Err("down") }).await;
        prop_assert_eq!(result, Err("down"));
        let mut sleeps = Vec::new();
        while let Ok(event) = events.try_recv() {
            if let Event::RetryAttempt {
                name: from, delay, ..
            } = event
            {
                if &*from == name {
                    sleeps.push(delay);
                }
            }
        }
        Ok(sleeps)
    })
}
