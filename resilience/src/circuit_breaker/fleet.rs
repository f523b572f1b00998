//! A shared breaker's side of a fleet sync (`store/sync.rs` drives it): what the instance
//! reports, and following the fleet's state. Nothing here is on a call's path: the registry's
//! sync task calls it every `sync_interval`, and the open path reads `fleet_joined`.

use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use tokio::time::Instant;

use super::state_word::{Phase, StateWord};
use super::{CircuitBreaker, TransitionCause, TripRule, Window};
use crate::store::{FleetPhase, FleetRule};

/// A count window is judged fleet-wide over this much time: the fleet sees counts, not calls.
const COUNT_WINDOW_SPAN: Duration = Duration::from_secs(10);
/// The least a fleet's state outlives its last sync.
const MIN_TTL: Duration = Duration::from_secs(60);

/// What one sync reads off the breaker.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LocalView {
    pub(crate) word: StateWord,
    pub(crate) successes: u64,
    pub(crate) failures: u64,
    pub(crate) trailing_failures: u32,
    pub(crate) open_for: Duration,
    /// Open, and `reset_timeout` has elapsed: time for the fleet to go half-open.
    pub(crate) reset_elapsed: bool,
    pub(crate) rule: FleetRule,
    pub(crate) bucket: Duration,
    pub(crate) half_open_timeout: Duration,
    pub(crate) ttl: Duration,
}

impl LocalView {
    pub(crate) fn phase(&self) -> FleetPhase {
        fleet_phase(self.word.phase())
    }
}

fn fleet_phase(phase: Phase) -> FleetPhase {
    match phase {
        Phase::Closed => FleetPhase::Closed,
        Phase::Open => FleetPhase::Open,
        Phase::HalfOpen => FleetPhase::HalfOpen,
        Phase::ForcedOpen => FleetPhase::ForcedOpen,
    }
}

fn local_phase(phase: FleetPhase) -> Phase {
    match phase {
        FleetPhase::Closed => Phase::Closed,
        FleetPhase::Open => Phase::Open,
        FleetPhase::HalfOpen => Phase::HalfOpen,
        FleetPhase::ForcedOpen => Phase::ForcedOpen,
    }
}

fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

impl CircuitBreaker {
    /// Whether the store answered this shared breaker's last sync.
    #[inline]
    pub(super) fn fleet_joined(&self) -> bool {
        self.fleet_joined.load(Relaxed)
    }

    /// Notes whether the store answered the last sync. A breaker that lost its store runs on
    /// its local state alone: should it have followed the fleet into half-open without probing,
    /// it may probe again itself, or it would never close.
    pub(crate) fn set_fleet_joined(&self, joined: bool) {
        let was = self.fleet_joined.swap(joined, Relaxed);
        if was && !joined {
            self.lock().probe_cap = None;
        }
    }

    /// The state, counts and settings one sync reports.
    pub(crate) fn fleet_view(&self) -> LocalView {
        let machine = self.lock();
        let config = machine.config();
        let word = self.load_state();
        let totals = self.counters.totals();
        let now = self.clock(Instant::now());
        let open = matches!(word.phase(), Phase::Open | Phase::ForcedOpen);
        let open_for = if open {
            Duration::from_nanos(now.saturating_sub(self.opened_at.load(Relaxed)))
        } else {
            Duration::ZERO
        };
        let (rule, window) = match config.trip {
            TripRule::ConsecutiveFailures(threshold) => (
                FleetRule::ConsecutiveFailures(threshold),
                Duration::from_secs(1),
            ),
            TripRule::FailureRate {
                rate,
                window,
                min_calls,
            } => {
                let span = match window {
                    Window::Time(length) => length,
                    Window::Calls(_) => COUNT_WINDOW_SPAN,
                };
                (
                    FleetRule::FailureRate {
                        rate,
                        min_calls,
                        window: span,
                    },
                    span,
                )
            }
        };
        let half_open_timeout = config.effective_half_open_timeout();
        let longest = config.reset_timeout.max(half_open_timeout).max(window);
        LocalView {
            word,
            successes: totals.successes,
            failures: totals.failures,
            trailing_failures: self.streak.failures(word.generation()),
            open_for,
            reset_elapsed: word.phase() == Phase::Open && self.open_time_left(now).is_zero(),
            rule,
            bucket: (window / 10).max(Duration::from_millis(100)),
            half_open_timeout,
            ttl: longest.saturating_mul(2).max(MIN_TTL),
        }
    }

    /// Follows the fleet's state, unless the breaker moved since `seen` (that move is proposed
    /// at the next sync). `prober`: this instance's own half-open proposal won, so it probes
    /// for the fleet; an instance that follows the fleet into half-open admits no probe.
    /// Returns whether it followed.
    pub(crate) fn follow_fleet(
        &self,
        seen: StateWord,
        phase: FleetPhase,
        open_for: Duration,
        prober: bool,
    ) -> bool {
        let mut machine = self.lock();
        let word = self.load_state();
        if word != seen {
            return false;
        }
        let to = local_phase(phase);
        let mut change = None;
        if word.phase() != to {
            let cause = if prober {
                TransitionCause::ResetTimeoutElapsed
            } else {
                TransitionCause::Fleet
            };
            change = Some(self.transition(&mut machine, word, to, cause).1);
            if to == Phase::HalfOpen && !prober {
                machine.probe_cap = Some(0);
            }
        }
        if matches!(to, Phase::Open | Phase::ForcedOpen) {
            // The fleet's reset timeout counts from when the fleet opened, not from when this
            // instance heard of it.
            let now = self.clock(Instant::now());
            self.opened_at
                .store(now.saturating_sub(nanos(open_for)), Relaxed);
        }
        drop(machine);
        self.announce(change);
        true
    }
}
