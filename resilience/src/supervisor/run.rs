//! A supervisor's run: starting children in tasks, watching them end, restarting them by the
//! strategy, stopping them in reverse order.

use std::collections::VecDeque;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::task::AbortHandle;
use tokio::time::{Instant, Sleep};

use super::child::Exit;
use super::intensity::Intensity;
use super::{Supervisor, SupervisorError};
use crate::events::{self, Event};

tokio::task_local! {
    /// In a supervised child's task: the signal its supervisor sends when it stops it.
    pub(crate) static STOP: watch::Receiver<bool>;
}

/// A child's end as its watcher reports it.
struct Ended {
    index: usize,
    generation: u64,
    exit: Exit,
}

struct Running {
    generation: u64,
    abort: AbortHandle,
    stop: watch::Sender<bool>,
}

enum Slot {
    Running(Running),
    /// Waiting for its restart at that instant.
    Pending(Instant),
    /// Ended and not restarted; a later restart of a group it belongs to starts it again.
    Ended,
    /// A temporary child that ended or was stopped: never started again.
    Removed,
}

/// What woke the run.
enum Wake {
    Ended(Ended),
    Due,
    StopRequested,
}

pub(crate) struct Run<'a> {
    supervisor: &'a Supervisor,
    slots: Vec<Slot>,
    sender: mpsc::UnboundedSender<Ended>,
    receiver: mpsc::UnboundedReceiver<Ended>,
    /// Ends that arrived while the run waited for another child to stop.
    backlog: VecDeque<Ended>,
    generation: u64,
    intensity: Intensity,
    previous_delay: Duration,
}

impl Drop for Run<'_> {
    /// A run dropped before it ended (its caller gave up on it, or a parent aborted it) takes
    /// its children with it: no task outlives the run.
    fn drop(&mut self) {
        for slot in &self.slots {
            if let Slot::Running(running) = slot {
                running.abort.abort();
            }
        }
        self.supervisor.state.set_running(0);
    }
}

impl<'a> Run<'a> {
    pub(crate) fn new(supervisor: &'a Supervisor) -> Self {
        let (sender, receiver) = mpsc::unbounded_channel();
        Run {
            supervisor,
            slots: supervisor.children.iter().map(|_| Slot::Ended).collect(),
            sender,
            receiver,
            backlog: VecDeque::new(),
            generation: 0,
            intensity: Intensity::new(supervisor.max_restarts, supervisor.period),
            previous_delay: Duration::ZERO,
        }
    }

    pub(crate) async fn run(mut self) -> Result<(), SupervisorError> {
        let parent = STOP.try_with(Clone::clone).ok();
        self.supervisor.state.set_gave_up(false);
        for index in 0..self.slots.len() {
            self.start(index);
        }
        loop {
            self.start_due();
            if !self
                .slots
                .iter()
                .any(|slot| matches!(slot, Slot::Running(_) | Slot::Pending(_)))
            {
                return Ok(());
            }
            match self.wait(parent.clone()).await {
                Wake::Ended(ended) => self.on_end(ended).await?,
                Wake::Due => {}
                Wake::StopRequested => {
                    self.stop_all().await;
                    return Ok(());
                }
            }
        }
    }

    fn publish(&self) {
        let running = self
            .slots
            .iter()
            .filter(|slot| matches!(slot, Slot::Running(_)))
            .count();
        self.supervisor.state.set_running(running);
    }

    fn start(&mut self, index: usize) {
        self.generation += 1;
        let generation = self.generation;
        let (stop, stop_receiver) = watch::channel(false);
        let factory = Arc::clone(&self.supervisor.children[index].factory);
        // The factory is called inside the task: a panic there is the child's crash too.
        let task = tokio::spawn(STOP.scope(stop_receiver, async move { factory().await }));
        let abort = task.abort_handle();
        let sender = self.sender.clone();
        tokio::spawn(async move {
            let exit = match task.await {
                Ok(Ok(())) => Exit::Normal,
                Ok(Err(error)) => Exit::Failed(error),
                Err(error) if error.is_panic() => Exit::Panicked(panic_message(error.into_panic())),
                Err(_) => Exit::Aborted,
            };
            // The run may be gone (dropped): nobody is left to tell.
            let _ = sender.send(Ended {
                index,
                generation,
                exit,
            });
        });
        self.slots[index] = Slot::Running(Running {
            generation,
            abort,
            stop,
        });
        self.publish();
    }

    /// Starts, in order, every child whose restart is due.
    fn start_due(&mut self) {
        let now = Instant::now();
        for index in 0..self.slots.len() {
            if matches!(self.slots[index], Slot::Pending(at) if at <= now) {
                self.start(index);
            }
        }
    }

    async fn wait(&mut self, parent: Option<watch::Receiver<bool>>) -> Wake {
        if let Some(ended) = self.backlog.pop_front() {
            return Wake::Ended(ended);
        }
        let due = self
            .slots
            .iter()
            .filter_map(|slot| match slot {
                Slot::Pending(at) => Some(*at),
                _ => None,
            })
            .min();
        let mut sleep: Option<Pin<Box<Sleep>>> =
            due.map(|at| Box::pin(tokio::time::sleep_until(at)));
        let mut stop = parent.map(|mut parent| {
            Box::pin(async move {
                if parent.wait_for(|stop| *stop).await.is_err() {
                    // The parent's run is gone; it aborts this task as it goes.
                    std::future::pending::<()>().await;
                }
            })
        });
        let receiver = &mut self.receiver;
        poll_fn(|cx| {
            if let Poll::Ready(Some(ended)) = receiver.poll_recv(cx) {
                return Poll::Ready(Wake::Ended(ended));
            }
            if let Some(stop) = stop.as_mut() {
                if stop.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(Wake::StopRequested);
                }
            }
            if let Some(sleep) = sleep.as_mut() {
                if sleep.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(Wake::Due);
                }
            }
            Poll::Pending
        })
        .await
    }

    async fn on_end(&mut self, ended: Ended) -> Result<(), SupervisorError> {
        let Ended {
            index,
            generation,
            exit,
        } = ended;
        // An end reported for a start the run already stopped is old news.
        if !matches!(&self.slots[index], Slot::Running(running) if running.generation == generation)
        {
            return Ok(());
        }
        let child = &self.supervisor.children[index];
        if !child.restart.restarts_after(&exit) {
            self.slots[index] = match child.restart {
                super::Restart::Temporary => Slot::Removed,
                _ => Slot::Ended,
            };
            self.publish();
            return Ok(());
        }
        self.slots[index] = Slot::Ended;
        self.publish();
        let name = Arc::clone(&child.name);
        let restarts = match self.intensity.add(Instant::now()) {
            Ok(restarts) => restarts,
            Err(restarts) => return Err(self.give_up(name, restarts).await),
        };
        let supervisor = self.supervisor;
        supervisor.state.note_restart();
        supervisor.monitor.record_crash(&*name, &exit);
        events::emit(|| Event::ChildRestarted {
            supervisor: Arc::clone(&supervisor.name),
            child: Arc::clone(&name),
            reason: exit.to_string(),
            restarts,
        });
        let at = Instant::now() + self.delay(restarts);
        let group = supervisor.strategy.group(index, supervisor.children.len());
        for other in group.clone().rev() {
            if other != index && matches!(self.slots[other], Slot::Running(_)) {
                self.stop(other).await;
            }
        }
        for member in group {
            self.slots[member] = match (&self.slots[member], supervisor.children[member].restart) {
                (Slot::Removed, _) | (_, super::Restart::Temporary) => Slot::Removed,
                _ => Slot::Pending(at),
            };
        }
        self.publish();
        Ok(())
    }

    /// The wait before the restart that makes `restarts` within the period.
    fn delay(&mut self, restarts: u32) -> Duration {
        let supervisor = self.supervisor;
        let delay = supervisor.backoff.delay(restarts, supervisor.max_delay);
        let delay = supervisor.jitter.apply(
            delay,
            self.previous_delay,
            &supervisor.backoff,
            supervisor.max_delay,
        );
        self.previous_delay = delay;
        delay
    }

    async fn give_up(&mut self, child: Arc<str>, restarts: u32) -> SupervisorError {
        self.stop_all().await;
        let supervisor = self.supervisor;
        supervisor.state.set_gave_up(true);
        events::emit(|| Event::SupervisorGaveUp {
            supervisor: Arc::clone(&supervisor.name),
            child: Arc::clone(&child),
            restarts,
        });
        SupervisorError::GaveUp {
            supervisor: Arc::clone(&supervisor.name),
            child,
            restarts,
        }
    }

    /// Stops every running child, the last added first; nothing is restarted after.
    async fn stop_all(&mut self) {
        for index in (0..self.slots.len()).rev() {
            if matches!(self.slots[index], Slot::Running(_)) {
                self.stop(index).await;
            }
            if matches!(self.slots[index], Slot::Pending(_)) {
                self.slots[index] = Slot::Ended;
            }
        }
        self.publish();
    }

    /// Asks the running child `index` to stop, waits its shutdown timeout for it to end, then
    /// aborts it. Its end is not a crash.
    async fn stop(&mut self, index: usize) {
        let (generation, abort) = match &self.slots[index] {
            Slot::Running(running) => {
                // An error only means the child ended already: its end is on its way.
                let _ = running.stop.send(true);
                (running.generation, running.abort.clone())
            }
            _ => return,
        };
        // The slot stays `Running` while the run waits, so that a run dropped meanwhile
        // aborts the child.
        self.wait_stopped(index, generation, abort).await;
        self.slots[index] = Slot::Ended;
    }

    async fn wait_stopped(&mut self, index: usize, generation: u64, abort: AbortHandle) {
        let is_it = |ended: &Ended| ended.index == index && ended.generation == generation;
        if let Some(at) = self.backlog.iter().position(is_it) {
            self.backlog.remove(at);
            return;
        }
        let deadline = Instant::now() + self.supervisor.children[index].shutdown_timeout;
        loop {
            match tokio::time::timeout_at(deadline, self.receiver.recv()).await {
                Ok(Some(ended)) if is_it(&ended) => return,
                Ok(Some(ended)) => self.backlog.push_back(ended),
                // The run holds a sender: the channel cannot close.
                Ok(None) => return,
                Err(_elapsed) => break,
            }
        }
        abort.abort();
        while let Some(ended) = self.receiver.recv().await {
            if is_it(&ended) {
                return;
            }
            self.backlog.push_back(ended);
        }
    }
}

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    if let Some(message) = payload.downcast_ref::<&str>() {
        (*message).to_owned()
    } else if let Some(message) = payload.downcast_ref::<String>() {
        message.clone()
    } else {
        "a panic with no message".to_owned()
    }
}
