//! The common case: shut down gracefully when the process is asked to stop.

use std::future::Future;
use std::time::Duration;

use super::ShutdownReport;

/// Waits for Ctrl-C (SIGINT) or, on Unix, SIGTERM, then runs
/// [`registry().shutdown(deadline)`](crate::Registry::shutdown) and returns its report.
/// Feature `signal`.
///
/// ```no_run
/// use std::time::Duration;
///
/// # #[tokio::main]
/// # async fn main() {
/// // Beside the server: returns once a signal came and the calls in flight have drained.
/// let report = resilience::shutdown_on_signal(Duration::from_secs(10)).await;
/// println!("{report}");
/// # }
/// ```
///
/// # Panics
///
/// Never; a signal handler that cannot be installed is treated as a signal that never comes,
/// so this then waits for the other one (or forever).
pub async fn shutdown_on_signal(deadline: Duration) -> ShutdownReport {
    stop_requested().await;
    crate::registry().shutdown(deadline).await
}

/// Completes on Ctrl-C, or SIGTERM on Unix.
async fn stop_requested() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                term.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    let mut ctrl_c = std::pin::pin!(ctrl_c);
    let mut terminate = std::pin::pin!(terminate);
    std::future::poll_fn(|cx| {
        if ctrl_c.as_mut().poll(cx).is_ready() || terminate.as_mut().poll(cx).is_ready() {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
}
