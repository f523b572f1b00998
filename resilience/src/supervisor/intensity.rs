//! Restart intensity: how many restarts a supervisor allows within a period.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

/// The restarts made within the last `period`, OTP's way: a restart at `t` still counts at
/// `now` while `now - t <= period`, and the one that makes the count exceed `max` is refused.
#[derive(Debug)]
pub(crate) struct Intensity {
    max: u32,
    period: Duration,
    restarts: VecDeque<Instant>,
}

impl Intensity {
    pub(crate) fn new(max: u32, period: Duration) -> Self {
        Intensity {
            max,
            period,
            restarts: VecDeque::new(),
        }
    }

    /// Records a restart at `now`: `Ok` with the restarts within the period, this one included,
    /// or `Err` with that count when it exceeds the maximum.
    pub(crate) fn add(&mut self, now: Instant) -> Result<u32, u32> {
        while let Some(&oldest) = self.restarts.front() {
            if now.saturating_duration_since(oldest) > self.period {
                self.restarts.pop_front();
            } else {
                break;
            }
        }
        self.restarts.push_back(now);
        let count = u32::try_from(self.restarts.len()).unwrap_or(u32::MAX);
        if count > self.max {
            Err(count)
        } else {
            Ok(count)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_within_the_period_inclusive() {
        let start = Instant::now();
        let mut intensity = Intensity::new(2, Duration::from_secs(5));
        assert_eq!(intensity.add(start), Ok(1));
        assert_eq!(intensity.add(start + Duration::from_secs(1)), Ok(2));
        // The first is exactly 5 s old: it still counts.
        assert_eq!(intensity.add(start + Duration::from_secs(5)), Err(3));
    }

    #[test]
    fn forgets_restarts_older_than_the_period() {
        let start = Instant::now();
        let mut intensity = Intensity::new(1, Duration::from_secs(5));
        assert_eq!(intensity.add(start), Ok(1));
        assert_eq!(
            intensity.add(start + Duration::from_millis(5001)),
            Ok(1),
            "the first fell out of the period"
        );
    }

    #[test]
    fn zero_allows_no_restart() {
        let mut intensity = Intensity::new(0, Duration::from_secs(5));
        assert_eq!(intensity.add(Instant::now()), Err(1));
    }
}
