//! Health: one status for the program, from its policies, its configuration and its own checks
//! (see [`Registry::health`](crate::Registry::health)), and the crash monitor of a pool of
//! workers.

mod checks;
mod monitor;
mod report;

pub use checks::CheckHandle;
pub(crate) use checks::Checks;
pub use monitor::{HealthMonitor, HealthMonitorBuilder, HealthMonitorStats, WorkerHealth};
pub use report::{Contributor, HealthCheck, HealthReport, HealthStatus};
