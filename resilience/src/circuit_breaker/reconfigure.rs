//! Taking a new configuration in place, while calls are in flight: what a configuration reload
//! does to every registered breaker (OPERATIONS.md §1, "State survives reload").

use std::sync::atomic::Ordering::Release;

use super::state_word::Phase;
use super::{CircuitBreaker, CircuitBreakerConfig};

impl CircuitBreaker {
    /// Puts `config`, already validated, in force in place, and returns the keys whose values in
    /// effect changed, spelled as the attribute spells them (`"failure_threshold"`,
    /// `"reset_timeout"`, ...; see `CircuitBreakerConfig::changed_keys`), empty when none did.
    ///
    /// The breaker keeps its state and its counts. What each setting does from then on:
    /// - The trip rule (`failure_threshold`, or `failure_rate` with `window` and `min_calls`):
    ///   when it changed at all, the closed circuit's failure streak and window start afresh, in a
    ///   new generation of the state word (no transition, no event), so an outcome admitted under
    ///   the old rule counts in the stats only, exactly as one admitted before a transition. When
    ///   the rule is the same, the streak and the window are kept. An open or half-open circuit
    ///   has neither: the new rule applies from the next closing.
    /// - `reset_timeout` applies to the current open period too, counted from the moment the
    ///   circuit opened: a longer one keeps it open longer, a shorter one that has already elapsed
    ///   lets the next call through as a probe.
    /// - `half_open_max_calls` applies from the next admission: probes in flight keep their slots
    ///   and give them back as they finish, and a lowered limit admits no probe until fewer are in
    ///   flight than it allows.
    /// - `success_threshold` applies from the next probe success, counted with the successes of
    ///   the current half-open period.
    /// - `half_open_timeout` applies from its next check (an admission or a probe's outcome), to
    ///   the probes already in flight too, each timed from its own admission.
    /// - `slow_call` applies to the outcomes recorded from then on, of calls that were timed at
    ///   admission: half-open probes always are; a closed call admitted while there was no limit
    ///   was not, and is never judged slow.
    /// - `critical` applies at once: only health reads it ([`is_critical`](CircuitBreaker::is_critical)).
    ///
    /// Calls in flight never see a half-built breaker. The whole configuration is swapped under
    /// the breaker's lock, which every path that reads more than one setting holds. The paths
    /// that hold no lock (a closed circuit's admission and outcomes, an open circuit's
    /// rejections) read single settings from atomics, written under the lock before the new state
    /// word is published: a call admitted under the new generation reads the new rule; a call
    /// that races the swap may read an old `slow_call` or `reset_timeout` beside a new one, which
    /// only decides whether it is judged by the old value or the new one. Probe slots are never
    /// touched, so none is lost or leaked.
    pub(crate) fn reconfigure(&self, config: CircuitBreakerConfig) -> Vec<&'static str> {
        let mut machine = self.lock();
        let changed = machine.config().changed_keys(&config);
        let new_rule = machine.config().trip != config.trip;
        self.settings.store(&config);
        self.key_settings.store(&config);
        machine.set_config(config, new_rule);
        if new_rule {
            let word = self.load_state();
            if word.phase() == Phase::Closed {
                let next = word.next(Phase::Closed);
                self.streak.restart(next.generation());
                // Publishes the settings and the fresh streak and window with the new generation
                // (Release/Acquire pairs with `load_state`), as a transition does.
                self.state.store(next.bits(), Release);
            }
        }
        changed
    }
}
