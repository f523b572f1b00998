//! A child's specification: its name, its async factory, when it is restarted, and how long it
//! gets to stop.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

/// The future a child's factory makes, its error already turned into text.
pub(crate) type ChildFuture = Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;

/// A child's factory, shared by every start of the child.
pub(crate) type Factory = Arc<dyn Fn() -> ChildFuture + Send + Sync>;

/// The time a child is given to stop, once asked, before its task is aborted.
pub(crate) const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);

/// When a child that ended is started again (OTP's restart types).
///
/// | ended by | `Permanent` | `Transient` | `Temporary` |
/// |---|---|---|---|
/// | `Ok(())` | restarted | not restarted | not restarted |
/// | `Err(_)` | restarted | restarted | not restarted |
/// | a panic | restarted | restarted | not restarted |
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum Restart {
    /// Always restarted, whatever ended it: a service that must run.
    #[default]
    Permanent,
    /// Restarted after an error or a panic only: a job that may finish.
    Transient,
    /// Never restarted; stopped with its siblings, it is not started again either.
    Temporary,
}

impl Restart {
    /// `"permanent"`, `"transient"` or `"temporary"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Restart::Permanent => "permanent",
            Restart::Transient => "transient",
            Restart::Temporary => "temporary",
        }
    }

    /// Whether a child that ended so is restarted.
    pub(crate) fn restarts_after(self, exit: &Exit) -> bool {
        match self {
            Restart::Permanent => true,
            Restart::Transient => !matches!(exit, Exit::Normal),
            Restart::Temporary => false,
        }
    }
}

impl fmt::Display for Restart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a child's task ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Exit {
    /// It returned `Ok(())`.
    Normal,
    /// It returned an error, shown.
    Failed(String),
    /// It panicked, with the panic's message when it had one.
    Panicked(String),
    /// It was aborted (after its shutdown timeout).
    Aborted,
}

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Exit::Normal => f.write_str("exited normally"),
            Exit::Failed(error) => write!(f, "failed: {error}"),
            Exit::Panicked(message) => write!(f, "panicked: {message}"),
            Exit::Aborted => f.write_str("aborted"),
        }
    }
}

/// One child of a [`Supervisor`](crate::Supervisor): a name and an async factory the supervisor
/// calls for each start, in a task of its own.
///
/// The factory's future ends the child: `Ok(())` is a normal exit, an `Err` (any `E: Display`)
/// or a panic is a crash. A child that should stop cleanly when its supervisor stops it awaits
/// [`Supervisor::stop_requested`](crate::Supervisor::stop_requested); one that does not is
/// aborted after its [`shutdown_timeout`](Self::shutdown_timeout).
///
/// ```
/// use resilience::{ChildSpec, Restart};
/// use std::time::Duration;
///
/// let child = ChildSpec::new("mailer", || async {
///     // ... send mail until told to stop
///     Ok::<(), std::io::Error>(())
/// })
/// .restart(Restart::Transient)
/// .shutdown_timeout(Duration::from_secs(1));
/// assert_eq!(child.name(), "mailer");
/// ```
#[derive(Clone)]
pub struct ChildSpec {
    pub(crate) name: Arc<str>,
    pub(crate) factory: Factory,
    pub(crate) restart: Restart,
    pub(crate) shutdown_timeout: Duration,
}

impl ChildSpec {
    /// A [`Restart::Permanent`] child named `name` that runs what `factory` makes, with the
    /// default shutdown timeout of 5 s.
    pub fn new<F, Fut, E>(name: impl Into<Arc<str>>, factory: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: fmt::Display + 'static,
    {
        ChildSpec {
            name: name.into(),
            factory: Arc::new(move || {
                let run = factory();
                Box::pin(async move { run.await.map_err(|error| error.to_string()) })
            }),
            restart: Restart::Permanent,
            shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
        }
    }

    /// When the child is restarted; [`Restart::Permanent`] by default.
    pub fn restart(mut self, restart: Restart) -> Self {
        self.restart = restart;
        self
    }

    /// How long the child has to end once asked to stop before its task is aborted; 5 s by
    /// default. Zero aborts it at once (OTP's `brutal_kill`).
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = timeout;
        self
    }

    /// The child's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its restart type.
    pub fn restart_type(&self) -> Restart {
        self.restart
    }
}

impl fmt::Debug for ChildSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChildSpec")
            .field("name", &self.name)
            .field("restart", &self.restart)
            .field("shutdown_timeout", &self.shutdown_timeout)
            .finish_non_exhaustive()
    }
}
