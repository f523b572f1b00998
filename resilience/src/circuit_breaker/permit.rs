//! One admitted call: the permit that carries its outcome back to the breaker.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::Instant;

use super::state_word::{Phase, StateWord};
use super::CircuitBreaker;

/// How a finished call counts for a circuit breaker.
///
/// ```
/// use resilience::{CallOutcome, CircuitBreaker};
/// use std::io;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let breaker = CircuitBreaker::builder("doc-outcome").failure_threshold(1).build().unwrap();
/// // "Not found" shows the dependency is up: count it as a success.
/// let classify = |error: &io::Error| match error.kind() {
///     io::ErrorKind::NotFound => CallOutcome::Success,
///     io::ErrorKind::InvalidInput => CallOutcome::Ignored,
///     _ => CallOutcome::Failure,
/// };
/// let result: io::Result<()> = breaker
///     .call_with(async { Err(io::ErrorKind::NotFound.into()) }, classify)
///     .await;
/// assert!(result.is_err());
/// assert_eq!(breaker.stats().successes, 1);
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallOutcome {
    /// The dependency answered: it ends a failure streak and counts toward closing a half-open
    /// circuit (unless the breaker's `slow_call` limit makes it a failure).
    Success,
    /// The dependency failed: it counts toward opening the circuit, and re-opens a half-open one.
    Failure,
    /// Says nothing about the dependency: counted in the stats only (a half-open probe gives its
    /// slot back).
    Ignored,
}

/// The circuit's state word at admission, and the probe slot the call holds, if any.
#[derive(Debug, Clone, Copy)]
pub(super) struct Ticket {
    pub(super) word: StateWord,
    /// When the half-open probe was admitted, on the breaker's clock, which names its slot; `None`
    /// for a call that holds none.
    pub(super) probe_admitted_at: Option<u64>,
}

/// Permission to make one call through a [`CircuitBreaker`], from
/// [`try_acquire`](CircuitBreaker::try_acquire): for integrations that cannot hand the breaker a
/// future.
///
/// Report the call's outcome with [`success`](Self::success), [`failure`](Self::failure),
/// [`ignore`](Self::ignore) or [`record`](Self::record). A permit dropped without one is a
/// neutral outcome (the call was abandoned), except when the call itself panicked, which counts
/// as a failure; either way a half-open probe slot is given back.
///
/// Whether a drop during a panic is the call's own panic: when the call is a future, poll it
/// through [`poll_body`](Self::poll_body), and only a panic out of that poll counts (a call
/// dropped because a future beside it panicked, in a `join!` say, is abandoned, hence neutral).
/// A permit never polled through `poll_body` cannot tell, and counts any drop during a panic as
/// a failure, which is right for a call made by hand in the same function.
///
/// ```
/// use resilience::{CircuitBreaker, CircuitState};
///
/// let breaker = CircuitBreaker::builder("doc-permit").failure_threshold(1).build().unwrap();
/// let permit = breaker.try_acquire().unwrap();
/// let answer: Result<u32, &str> = Err("connection refused"); // the hand-made call
/// match answer {
///     Ok(_) => permit.success(),
///     Err(_) => permit.failure(),
/// }
/// assert_eq!(breaker.state(), CircuitState::Open);
/// assert!(breaker.try_acquire().is_err());
/// ```
#[derive(Debug)]
#[must_use = "a permit dropped at once records nothing; report the call's outcome on it"]
pub struct CallPermit<'a> {
    // Three words, no more: the permit lives in the caller's future across the call, and every
    // byte of it is copied on the way in (a fourth word for the body's state measured ~5 ns).
    breaker: &'a CircuitBreaker,
    /// The state word the call was admitted under; a half-open one means a probe slot is held.
    word: StateWord,
    /// When the call was admitted, and where its body is: see [`Stamp`].
    stamp: Stamp,
}

/// A permit's last word: the breaker's clock at admission in the low 62 bits (read when the
/// breaker has a `slow_call` limit, and for a half-open probe, whose slot it names; else
/// [`UNTIMED`], which keeps the clock off the closed path), and in the top two bits where the
/// body is, as far as a panic is concerned: a [`BodyPoll`]. Shared by [`CallPermit`] and the
/// keyed permit (`keyed.rs`), which both keep to four words or fewer for the same reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Stamp(u64);

impl Stamp {
    /// Admitted with no clock reading.
    pub(super) const UNTIMED: Stamp = Stamp(UNTIMED);

    /// Admitted at `time` on the breaker's clock (clamped to 2^62 - 2 ns), body not yet polled.
    #[inline(always)]
    pub(super) fn at(time: u64) -> Stamp {
        Stamp(time.min(LATEST_TIME))
    }

    /// The breaker's clock at admission; `None` for a call admitted untimed.
    #[inline(always)]
    pub(super) fn time(self) -> Option<u64> {
        let time = self.0 & TIME_MASK;
        (time != UNTIMED).then_some(time)
    }

    #[inline(always)]
    pub(super) fn set_body(&mut self, body: BodyPoll) {
        self.0 = (self.0 & TIME_MASK) | ((body as u64) << BODY_SHIFT);
    }

    #[inline(always)]
    pub(super) fn body(self) -> BodyPoll {
        match self.0 >> BODY_SHIFT {
            0 => BodyPoll::Unknown,
            1 => BodyPoll::Polling,
            _ => BodyPoll::Idle,
        }
    }

    /// Whether a drop now, during a panic, is the call's own panic (a failure): unless the body
    /// was known to be between polls.
    pub(super) fn panicked(self) -> bool {
        self.body() != BodyPoll::Idle && std::thread::panicking()
    }
}

/// Whether a panic unwinding through a permit's drop is the call's own. Two bits of the
/// permit's last word, no atomic: only the task that owns the permit polls the body and drops
/// the permit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum BodyPoll {
    /// [`poll_body`](CallPermit::poll_body) was never used: the permit cannot tell, and takes a
    /// panic during its drop for the call's.
    Unknown = 0,
    /// Inside `poll_body`'s poll of the body: a panic now is the body's. A poll that unwinds
    /// leaves the permit here.
    Polling = 1,
    /// Between polls of the body: a drop now, even during a panic, abandons the call.
    Idle = 2,
}

/// Where [`BodyPoll`] sits in the permit's last word.
const BODY_SHIFT: u32 = 62;
/// The admission time's bits: 2^62 ns is 146 years of the breaker's clock.
const TIME_MASK: u64 = (1 << BODY_SHIFT) - 1;
/// The admission time of a call admitted with no clock reading: a closed call while the breaker
/// had no `slow_call` limit. Should a reconfiguration add a limit before the call ends, the call
/// cannot be judged slow (there is no time to measure from), rather than judged slow from time 0.
const UNTIMED: u64 = TIME_MASK;
/// The latest admission time a permit holds; later ones are clamped to it.
const LATEST_TIME: u64 = TIME_MASK - 1;

impl<'a> CallPermit<'a> {
    /// A permit admitted in a closed circuit.
    #[inline]
    pub(super) fn new(breaker: &'a CircuitBreaker, word: StateWord) -> Self {
        let stamp = if breaker.settings.times_calls() {
            Stamp::at(breaker.clock(Instant::now()))
        } else {
            Stamp::UNTIMED
        };
        Self::with_stamp(breaker, word, stamp)
    }

    /// A permit admitted under `word` at `admitted_at` on the breaker's clock.
    #[inline]
    pub(super) fn admitted_at(
        breaker: &'a CircuitBreaker,
        word: StateWord,
        admitted_at: u64,
    ) -> Self {
        Self::with_stamp(breaker, word, Stamp::at(admitted_at))
    }

    #[inline(always)]
    fn with_stamp(breaker: &'a CircuitBreaker, word: StateWord, stamp: Stamp) -> Self {
        // Counted out by whichever way the permit ends: `record`, `record_rest` or `drop`.
        breaker.in_flight.enter_unguarded();
        CallPermit {
            breaker,
            word,
            stamp,
        }
    }

    /// The permit's words, the permit forgotten: its call is still counted in flight. For the
    /// keyed permit, which holds an unkeyed call's permit in the same words.
    #[inline(always)]
    pub(super) fn into_raw(self) -> (&'a CircuitBreaker, StateWord, Stamp) {
        let raw = (self.breaker, self.word, self.stamp);
        std::mem::forget(self);
        raw
    }

    /// The permit [`into_raw`](Self::into_raw) gave the words of.
    #[inline(always)]
    pub(super) fn from_raw(breaker: &'a CircuitBreaker, word: StateWord, stamp: Stamp) -> Self {
        CallPermit {
            breaker,
            word,
            stamp,
        }
    }

    /// Polls `body`, the call this permit admitted, so that the permit knows a panic out of
    /// this poll for the call's own (a failure) from a drop during some other future's panic
    /// (an abandoned call: neutral). Poll the call through it on every poll, then report the
    /// outcome as usual; [`CircuitBreaker::call`] does exactly this.
    ///
    /// ```
    /// use resilience::CircuitBreaker;
    /// use std::pin::pin;
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let breaker = CircuitBreaker::builder("doc-poll-body").build().unwrap();
    /// let mut permit = breaker.try_acquire().unwrap();
    /// let mut call = pin!(async { Ok::<u32, std::io::Error>(7) });
    /// let result = std::future::poll_fn(|cx| permit.poll_body(call.as_mut(), cx)).await;
    /// match result {
    ///     Ok(_) => permit.success(),
    ///     Err(_) => permit.failure(),
    /// }
    /// assert_eq!(breaker.stats().successes, 1);
    /// # }
    /// ```
    #[inline]
    pub fn poll_body<F: Future>(
        &mut self,
        body: Pin<&mut F>,
        cx: &mut Context<'_>,
    ) -> Poll<F::Output> {
        self.stamp.set_body(BodyPoll::Polling);
        let poll = body.poll(cx);
        // Not reached when the poll panics: the permit stays `Polling`, so that its drop during
        // that unwinding counts the panic as the call's.
        self.stamp.set_body(BodyPoll::Idle);
        poll
    }

    fn ticket(&self) -> Ticket {
        Ticket {
            word: self.word,
            // A probe is always timed: its admission time names its slot.
            probe_admitted_at: (self.word.phase() == Phase::HalfOpen)
                .then(|| self.stamp.time().unwrap_or(UNTIMED)),
        }
    }

    /// The call succeeded (a failure, if it took longer than the breaker's `slow_call` limit).
    #[inline]
    pub fn success(self) {
        self.record(CallOutcome::Success);
    }

    /// The call failed.
    pub fn failure(self) {
        self.record(CallOutcome::Failure);
    }

    /// The call's outcome says nothing about the dependency.
    pub fn ignore(self) {
        self.record(CallOutcome::Ignored);
    }

    /// Records `outcome`; a [`Success`](CallOutcome::Success) slower than the breaker's
    /// `slow_call` limit counts as a failure.
    #[inline(always)]
    pub fn record(self, outcome: CallOutcome) {
        // The hot path, inlined into every call site: a success in a closed circuit, with no
        // `slow_call` limit, under the consecutive-failure rule. Everything else is out of line.
        // The fields are read one by one and the rest is passed as plain words: moving the permit
        // whole to the out-of-line path made the compiler copy it with one wide load ahead of
        // the branch, which stalls on the narrower stores that just wrote it (7 ns a call).
        let (breaker, word, stamp) = (self.breaker, self.word, self.stamp);
        // The outcome is recorded below, so the drop guard must not record another.
        std::mem::forget(self);
        breaker.in_flight.exit();
        if outcome == CallOutcome::Success && breaker.closed_success_is_quick(word) {
            breaker.count_success(word);
        } else {
            Self::record_rest(breaker, word, stamp, outcome);
        }
    }

    #[inline(never)]
    fn record_rest(breaker: &CircuitBreaker, word: StateWord, stamp: Stamp, outcome: CallOutcome) {
        let permit = CallPermit {
            breaker,
            word,
            stamp,
        };
        let outcome = match (outcome, breaker.settings.slow_call()) {
            (CallOutcome::Success, Some(limit)) if permit.took_longer_than(limit) => {
                CallOutcome::Failure
            }
            _ => outcome,
        };
        let ticket = permit.ticket();
        std::mem::forget(permit);
        breaker.settle(ticket, outcome);
    }

    /// Whether the call ran longer than `limit`; never for a call admitted untimed.
    fn took_longer_than(&self, limit: Duration) -> bool {
        let Some(admitted) = self.stamp.time() else {
            return false;
        };
        let now = self.breaker.clock(Instant::now());
        Duration::from_nanos(now.saturating_sub(admitted)) > limit
    }
}

impl Drop for CallPermit<'_> {
    fn drop(&mut self) {
        // Dropped without an outcome: the call panicked (a failure, and the unwinding goes on
        // once the outcome is recorded), or the caller gave up, perhaps because a future beside
        // the call panicked (neutral).
        let outcome = if self.stamp.panicked() {
            CallOutcome::Failure
        } else {
            CallOutcome::Ignored
        };
        self.breaker.in_flight.exit();
        self.breaker.settle(self.ticket(), outcome);
    }
}
