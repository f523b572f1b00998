//! What a health monitor reports: about the pool, and about one worker.

use crate::WallTime;

/// A [`HealthMonitor`](crate::HealthMonitor)'s counts, from
/// [`stats`](crate::HealthMonitor::stats). Fields are added over time (`#[non_exhaustive]`).
///
/// ```
/// use resilience::HealthMonitor;
///
/// let monitor = HealthMonitor::builder("doc-monitor-stats").max_crashes(1).build().unwrap();
/// monitor.record_crash("worker-1", "exit code 1");
/// monitor.record_crash("worker-2", "exit code 2");
/// let stats = monitor.stats();
/// assert_eq!((stats.total_crashes, stats.crashes_in_window), (2, 2));
/// assert!(!stats.healthy, "2 crashes in the window, over the limit of 1");
/// assert_eq!(stats.last_reason.as_deref(), Some("exit code 2"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct HealthMonitorStats {
    /// Crashes recorded since the monitor was made or last reset.
    pub total_crashes: u64,
    /// Crashes of the whole pool in the window now. Exact while the monitor is healthy; past
    /// its limit, counted in slots of a 64th of the window, so it may include crashes up to a
    /// slot older than the window.
    pub crashes_in_window: u64,
    /// Whether the window holds at most `max_crashes` crashes.
    pub healthy: bool,
    /// Workers tracked now: those with a crash in the window, at most
    /// [`HealthMonitor::MAX_TRACKED_WORKERS`](crate::HealthMonitor::MAX_TRACKED_WORKERS).
    pub tracked_workers: usize,
    /// When the latest crash was recorded.
    pub last_crash: Option<WallTime>,
    /// The latest crash's reason, cut to 256 bytes.
    pub last_reason: Option<String>,
}

/// One worker's health, from [`HealthMonitor::worker_health`](crate::HealthMonitor::worker_health).
/// Fields are added over time (`#[non_exhaustive]`).
///
/// ```
/// use resilience::HealthMonitor;
///
/// let monitor = HealthMonitor::builder("doc-worker-health").max_worker_crashes(1).build().unwrap();
/// monitor.record_crash("worker-1", "out of memory");
/// let worker = monitor.worker_health("worker-1").unwrap();
/// assert!(worker.healthy);
/// assert_eq!(worker.crash_count, 1);
/// monitor.record_crash("worker-1", "out of memory");
/// assert!(!monitor.worker_health("worker-1").unwrap().healthy);
/// assert!(monitor.worker_health("worker-2").is_none(), "never crashed");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct WorkerHealth {
    /// Whether the worker's crashes in the window are at most `max_worker_crashes`.
    pub healthy: bool,
    /// The worker's crashes in the window, counted up to `max_worker_crashes + 1`: past its
    /// limit the worker is unhealthy, however many more there were.
    pub crash_count: u32,
    /// When its latest crash was recorded.
    pub last_crash: WallTime,
    /// Its latest crash's reason, cut to 256 bytes.
    pub last_reason: String,
}
