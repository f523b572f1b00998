//! The crash monitor of a pool of workers: unhealthy past a number of crashes in a window.

mod reason;
mod recent;
mod settings;
mod stats;
mod tally;
#[cfg(test)]
mod tests;
mod workers;

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use tokio::time::Instant;

pub use settings::HealthMonitorBuilder;
pub use stats::{HealthMonitorStats, WorkerHealth};

use recent::RecentCrashes;
use settings::Settings;
use tally::CrashTally;
use workers::{Crash, Workers};

use crate::WallTime;

/// Counts the crashes of a pool of workers over a sliding window, and says whether the pool, and
/// each worker, is healthy: the pool is unhealthy while its window holds more than
/// `max_crashes` crashes (default 10 in 60 s), a worker while the window holds more than
/// `max_worker_crashes` of its own (default 3). A crash counts for `window` after it was
/// recorded, then ages out, and health returns by itself.
///
/// Share one by name through the registry
/// ([`Registry::health_monitor_or_register`](crate::Registry::health_monitor_or_register)),
/// where the snapshot shows it; whatever restarts the workers records each crash with
/// [`record_crash`](Self::record_crash).
///
/// Time is `tokio::time`'s, so a test with `tokio::time::pause()` runs windows in virtual time.
///
/// # Memory
///
/// Bounded whatever the crash rate and however many worker ids there are:
///
/// - the pool keeps the times of its newest `max_crashes + 1` crashes (enough to judge the limit
///   exactly) and a fixed ring of 65 counters for [`crashes_in_window`] past it;
/// - a worker is tracked only while it has a crash in the window: one idle for a whole window
///   is forgotten ([`worker_health`](Self::worker_health) is `None` again). At most
///   [`MAX_TRACKED_WORKERS`](Self::MAX_TRACKED_WORKERS) are tracked; past that, the one idle
///   longest is forgotten to make room. Each keeps the times of its newest
///   `max_worker_crashes + 1` crashes and its latest reason;
/// - a reason is kept as at most 256 bytes of its `Display` text (formatting stops there).
///
/// So the worst case is about `max_crashes + 1` times, plus 10 000 workers of
/// `max_worker_crashes + 1` times, a reason and an id each. Worker ids are kept as given.
///
/// Recording a crash takes a lock: it is meant for crashes, not for every call.
///
/// [`crashes_in_window`]: HealthMonitorStats::crashes_in_window
///
/// ```
/// use resilience::HealthMonitor;
/// use std::time::Duration;
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let monitor = HealthMonitor::builder("doc-workers")
///     .max_crashes(2)
///     .window(Duration::from_secs(60))
///     .build()
///     .unwrap();
/// monitor.record_crash("worker-1", "exit code 137");
/// monitor.record_crash("worker-2", "exit code 1");
/// assert!(monitor.healthy(), "2 crashes: at the limit, not over it");
/// monitor.record_crash("worker-1", "exit code 137");
/// assert!(!monitor.healthy());
///
/// tokio::time::advance(Duration::from_secs(60)).await;
/// assert!(monitor.healthy(), "the crashes aged out of the window");
/// assert!(monitor.worker_health("worker-1").is_none(), "idle for a window: forgotten");
/// assert_eq!(monitor.stats().total_crashes, 3);
/// # }
/// ```
pub struct HealthMonitor {
    name: Arc<str>,
    state: Mutex<State>,
}

/// Everything under the monitor's lock.
struct State {
    settings: Settings,
    total_crashes: u64,
    /// The pool's newest crashes, for the limit.
    recent: RecentCrashes,
    /// The pool's crash count past the limit.
    tally: CrashTally,
    last_crash: Option<WallTime>,
    last_reason: Option<Box<str>>,
    workers: Workers,
}

impl State {
    fn new(settings: Settings) -> Self {
        State {
            settings,
            total_crashes: 0,
            recent: RecentCrashes::default(),
            tally: CrashTally::new(settings.window),
            last_crash: None,
            last_reason: None,
            workers: Workers::default(),
        }
    }

    /// Ages out what left the window at `now`.
    fn expire(&mut self, now: Instant) {
        let window = self.settings.window;
        self.recent.expire(now, window);
        self.workers.forget_idle(now, window);
    }

    fn over_limit(&self) -> bool {
        self.recent.count() > limit(self.settings.max_crashes)
    }
}

fn limit(max: u32) -> usize {
    usize::try_from(max).unwrap_or(usize::MAX)
}

impl HealthMonitor {
    /// The most workers a monitor tracks at once; past it, the worker idle longest is forgotten.
    pub const MAX_TRACKED_WORKERS: usize = 10_000;

    /// A builder for a monitor named `name`, with the defaults: at most 10 crashes in a 60 s
    /// window, 3 per worker.
    pub fn builder(name: impl Into<Arc<str>>) -> HealthMonitorBuilder {
        HealthMonitorBuilder::new(name.into())
    }

    fn from_parts(name: Arc<str>, settings: Settings) -> Self {
        HealthMonitor {
            name,
            state: Mutex::new(State::new(settings)),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // No user code runs under the lock (a reason is formatted before it is taken), and
        // every update leaves the state whole: a poisoned lock is safe to use.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The registry name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The pool's crashes the window may hold while the monitor is healthy.
    pub fn max_crashes(&self) -> u32 {
        self.settings().max_crashes
    }

    /// How long a crash counts.
    pub fn window(&self) -> Duration {
        self.settings().window
    }

    /// One worker's crashes the window may hold while that worker is healthy.
    pub fn max_worker_crashes(&self) -> u32 {
        self.settings().max_worker_crashes
    }

    fn settings(&self) -> Settings {
        self.lock().settings
    }

    /// The settings in one line, as the registry's table shows them:
    /// `max_crashes=10 window=60s max_worker_crashes=3`.
    pub(crate) fn config_line(&self) -> String {
        self.settings().to_string()
    }

    /// Records a crash of the worker `worker_id`, for `reason` (kept as its `Display` text, cut
    /// to 256 bytes).
    ///
    /// ```
    /// use resilience::HealthMonitor;
    ///
    /// let monitor = HealthMonitor::builder("doc-record-crash").build().unwrap();
    /// monitor.record_crash("worker-7", format_args!("exit code {}", 137));
    /// assert_eq!(monitor.worker_health("worker-7").unwrap().last_reason, "exit code 137");
    /// ```
    pub fn record_crash(&self, worker_id: impl AsRef<str>, reason: impl fmt::Display) {
        let reason = reason::reason_text(&reason);
        let wall = WallTime::from(SystemTime::now());
        let mut state = self.lock();
        // Read under the lock, so that crash times never go backwards.
        let now = Instant::now();
        state.expire(now);
        state.total_crashes = state.total_crashes.saturating_add(1);
        let Settings {
            max_crashes,
            window,
            max_worker_crashes,
        } = state.settings;
        state.recent.record(now, max_crashes);
        state.tally.record(now);
        state.last_crash = Some(wall);
        state.last_reason = Some(reason.clone());
        state.workers.record(
            Crash {
                worker_id: worker_id.as_ref(),
                at: now,
                wall,
                reason,
            },
            max_worker_crashes,
            window,
            Self::MAX_TRACKED_WORKERS,
        );
    }

    /// Whether the pool is healthy: its window holds at most `max_crashes` crashes. More is
    /// "over its limit", which the registry's health report counts as unhealthy.
    pub fn healthy(&self) -> bool {
        let mut state = self.lock();
        state.expire(Instant::now());
        !state.over_limit()
    }

    /// The pool's counts now.
    pub fn stats(&self) -> HealthMonitorStats {
        let mut state = self.lock();
        let now = Instant::now();
        state.expire(now);
        let over = state.over_limit();
        let exact = u64::try_from(state.recent.count()).unwrap_or(u64::MAX);
        let crashes_in_window = if over {
            exact.max(state.tally.count(now))
        } else {
            exact
        };
        HealthMonitorStats {
            total_crashes: state.total_crashes,
            crashes_in_window,
            healthy: !over,
            tracked_workers: state.workers.len(),
            last_crash: state.last_crash,
            last_reason: state.last_reason.as_deref().map(str::to_owned),
        }
    }

    /// The health of the worker `worker_id`: `None` when it has no crash in the window (it
    /// never crashed, or it has been idle for a whole window and is forgotten, or it was
    /// evicted to make room for others: see [`MAX_TRACKED_WORKERS`](Self::MAX_TRACKED_WORKERS)).
    pub fn worker_health(&self, worker_id: &str) -> Option<WorkerHealth> {
        let mut state = self.lock();
        let now = Instant::now();
        state.expire(now);
        let max = state.settings.max_worker_crashes;
        let window = state.settings.window;
        let worker = state.workers.get(worker_id, now, window)?;
        let count = worker.recent.count();
        Some(WorkerHealth {
            healthy: count <= limit(max),
            crash_count: u32::try_from(count).unwrap_or(u32::MAX),
            last_crash: worker.last_crash,
            last_reason: worker.last_reason.to_string(),
        })
    }

    /// Forgets every crash and worker: a fresh start with the same settings. The registry's
    /// [`reset`](crate::Registry::reset) calls it.
    pub fn reset(&self) {
        let mut state = self.lock();
        *state = State::new(state.settings);
    }

    /// What the monitor holds: the pool's crash times and the room allocated for them; the
    /// workers tracked, the entries of their order index, and their crash times in all.
    #[cfg(test)]
    fn footprint(&self) -> ((usize, usize), (usize, usize, usize)) {
        let state = self.lock();
        (state.recent.footprint(), state.workers.footprint())
    }

    /// Takes `built`'s settings, forgetting every crash (the registry revives an unregistered
    /// monitor so).
    pub(crate) fn reconfigure_fresh(&self, built: HealthMonitor) {
        let settings = built.settings();
        *self.lock() = State::new(settings);
    }
}

/// The name, the settings and the counts: not every worker.
impl fmt::Debug for HealthMonitor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HealthMonitor")
            .field("name", &self.name)
            .field("settings", &self.settings())
            .field("stats", &self.stats())
            .finish()
    }
}
