//! Benchmarks of the `resilience` policies; see `benches/` and `README.md` beside this crate.
//!
//! What the benchmark files share: the two-thread harness of the `*_2_threads` rows.

use std::sync::Barrier;
use std::time::Duration;

/// Runs `timed(thread, prepare())` on two threads at once (`thread` is 0 or 1), after both have
/// prepared (built their runtime, say) and met at a start line, and returns the slower thread's
/// time: what a `*_2_threads` row reports, ns per call per thread while both threads call.
///
/// # Panics
///
/// When a benchmark thread panics (the benchmark is then wrong, not slow).
pub fn on_two_threads<S, P, T>(prepare: P, timed: T) -> Duration
where
    P: Fn() -> S + Sync,
    T: Fn(u64, S) -> Duration + Sync,
{
    let start_line = Barrier::new(2);
    let (start_line, prepare, timed) = (&start_line, &prepare, &timed);
    std::thread::scope(|scope| {
        let threads: Vec<_> = (0..2_u64)
            .map(|thread| {
                scope.spawn(move || {
                    let state = prepare();
                    start_line.wait();
                    timed(thread, state)
                })
            })
            .collect();
        threads
            .into_iter()
            .map(|thread| thread.join().expect("a benchmark thread panicked"))
            .max()
            .unwrap_or_default()
    })
}
