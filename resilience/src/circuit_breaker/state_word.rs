//! The circuit's state and generation packed in one word, so that admitting a call is a single
//! atomic load.

use super::CircuitState;

/// What the circuit does with a call, finer than [`CircuitState`]: an open circuit is either
/// waiting out its reset timeout or held open by `force_open`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    Closed,
    Open,
    HalfOpen,
    ForcedOpen,
}

impl Phase {
    pub(super) fn state(self) -> CircuitState {
        match self {
            Phase::Closed => CircuitState::Closed,
            Phase::Open | Phase::ForcedOpen => CircuitState::Open,
            Phase::HalfOpen => CircuitState::HalfOpen,
        }
    }
}

const PHASE_BITS: u32 = 2;
const PHASE_MASK: u64 = (1 << PHASE_BITS) - 1;

/// `generation << 2 | phase`. The generation grows by one on every transition, so an outcome
/// carries the word it was admitted under and counts only if the circuit has not moved since.
/// At 62 bits it cannot wrap in practice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StateWord(u64);

impl StateWord {
    pub(super) const INITIAL: StateWord = StateWord(0);

    pub(super) fn from_bits(bits: u64) -> Self {
        StateWord(bits)
    }

    pub(super) fn bits(self) -> u64 {
        self.0
    }

    pub(super) fn phase(self) -> Phase {
        match self.0 & PHASE_MASK {
            0 => Phase::Closed,
            1 => Phase::Open,
            2 => Phase::HalfOpen,
            _ => Phase::ForcedOpen,
        }
    }

    pub(super) fn generation(self) -> u64 {
        self.0 >> PHASE_BITS
    }

    /// The word of the next generation, in `phase`.
    pub(super) fn next(self, phase: Phase) -> Self {
        let code = match phase {
            Phase::Closed => 0,
            Phase::Open => 1,
            Phase::HalfOpen => 2,
            Phase::ForcedOpen => 3,
        };
        StateWord((self.generation().wrapping_add(1) << PHASE_BITS) | code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_bumps_the_generation_and_sets_the_phase() {
        let mut word = StateWord::INITIAL;
        assert_eq!(word.phase(), Phase::Closed);
        for (step, phase) in [
            Phase::Open,
            Phase::HalfOpen,
            Phase::ForcedOpen,
            Phase::Closed,
        ]
        .into_iter()
        .enumerate()
        {
            word = word.next(phase);
            assert_eq!(word.phase(), phase);
            assert_eq!(word.generation(), step as u64 + 1);
            assert_eq!(StateWord::from_bits(word.bits()), word);
        }
    }

    #[test]
    fn the_generation_wraps_without_touching_the_phase() {
        let last = StateWord::from_bits(!PHASE_MASK);
        let wrapped = last.next(Phase::HalfOpen);
        assert_eq!(wrapped.generation(), 0);
        assert_eq!(wrapped.phase(), Phase::HalfOpen);
    }
}
