//! Randomness added to each delay, so that clients failing together do not retry together.

use std::cell::RefCell;
use std::fmt;
use std::time::Duration;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use super::backoff::{from_nanos, scale};
use super::Backoff;

/// How a delay from the [`Backoff`](crate::Backoff) is randomized. The strategies are those of
/// AWS's "Exponential Backoff And Jitter".
///
/// ```
/// use resilience::{Jitter, Retry};
/// use std::time::Duration;
///
/// let retry = Retry::builder("doc-jitter")
///     .fixed(Duration::from_millis(100))
///     .jitter(Jitter::Proportional(0.1)) // each sleep within 90ms..=110ms
///     .build()
///     .unwrap();
/// assert_eq!(retry.config().jitter, Jitter::Proportional(0.1));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[non_exhaustive]
pub enum Jitter {
    /// Sleep exactly the backoff's delay.
    #[default]
    None,
    /// `delay * uniform[1 - f, 1 + f]`, then capped at `max_delay`; `0 < f <= 1`.
    /// `#[retry(jitter)]` means `Proportional(0.25)`.
    Proportional(f64),
    /// `uniform[0, delay]`: the widest spread, the least total load.
    Full,
    /// `delay / 2 + uniform[0, delay / 2]`: never less than half the delay.
    Equal,
    /// `min(max_delay, uniform[base, previous * 3])`, where `base` is the backoff's first delay
    /// and `previous` the previous sleep (`base` before the first). It ignores the rest of the
    /// backoff's schedule, growing on its own.
    Decorrelated,
}

impl Jitter {
    /// The fraction a bare `#[retry(jitter)]` flag means: ±25%.
    pub const DEFAULT_FRACTION: f64 = resilience_settings::retry::DEFAULT_JITTER_FRACTION;

    /// Randomizes `delay`, the backoff's delay for this retry, with the thread's generator.
    /// `previous` is the previous sleep, zero before the first retry.
    pub(crate) fn apply(
        self,
        delay: Duration,
        previous: Duration,
        backoff: &Backoff,
        max_delay: Duration,
    ) -> Duration {
        if self == Jitter::None {
            return delay;
        }
        let first_delay = || backoff.delay(1, max_delay);
        with_thread_rng(|rng| self.apply_with(rng, delay, previous, first_delay, max_delay))
    }

    /// `first_delay` is called only by the strategy that needs it, since a custom backoff is a
    /// user's function.
    fn apply_with<R: Rng>(
        self,
        rng: &mut R,
        delay: Duration,
        previous: Duration,
        first_delay: impl Fn() -> Duration,
        max_delay: Duration,
    ) -> Duration {
        match self {
            Jitter::None => delay,
            Jitter::Proportional(fraction) => {
                // Clamped so that an invalid fraction, which `build` rejects, still cannot
                // make an empty range.
                let fraction = fraction.clamp(0.0, 1.0);
                scale(
                    delay,
                    rng.gen_range(1.0 - fraction..=1.0 + fraction),
                    max_delay,
                )
            }
            Jitter::Full => uniform(rng, Duration::ZERO, delay),
            Jitter::Equal => {
                let half = delay / 2;
                half.saturating_add(uniform(rng, Duration::ZERO, half))
            }
            Jitter::Decorrelated => {
                let first_delay = first_delay();
                let high = previous.max(first_delay).saturating_mul(3);
                uniform(rng, first_delay, high).min(max_delay)
            }
        }
    }
}

/// `none`, `25%` (proportional), `full`, `equal`, `decorrelated`.
impl fmt::Display for Jitter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Jitter::None => f.write_str("none"),
            // Rounded so that 0.07 prints as 7%, not 7.000000000000001%.
            Jitter::Proportional(fraction) => write!(f, "{}%", (fraction * 1e5).round() / 1e3),
            Jitter::Full => f.write_str("full"),
            Jitter::Equal => f.write_str("equal"),
            Jitter::Decorrelated => f.write_str("decorrelated"),
        }
    }
}

/// A duration drawn uniformly from `low..=high` (at nanosecond resolution).
fn uniform<R: Rng>(rng: &mut R, low: Duration, high: Duration) -> Duration {
    let low = low.as_nanos();
    let high = high.as_nanos().max(low);
    from_nanos(rng.gen_range(low..=high))
}

thread_local! {
    // One generator per thread: no lock, no shared cache line, no allocation per draw.
    static THREAD_RNG: RefCell<SmallRng> = RefCell::new(SmallRng::from_entropy());
}

fn with_thread_rng<T>(draw: impl Fn(&mut SmallRng) -> T) -> T {
    THREAD_RNG
        .try_with(|rng| draw(&mut rng.borrow_mut()))
        // The thread-local is gone only while the thread exits; a fresh generator still works.
        .unwrap_or_else(|_| draw(&mut SmallRng::from_entropy()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLES: usize = 10_000;
    const CAP: Duration = Duration::from_secs(30);

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// Draws many samples with a seeded generator and returns their (min, max).
    fn spread(
        jitter: Jitter,
        delay: Duration,
        first: Duration,
        cap: Duration,
    ) -> (Duration, Duration) {
        let mut rng = SmallRng::seed_from_u64(7);
        let mut low = Duration::MAX;
        let mut high = Duration::ZERO;
        for _ in 0..SAMPLES {
            let sample = jitter.apply_with(&mut rng, delay, Duration::ZERO, || first, cap);
            low = low.min(sample);
            high = high.max(sample);
        }
        (low, high)
    }

    #[test]
    fn none_returns_the_delay() {
        let backoff = Backoff::Fixed(ms(100));
        assert_eq!(Jitter::None.apply(ms(100), ms(100), &backoff, CAP), ms(100));
    }

    #[test]
    fn proportional_stays_within_the_fraction_and_covers_it() {
        let (low, high) = spread(Jitter::Proportional(0.25), ms(1000), ms(1000), CAP);
        assert!(low >= ms(750) && high <= ms(1250), "{low:?}..{high:?}");
        // Ten thousand draws land within 1% of both ends.
        assert!(low < ms(760) && high > ms(1240), "{low:?}..{high:?}");
    }

    #[test]
    fn proportional_is_capped_at_max_delay() {
        let (_, high) = spread(Jitter::Proportional(1.0), ms(1000), ms(1000), ms(1200));
        assert_eq!(high, ms(1200));
    }

    #[test]
    fn full_spans_zero_to_the_delay() {
        let (low, high) = spread(Jitter::Full, ms(1000), ms(1000), CAP);
        assert!(high <= ms(1000), "{high:?}");
        assert!(low < ms(10) && high > ms(990), "{low:?}..{high:?}");
    }

    #[test]
    fn equal_keeps_at_least_half() {
        let (low, high) = spread(Jitter::Equal, ms(1000), ms(1000), CAP);
        assert!(low >= ms(500) && high <= ms(1000), "{low:?}..{high:?}");
        assert!(low < ms(510) && high > ms(990), "{low:?}..{high:?}");
    }

    #[test]
    fn decorrelated_draws_between_base_and_three_times_the_previous_sleep() {
        let mut rng = SmallRng::seed_from_u64(11);
        let base = ms(100);
        let mut previous = base;
        for _ in 0..SAMPLES {
            let sample = Jitter::Decorrelated.apply_with(&mut rng, ms(1), previous, || base, CAP);
            assert!(sample >= base, "{sample:?}");
            assert!(
                sample <= previous * 3 && sample <= CAP,
                "{sample:?} after {previous:?}"
            );
            previous = sample;
        }
    }

    #[test]
    fn decorrelated_first_sleep_is_within_base_and_three_bases() {
        let (low, high) = spread(Jitter::Decorrelated, ms(1), ms(100), CAP);
        assert!(low >= ms(100) && high <= ms(300), "{low:?}..{high:?}");
        assert!(low < ms(105) && high > ms(295), "{low:?}..{high:?}");
    }

    #[test]
    fn decorrelated_is_capped_and_survives_huge_values() {
        let (low, high) = spread(Jitter::Decorrelated, ms(1), Duration::MAX, CAP);
        assert_eq!((low, high), (CAP, CAP));
        let (_, high) = spread(
            Jitter::Decorrelated,
            ms(1),
            Duration::MAX / 2,
            Duration::MAX,
        );
        assert!(high >= Duration::MAX / 2);
    }

    #[test]
    fn the_thread_generator_draws_within_bounds() {
        let backoff = Backoff::Fixed(ms(100));
        for _ in 0..1000 {
            let sample = Jitter::Full.apply(ms(100), Duration::ZERO, &backoff, CAP);
            assert!(sample <= ms(100));
            let sample = Jitter::Decorrelated.apply(ms(100), Duration::ZERO, &backoff, CAP);
            assert!(sample >= ms(100) && sample <= ms(300), "{sample:?}");
        }
    }

    #[test]
    fn display() {
        assert_eq!(Jitter::Proportional(0.25).to_string(), "25%");
        assert_eq!(Jitter::Decorrelated.to_string(), "decorrelated");
    }
}
