//! The user's own health checks: async closures run with a timeout, each in a task of its own
//! so that one that panics or hangs fails alone.

use std::fmt::Display;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use super::report::{Contributor, HealthCheck, HealthStatus};

type CheckFuture = Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;

/// One check: its name, timeout, whether it is critical, and how to run it.
pub(crate) struct Check {
    name: String,
    timeout: Duration,
    critical: AtomicBool,
    run: Box<dyn Fn() -> CheckFuture + Send + Sync>,
}

impl std::fmt::Debug for Check {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Check")
            .field("name", &self.name)
            .field("timeout", &self.timeout)
            .field("critical", &self.critical.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// A check added with [`Registry::add_check`](crate::Registry::add_check): critical unless
/// told otherwise.
///
/// ```
/// use resilience::registry;
/// use std::time::Duration;
///
/// registry()
///     .add_check("doc-disk", Duration::from_secs(1), || async { Ok::<_, String>(()) })
///     .non_critical();
/// assert!(registry().check_names().contains(&"doc-disk".to_owned()));
/// ```
#[derive(Debug, Clone)]
pub struct CheckHandle {
    check: Arc<Check>,
}

impl CheckHandle {
    /// A failure of this check makes health degraded, not unhealthy.
    pub fn non_critical(self) -> Self {
        self.critical(false)
    }

    /// Whether a failure makes health unhealthy (`true`, the default) or degraded.
    pub fn critical(self, critical: bool) -> Self {
        self.check.critical.store(critical, Ordering::Relaxed);
        self
    }

    /// The check's name.
    pub fn name(&self) -> &str {
        &self.check.name
    }
}

/// The checks of one registry, by name.
#[derive(Default)]
pub(crate) struct Checks(RwLock<Vec<Arc<Check>>>);

impl Checks {
    /// Adds a check, replacing one of the same name.
    pub(crate) fn add<F, Fut, E>(&self, name: String, timeout: Duration, check: F) -> CheckHandle
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Display + 'static,
    {
        let check = Arc::new(Check {
            name,
            timeout,
            critical: AtomicBool::new(true),
            run: Box::new(move || {
                let fut = check();
                Box::pin(async move { fut.await.map_err(|error| error.to_string()) })
            }),
        });
        let mut checks = self.0.write().unwrap_or_else(PoisonError::into_inner);
        checks.retain(|other| other.name != check.name);
        checks.push(Arc::clone(&check));
        CheckHandle { check }
    }

    pub(crate) fn remove(&self, name: &str) -> bool {
        let mut checks = self.0.write().unwrap_or_else(PoisonError::into_inner);
        let before = checks.len();
        checks.retain(|check| check.name != name);
        checks.len() != before
    }

    pub(crate) fn names(&self) -> Vec<String> {
        let checks = self.0.read().unwrap_or_else(PoisonError::into_inner);
        checks.iter().map(|check| check.name.clone()).collect()
    }

    /// Runs every check at once, each in its own task with its timeout; returns when all have
    /// finished or timed out. Dropping the future aborts the checks still running.
    pub(crate) async fn run(&self) -> Vec<HealthCheck> {
        let checks: Vec<Arc<Check>> = self
            .0
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let tasks: Vec<AbortOnDrop> = checks
            .iter()
            .map(|check| AbortOnDrop(tokio::spawn((check.run)())))
            .collect();
        let mut reports = Vec::with_capacity(checks.len());
        for (check, mut task) in checks.iter().zip(tasks) {
            let outcome = tokio::time::timeout(check.timeout, &mut task.0).await;
            let failed = match outcome {
                Ok(Ok(Ok(()))) => None,
                Ok(Ok(Err(error))) => Some(format!("failed: {error}")),
                Ok(Err(join)) if join.is_panic() => {
                    Some(format!("panicked: {}", panic_message(join.into_panic())))
                }
                Ok(Err(_)) => Some("was cancelled".to_owned()),
                Err(_) => Some(format!("timed out after {:?}", check.timeout)),
            };
            let critical = check.critical.load(Ordering::Relaxed);
            reports.push(HealthCheck {
                contributor: Contributor::Check,
                name: check.name.clone(),
                status: match (&failed, critical) {
                    (None, _) => HealthStatus::Healthy,
                    (Some(_), true) => HealthStatus::Unhealthy,
                    (Some(_), false) => HealthStatus::Degraded,
                },
                detail: match failed {
                    None => "ok".to_owned(),
                    Some(why) if critical => why,
                    Some(why) => format!("{why} (not critical)"),
                },
            });
        }
        reports
    }
}

/// A check's task, aborted when health stops waiting for it.
struct AbortOnDrop(tokio::task::JoinHandle<Result<(), String>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "a panic without a message".to_owned()
    }
}
