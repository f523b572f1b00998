//! Graceful shutdown: the gate every policy's admission reads, the report of what was still
//! running, and the helper that shuts down on a signal.

pub(crate) mod gate;
mod in_flight;
mod report;
#[cfg(feature = "signal")]
mod signal;

use std::sync::Arc;

pub(crate) use in_flight::InFlight;
pub use in_flight::InFlightGuard;
pub use report::{ShutdownReport, StillRunning};
#[cfg(feature = "signal")]
pub use signal::shutdown_on_signal;

use crate::events::{self, Event};
use crate::registry::PolicyKind;
use crate::Error;

/// The rejection of a call that arrived, or was waiting, while shutting down; reported as
/// [`Event::CallRejected`] like every rejection.
#[cold]
pub(crate) fn rejection(kind: PolicyKind, name: &Arc<str>) -> Error {
    let error = Error::ShuttingDown {
        name: Arc::clone(name),
    };
    events::emit(|| Event::CallRejected {
        kind,
        error: error.clone(),
        key: None,
    });
    error
}
