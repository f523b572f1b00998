//! The outcomes a failure-rate rule judges: the last N calls, or the calls of the last T.

use std::time::Duration;

use super::Window;

/// Most buckets a time window keeps, which bounds its memory (24 bytes a bucket).
const MAX_TIME_BUCKETS: u64 = 3600;
/// Buckets a window shorter than [`PER_SECOND_FROM`] is cut into.
const SHORT_WINDOW_BUCKETS: u64 = 10;
/// From this length on, a time window counts per second.
const PER_SECOND_FROM: Duration = Duration::from_secs(10);
const NANOS_PER_SECOND: u64 = 1_000_000_000;

/// Failures among the outcomes in the window. Lives under the breaker's lock: only the
/// failure-rate rule has one.
#[derive(Debug)]
pub(super) enum FailureWindow {
    Calls(CountWindow),
    Time(TimeWindow),
}

/// Outcomes in a window at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct WindowTally {
    pub(super) calls: u64,
    pub(super) failures: u64,
}

impl WindowTally {
    /// The fraction of failures, or `None` for an empty window.
    pub(super) fn failure_rate(self) -> Option<f64> {
        // Dividing (rather than comparing `failures >= rate * calls`) keeps `3 of 10` equal to
        // a configured `0.3`: both round to the same double.
        (self.calls > 0).then(|| self.failures as f64 / self.calls as f64)
    }
}

impl FailureWindow {
    pub(super) fn new(window: Window) -> Self {
        match window {
            Window::Calls(size) => FailureWindow::Calls(CountWindow::new(size)),
            Window::Time(length) => FailureWindow::Time(TimeWindow::new(length)),
        }
    }

    /// Adds an outcome and returns the window's tally after it. `now` reads the breaker's own
    /// clock (nanoseconds); only a time window calls it.
    pub(super) fn record(&mut self, failed: bool, now: impl FnOnce() -> u64) -> WindowTally {
        match self {
            FailureWindow::Calls(window) => {
                window.record(failed);
                window.tally()
            }
            FailureWindow::Time(window) => {
                let now = now();
                window.record(failed, now);
                window.tally(now)
            }
        }
    }

    /// The outcomes still in the window; `now` as for [`record`](Self::record).
    pub(super) fn tally(&mut self, now: impl FnOnce() -> u64) -> WindowTally {
        match self {
            FailureWindow::Calls(window) => window.tally(),
            FailureWindow::Time(window) => window.tally(now()),
        }
    }

    /// Forgets every outcome: a transition starts a fresh window.
    pub(super) fn clear(&mut self) {
        match self {
            FailureWindow::Calls(window) => window.clear(),
            FailureWindow::Time(window) => window.clear(),
        }
    }
}

/// The last `size` outcomes, one bit each (set = failure) in a ring. The bits grow as outcomes
/// arrive, so a large window costs memory only once that many calls were made.
#[derive(Debug)]
pub(super) struct CountWindow {
    size: u32,
    bits: Vec<u64>,
    /// Outcomes held, up to `size`.
    len: u32,
    /// The slot the next outcome goes to.
    next: u32,
    failures: u32,
}

impl CountWindow {
    fn new(size: u32) -> Self {
        CountWindow {
            size: size.max(1),
            bits: Vec::new(),
            len: 0,
            next: 0,
            failures: 0,
        }
    }

    fn record(&mut self, failed: bool) {
        let word = (self.next / 64) as usize;
        let mask = 1u64 << (self.next % 64);
        // The ring fills in order from slot 0, so a missing word is always the next one.
        if word == self.bits.len() {
            self.bits.push(0);
        }
        let Some(bits) = self.bits.get_mut(word) else {
            return;
        };
        if self.len == self.size {
            if *bits & mask != 0 {
                self.failures = self.failures.saturating_sub(1);
            }
        } else {
            self.len += 1;
        }
        if failed {
            *bits |= mask;
            self.failures = self.failures.saturating_add(1);
        } else {
            *bits &= !mask;
        }
        self.next = if self.next + 1 >= self.size {
            0
        } else {
            self.next + 1
        };
    }

    fn tally(&self) -> WindowTally {
        WindowTally {
            calls: u64::from(self.len),
            failures: u64::from(self.failures),
        }
    }

    fn clear(&mut self) {
        self.bits.clear();
        self.len = 0;
        self.next = 0;
        self.failures = 0;
    }
}

/// Outcomes counted in a ring of time buckets. The bucket of time `t` is `t / width`; the window
/// holds the newest bucket and the `len - 1` before it, with running sums so that an outcome
/// costs O(1) however long the window.
#[derive(Debug)]
pub(super) struct TimeWindow {
    width: u64,
    buckets: Box<[WindowTally]>,
    /// The newest bucket's number (`t / width`).
    head: u64,
    sum: WindowTally,
}

impl TimeWindow {
    fn new(length: Duration) -> Self {
        let length = u64::try_from(length.as_nanos()).unwrap_or(u64::MAX).max(1);
        let width = if length >= PER_SECOND_FROM.as_nanos() as u64 {
            NANOS_PER_SECOND.max(length.div_ceil(MAX_TIME_BUCKETS))
        } else {
            (length / SHORT_WINDOW_BUCKETS).max(1)
        };
        let buckets = length.div_ceil(width);
        TimeWindow {
            width,
            buckets: (0..buckets).map(|_| WindowTally::default()).collect(),
            head: 0,
            sum: WindowTally::default(),
        }
    }

    /// Moves the window's head to the bucket of `now`, emptying the buckets it passes.
    fn advance(&mut self, now: u64) {
        let bucket = now / self.width;
        // A clock reading older than the head (another runtime's clock, say) counts in the
        // newest bucket rather than rewriting the past.
        if bucket <= self.head {
            return;
        }
        let len = self.buckets.len() as u64;
        if bucket - self.head >= len {
            self.clear();
        } else {
            for passed in self.head + 1..=bucket {
                if let Some(expired) = self.buckets.get_mut((passed % len) as usize) {
                    self.sum.calls = self.sum.calls.saturating_sub(expired.calls);
                    self.sum.failures = self.sum.failures.saturating_sub(expired.failures);
                    *expired = WindowTally::default();
                }
            }
        }
        self.head = bucket;
    }

    fn record(&mut self, failed: bool, now: u64) {
        self.advance(now);
        let len = self.buckets.len() as u64;
        if let Some(bucket) = self.buckets.get_mut((self.head % len) as usize) {
            bucket.calls = bucket.calls.saturating_add(1);
            self.sum.calls = self.sum.calls.saturating_add(1);
            if failed {
                bucket.failures = bucket.failures.saturating_add(1);
                self.sum.failures = self.sum.failures.saturating_add(1);
            }
        }
    }

    fn tally(&mut self, now: u64) -> WindowTally {
        self.advance(now);
        self.sum
    }

    fn clear(&mut self) {
        self.buckets.fill(WindowTally::default());
        self.sum = WindowTally::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: u64 = NANOS_PER_SECOND;

    /// A count window must not read the clock: that would cost every outcome a clock read.
    fn no_clock() -> u64 {
        panic!("a count window read the clock")
    }

    fn tally(calls: u64, failures: u64) -> WindowTally {
        WindowTally { calls, failures }
    }

    #[test]
    fn a_count_window_keeps_the_last_outcomes() {
        let mut window = FailureWindow::new(Window::Calls(3));
        window.record(true, no_clock);
        window.record(true, no_clock);
        assert_eq!(window.tally(no_clock), tally(2, 2));
        window.record(false, no_clock);
        assert_eq!(window.tally(no_clock), tally(3, 2));
        // The first failure leaves as the fourth outcome comes in.
        window.record(false, no_clock);
        assert_eq!(window.tally(no_clock), tally(3, 1));
        window.record(false, no_clock);
        window.record(false, no_clock);
        assert_eq!(window.tally(no_clock), tally(3, 0));
        window.clear();
        assert_eq!(window.tally(no_clock), tally(0, 0));
        window.record(true, no_clock);
        assert_eq!(window.tally(no_clock), tally(1, 1));
    }

    #[test]
    fn a_count_window_spans_several_words() {
        let mut window = CountWindow::new(130);
        for call in 0..130 {
            window.record(call % 2 == 0);
        }
        assert_eq!(window.tally(), tally(130, 65));
        assert_eq!(window.bits.len(), 3);
        // Overwrite the first 10 slots (5 failures among them) with successes.
        for _ in 0..10 {
            window.record(false);
        }
        assert_eq!(window.tally(), tally(130, 60));
    }

    #[test]
    fn a_count_window_grows_only_as_calls_arrive() {
        let window = CountWindow::new(u32::MAX);
        assert!(window.bits.capacity() == 0);
    }

    #[test]
    fn time_buckets_are_seconds_tenths_or_capped_in_number() {
        let window = TimeWindow::new(Duration::from_secs(60));
        assert_eq!((window.width, window.buckets.len()), (SECOND, 60));
        let window = TimeWindow::new(Duration::from_secs(2));
        assert_eq!((window.width, window.buckets.len()), (SECOND / 5, 10));
        let window = TimeWindow::new(Duration::from_secs(7200));
        assert_eq!((window.width, window.buckets.len()), (2 * SECOND, 3600));
        let window = TimeWindow::new(Duration::from_nanos(3));
        assert_eq!((window.width, window.buckets.len()), (1, 3));
        let window = TimeWindow::new(Duration::MAX);
        assert!(window.buckets.len() as u64 <= MAX_TIME_BUCKETS);
    }

    #[test]
    fn a_time_window_forgets_outcomes_older_than_its_length() {
        let mut window = FailureWindow::new(Window::Time(Duration::from_secs(10)));
        window.record(true, || SECOND / 2);
        window.record(false, || 3 * SECOND);
        assert_eq!(window.tally(|| 9 * SECOND), tally(2, 1));
        // The failure's bucket [0s, 1s) leaves the window as the clock enters [10s, 11s).
        assert_eq!(window.tally(|| 10 * SECOND), tally(1, 0));
        window.record(true, || 12 * SECOND);
        assert_eq!(window.tally(|| 12 * SECOND), tally(2, 1));
        // A jump past the whole window empties it.
        assert_eq!(window.tally(|| 100 * SECOND), tally(0, 0));
    }

    #[test]
    fn a_time_window_counts_an_older_reading_in_its_newest_bucket() {
        let mut window = FailureWindow::new(Window::Time(Duration::from_secs(10)));
        window.record(true, || 20 * SECOND);
        window.record(true, || 5 * SECOND);
        assert_eq!(window.tally(|| 20 * SECOND), tally(2, 2));
        assert_eq!(window.tally(|| 30 * SECOND), tally(0, 0));
    }

    #[test]
    fn failure_rate_divides() {
        assert_eq!(tally(0, 0).failure_rate(), None);
        assert_eq!(tally(10, 3).failure_rate(), Some(0.3));
    }
}
