//! Health: the crash monitor of a pool of workers.

mod monitor;

pub use monitor::{HealthMonitor, HealthMonitorBuilder, HealthMonitorStats, WorkerHealth};
