//! How long to wait before each retry, before jitter.

use std::fmt;
use std::time::Duration;

const NANOS_PER_SEC: u128 = 1_000_000_000;

/// The schedule of delays between attempts, before [`Jitter`](crate::Jitter) and the
/// `max_delay` cap are applied.
///
/// Retry number `n` counts from 1: retry 1 follows the first failed attempt. Every delay is
/// computed without overflow or panic for any `n` up to `u32::MAX`, then capped at the
/// policy's `max_delay`.
///
/// ```
/// use resilience::{Backoff, Retry};
/// use std::time::Duration;
///
/// let retry = Retry::builder("doc-backoff")
///     .max_attempts(5)
///     .backoff(Backoff::Exponential { base: Duration::from_millis(100), factor: 2.0 })
///     .max_delay(Duration::from_millis(300))
///     .build()
///     .unwrap();
/// assert_eq!(retry.delay_for(1), Duration::from_millis(100));
/// assert_eq!(retry.delay_for(2), Duration::from_millis(200));
/// assert_eq!(retry.delay_for(3), Duration::from_millis(300)); // 400ms, capped
/// ```
#[derive(Debug, Clone)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[non_exhaustive]
pub enum Backoff {
    /// Retry at once.
    None,
    /// The same delay before every retry.
    Fixed(Duration),
    /// `base * n` before retry `n`.
    Linear(Duration),
    /// `base * factor^(n - 1)` before retry `n`; `factor` must be finite and greater than 1.
    Exponential {
        /// The delay before the first retry.
        base: Duration,
        /// The multiplier from one retry's delay to the next.
        factor: f64,
    },
    /// Explicit delays: entry `n - 1` before retry `n`, the last entry repeating; must not be
    /// empty.
    Schedule(Vec<Duration>),
    /// `f(n)` before retry `n` (the retry number, from 1; not the attempt number).
    #[cfg_attr(feature = "serde", serde(serialize_with = "serialize_custom"))]
    Custom(fn(u32) -> Duration),
}

impl Backoff {
    /// The delay before retry `retry` (from 1), capped at `max_delay`.
    pub(crate) fn delay(&self, retry: u32, max_delay: Duration) -> Duration {
        let n = retry.max(1);
        let uncapped = match self {
            Backoff::None => Duration::ZERO,
            Backoff::Fixed(delay) => *delay,
            Backoff::Linear(base) => base.saturating_mul(n),
            Backoff::Exponential { base, factor } => {
                // `powf` of a huge exponent is +inf, which `scale` turns into the cap.
                return scale(*base, factor.powf(f64::from(n - 1)), max_delay);
            }
            Backoff::Schedule(delays) => {
                let index = usize::try_from(n - 1).unwrap_or(usize::MAX);
                delays
                    .get(index)
                    .or_else(|| delays.last())
                    .copied()
                    .unwrap_or(Duration::ZERO)
            }
            Backoff::Custom(delay_for_retry) => delay_for_retry(n),
        };
        uncapped.min(max_delay)
    }
}

impl Default for Backoff {
    /// `Exponential { base: 100ms, factor: 2.0 }`, as `#[retry]` uses when not told otherwise.
    fn default() -> Self {
        Backoff::Exponential {
            base: resilience_settings::retry::DEFAULT_DELAY,
            factor: resilience_settings::retry::DEFAULT_FACTOR,
        }
    }
}

/// Function pointers compare by address: two sites naming the same function normally agree,
/// but the compiler does not promise one address per function, so a `Custom` backoff may be
/// reported as a configuration conflict where there is none. Only a warning hangs on it.
impl PartialEq for Backoff {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Backoff::None, Backoff::None) => true,
            (Backoff::Fixed(a), Backoff::Fixed(b)) | (Backoff::Linear(a), Backoff::Linear(b)) => {
                a == b
            }
            (
                Backoff::Exponential { base, factor },
                Backoff::Exponential {
                    base: other_base,
                    factor: other_factor,
                },
            ) => base == other_base && factor == other_factor,
            (Backoff::Schedule(a), Backoff::Schedule(b)) => a == b,
            (Backoff::Custom(a), Backoff::Custom(b)) => *a as usize == *b as usize,
            _ => false,
        }
    }
}

/// Compact, for the registry's table: `exponential(100ms, x2)`, `fixed(1s)`, `linear(50ms)`,
/// `none`, `delays[100ms, 1s]`, `custom`.
impl fmt::Display for Backoff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Backoff::None => f.write_str("none"),
            Backoff::Fixed(delay) => write!(f, "fixed({delay:?})"),
            Backoff::Linear(base) => write!(f, "linear({base:?})"),
            Backoff::Exponential { base, factor } => write!(f, "exponential({base:?}, x{factor})"),
            Backoff::Schedule(delays) => write!(f, "delays{delays:?}"),
            Backoff::Custom(_) => f.write_str("custom"),
        }
    }
}

#[cfg(feature = "serde")]
fn serialize_custom<S: serde::Serializer>(
    _: &fn(u32) -> Duration,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    // A function has no data to show; its presence is what the snapshot reports.
    serializer.serialize_unit()
}

/// `duration * multiplier`, rounded to the nanosecond and capped at `cap`; never panics, whatever
/// the multiplier (infinite, NaN or negative included).
pub(crate) fn scale(duration: Duration, multiplier: f64, cap: Duration) -> Duration {
    if duration.is_zero() || cap.is_zero() {
        // Also keeps `0 * inf`, a NaN, from reaching the cap.
        return Duration::ZERO;
    }
    let nanos = duration.as_nanos() as f64 * multiplier;
    if nanos.is_nan() || nanos >= cap.as_nanos() as f64 {
        return cap;
    }
    // The float-to-int cast saturates: a negative product becomes zero.
    from_nanos(nanos.round() as u128).min(cap)
}

/// The duration of `nanos` nanoseconds, saturating at `Duration::MAX`.
pub(crate) fn from_nanos(nanos: u128) -> Duration {
    match u64::try_from(nanos / NANOS_PER_SEC) {
        // The remainder is below one second, so `Duration::new` has no carry to overflow.
        Ok(secs) => Duration::new(secs, (nanos % NANOS_PER_SEC) as u32),
        Err(_) => Duration::MAX,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);
    const CAP: Duration = Duration::from_secs(30);

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn exponential_multiplies_the_base_per_retry() {
        let backoff = Backoff::Exponential {
            base: ms(100),
            factor: 2.0,
        };
        let delays: Vec<_> = (1..=5).map(|n| backoff.delay(n, CAP)).collect();
        assert_eq!(delays, [ms(100), ms(200), ms(400), ms(800), ms(1600)]);
    }

    #[test]
    fn exponential_with_a_fractional_factor_rounds_to_the_nanosecond() {
        let backoff = Backoff::Exponential {
            base: ms(100),
            factor: 1.5,
        };
        assert_eq!(backoff.delay(3, CAP), ms(225));
    }

    #[test]
    fn linear_fixed_and_none() {
        assert_eq!(Backoff::Linear(ms(50)).delay(1, CAP), ms(50));
        assert_eq!(Backoff::Linear(ms(50)).delay(4, CAP), ms(200));
        assert_eq!(Backoff::Fixed(ms(70)).delay(1, CAP), ms(70));
        assert_eq!(Backoff::Fixed(ms(70)).delay(9, CAP), ms(70));
        assert_eq!(Backoff::None.delay(3, CAP), Duration::ZERO);
    }

    #[test]
    fn schedule_repeats_its_last_entry() {
        let backoff = Backoff::Schedule(vec![ms(10), ms(20), ms(50)]);
        let delays: Vec<_> = (1..=5).map(|n| backoff.delay(n, CAP)).collect();
        assert_eq!(delays, [ms(10), ms(20), ms(50), ms(50), ms(50)]);
        assert_eq!(backoff.delay(u32::MAX, CAP), ms(50));
    }

    #[test]
    fn custom_receives_the_retry_number() {
        fn squares(n: u32) -> Duration {
            Duration::from_millis(u64::from(n) * u64::from(n))
        }
        let backoff = Backoff::Custom(squares);
        assert_eq!(backoff.delay(1, CAP), MS);
        assert_eq!(backoff.delay(3, CAP), ms(9));
    }

    #[test]
    fn every_strategy_is_capped_at_max_delay() {
        let cap = ms(250);
        let strategies = [
            Backoff::Fixed(ms(300)),
            Backoff::Linear(ms(100)),
            Backoff::Exponential {
                base: ms(100),
                factor: 2.0,
            },
            Backoff::Schedule(vec![ms(400)]),
            Backoff::Custom(|_| Duration::from_secs(1)),
        ];
        for backoff in &strategies {
            assert_eq!(backoff.delay(3, cap), cap, "{backoff}");
        }
    }

    #[test]
    fn huge_retry_numbers_neither_overflow_nor_panic() {
        let strategies = [
            Backoff::Exponential {
                base: ms(100),
                factor: 10.0,
            },
            Backoff::Linear(Duration::MAX),
            Backoff::Fixed(Duration::MAX),
        ];
        for backoff in &strategies {
            for n in [1_000, 1 << 20, u32::MAX - 1, u32::MAX] {
                assert_eq!(backoff.delay(n, Duration::MAX), Duration::MAX, "{backoff}");
                assert_eq!(backoff.delay(n, CAP), CAP, "{backoff}");
            }
        }
    }

    #[test]
    fn exponential_stays_monotonic_up_to_the_cap() {
        let backoff = Backoff::Exponential {
            base: MS,
            factor: 10.0,
        };
        let mut previous = Duration::ZERO;
        for n in 1..=40 {
            let delay = backoff.delay(n, Duration::MAX);
            assert!(delay >= previous, "retry {n}: {delay:?} < {previous:?}");
            previous = delay;
        }
        assert_eq!(previous, Duration::MAX);
    }

    #[test]
    fn a_zero_base_stays_zero_however_many_retries() {
        let backoff = Backoff::Exponential {
            base: Duration::ZERO,
            factor: 3.0,
        };
        assert_eq!(backoff.delay(u32::MAX, Duration::MAX), Duration::ZERO);
    }

    #[test]
    fn scale_handles_non_finite_and_negative_multipliers() {
        assert_eq!(scale(ms(10), f64::INFINITY, CAP), CAP);
        assert_eq!(scale(ms(10), f64::NAN, CAP), CAP);
        assert_eq!(scale(ms(10), -1.0, CAP), Duration::ZERO);
        assert_eq!(scale(Duration::MAX, 1.0, Duration::MAX), Duration::MAX);
    }

    #[test]
    fn from_nanos_saturates() {
        assert_eq!(from_nanos(1_500_000_000), Duration::from_millis(1500));
        assert_eq!(from_nanos(u128::MAX), Duration::MAX);
    }

    #[test]
    fn display_is_compact() {
        let exponential = Backoff::Exponential {
            base: ms(100),
            factor: 2.0,
        };
        assert_eq!(exponential.to_string(), "exponential(100ms, x2)");
        assert_eq!(
            Backoff::Schedule(vec![ms(100), Duration::from_secs(1)]).to_string(),
            "delays[100ms, 1s]"
        );
        assert_eq!(Backoff::None.to_string(), "none");
    }
}
