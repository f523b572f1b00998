//! Children a test drives: each start is logged, and each waits for a command or for its
//! supervisor's stop request.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc;

use super::{ChildSpec, Restart, Supervisor};

/// What a driven child does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Command {
    /// Return an error.
    Crash,
    /// Return `Ok(())`.
    Exit,
    /// Panic.
    Panic,
}

/// The log of starts and stops, and the command channel of each child's latest start.
#[derive(Clone, Default)]
pub(super) struct Driver {
    log: Arc<Mutex<Vec<String>>>,
    commands: Arc<Mutex<HashMap<String, mpsc::UnboundedSender<Command>>>>,
}

impl Driver {
    pub(super) fn take_log(&self) -> Vec<String> {
        std::mem::take(&mut *self.log.lock().unwrap())
    }

    /// Sends `command` to the child's latest start.
    pub(super) fn send(&self, child: &str, command: Command) {
        let commands = self.commands.lock().unwrap();
        let _ = commands[child].send(command);
    }

    /// A child that logs `start NAME`, then waits for a command; asked to stop, it logs
    /// `stop NAME` and returns, or, when `stubborn`, ignores the request.
    pub(super) fn child(&self, name: &str, restart: Restart, stubborn: bool) -> ChildSpec {
        let driver = self.clone();
        let owned = name.to_owned();
        ChildSpec::new(name, move || {
            let (sender, mut receiver) = mpsc::unbounded_channel();
            driver
                .commands
                .lock()
                .unwrap()
                .insert(owned.clone(), sender);
            driver.log.lock().unwrap().push(format!("start {owned}"));
            let log = Arc::clone(&driver.log);
            let name = owned.clone();
            async move {
                let stop = async {
                    if stubborn {
                        std::future::pending::<()>().await;
                    }
                    Supervisor::stop_requested().await;
                };
                tokio::select! {
                    command = receiver.recv() => match command {
                        Some(Command::Crash) => Err(format!("{name} crashed")),
                        Some(Command::Exit) => Ok(()),
                        Some(Command::Panic) => panic!("{name} panicked"),
                        None => std::future::pending().await,
                    },
                    () = stop => {
                        log.lock().unwrap().push(format!("stop {name}"));
                        Ok(())
                    }
                }
            }
        })
        .restart(restart)
    }
}

/// Lets every task run until all wait, then moves the clock 1 ms on.
pub(super) async fn settle() {
    tokio::time::sleep(Duration::from_millis(1)).await;
}
