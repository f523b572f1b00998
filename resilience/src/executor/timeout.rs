//! A deadline on one future, without a registered `Timeout`.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use crate::Error;

/// The name [`with_timeout`]'s rejections carry: it has no policy of its own.
const NAME: &str = "with_timeout";

/// Runs `fut` with a deadline `after` from now, as `#[timeout]` does: when the deadline passes
/// first, `fut` is dropped and the call returns `Error::Timeout { name: "with_timeout", after }`
/// converted into the caller's `E`.
///
/// The future is polled before the deadline is checked, so a result that is ready wins over an
/// expired deadline, and a zero `after` lets a future that is ready at once finish. Unlike a
/// [`Timeout`](crate::Timeout), nothing is registered: the call appears in no stats and emits
/// no event. For that, build a `Timeout` (or look one up in the registry) and use its
/// [`call`](crate::Timeout::call).
///
/// ```
/// use resilience::{with_timeout, Error};
/// use std::time::Duration;
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let slow = async {
///     tokio::time::sleep(Duration::from_secs(10)).await;
///     Ok::<_, Error>("late")
/// };
/// let result = with_timeout(Duration::from_secs(1), slow).await;
/// assert!(matches!(result, Err(Error::Timeout { after, .. }) if after == Duration::from_secs(1)));
///
/// let quick = async { Ok::<_, std::io::Error>(7) };
/// assert_eq!(with_timeout(Duration::from_secs(1), quick).await.unwrap(), 7);
/// # }
/// ```
pub async fn with_timeout<T, E, Fut>(after: Duration, fut: Fut) -> Result<T, E>
where
    Fut: Future<Output = Result<T, E>>,
    E: From<Error>,
{
    if crate::lifecycle::gate::is_closed() {
        return Err(E::from(crate::lifecycle::rejection(
            crate::PolicyKind::Timeout,
            &Arc::from(NAME),
        )));
    }
    match tokio::time::timeout(after, fut).await {
        Ok(result) => result,
        Err(_elapsed) => Err(E::from(Error::Timeout {
            name: Arc::from(NAME),
            after,
        })),
    }
}
