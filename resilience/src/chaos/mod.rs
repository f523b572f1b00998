//! Chaos: faults and delays injected on purpose, to see the other policies react (OPERATIONS.md
//! §7; the peers are Polly's Simmy and failsafe-go's chaos).
//!
//! A [`Chaos`] policy is **off** until enabled at run time
//! ([`registry().chaos(name)`](crate::Registry::chaos) then [`enable`](Chaos::enable), or
//! `enabled = true` in the file's `[chaos.NAME]`), so a release binary can carry `#[chaos]`
//! safely: disabled, a call pays one relaxed load.

mod builder;
#[cfg(test)]
mod tests;

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

pub use builder::ChaosBuilder;

use crate::events::{emit, Event};
use crate::Error;

/// A chaos policy: while enabled, fails a share of calls (`fault_rate`) with an injected error
/// and delays a share (`latency_rate`) by `latency`. Disabled (as it starts), it does nothing.
///
/// The draws come from its own random generator, which [`seed`](Self::seed) makes
/// reproducible: a seeded policy injects the same faults into the same sequence of calls.
///
/// ```
/// use resilience::{Chaos, Error};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let chaos = Chaos::builder("doc-chaos").fault_rate(1.0).build().unwrap();
/// // Off until enabled: the call goes through.
/// assert_eq!(chaos.call(async { Ok::<_, Error>(1) }).await, Ok(1));
/// chaos.enable();
/// let injected = chaos.call(async { Ok::<_, Error>(1) }).await.unwrap_err();
/// assert_eq!(injected.code(), "INJECTED");
/// assert_eq!(chaos.stats().injected_faults, 1);
/// # }
/// ```
pub struct Chaos {
    name: Arc<str>,
    enabled: AtomicBool,
    state: Mutex<State>,
    calls: AtomicU64,
    faults: AtomicU64,
    delays: AtomicU64,
}

#[derive(Debug)]
struct State {
    config: ChaosConfig,
    rng: SmallRng,
}

/// The settings of a [`Chaos`] policy.
///
/// ```
/// use resilience::ChaosConfig;
///
/// let config = ChaosConfig::default();
/// assert_eq!((config.fault_rate, config.latency, config.latency_rate), (0.0, None, 1.0));
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct ChaosConfig {
    /// The share of calls failed, `0 ≤ p ≤ 1`.
    pub fault_rate: f64,
    /// The delay added to a delayed call; `None`: no delays.
    pub latency: Option<Duration>,
    /// The share of calls delayed by `latency`, `0 ≤ p ≤ 1`.
    pub latency_rate: f64,
}

impl Default for ChaosConfig {
    fn default() -> Self {
        ChaosConfig {
            fault_rate: resilience_settings::chaos::DEFAULT_FAULT_RATE,
            latency: None,
            latency_rate: resilience_settings::chaos::DEFAULT_LATENCY_RATE,
        }
    }
}

impl fmt::Display for ChaosConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "fault_rate={}", self.fault_rate)?;
        if let Some(latency) = self.latency {
            write!(f, " latency={latency:?} latency_rate={}", self.latency_rate)?;
        }
        Ok(())
    }
}

impl ChaosConfig {
    pub(crate) fn changed_keys(&self, other: &ChaosConfig) -> Vec<&'static str> {
        let mut changed = Vec::new();
        if self.fault_rate != other.fault_rate {
            changed.push("fault_rate");
        }
        if self.latency != other.latency {
            changed.push("latency");
        }
        if self.latency_rate != other.latency_rate {
            changed.push("latency_rate");
        }
        changed
    }
}

/// What an enabled chaos policy does to one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Injection {
    /// The delay added before the call runs, if any.
    pub delay: Option<Duration>,
    /// Whether the call fails with an injected error (after the delay) instead of running.
    pub fault: bool,
}

/// Counters of a [`Chaos`] policy since it was built or last reset.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct ChaosStats {
    /// Whether it injects now.
    pub enabled: bool,
    /// Calls seen while enabled (a disabled policy counts nothing).
    pub calls: u64,
    /// Calls failed with an injected error.
    pub injected_faults: u64,
    /// Calls delayed.
    pub injected_delays: u64,
}

impl Chaos {
    /// A builder for a chaos policy named `name`.
    pub fn builder(name: impl Into<Arc<str>>) -> ChaosBuilder {
        ChaosBuilder::new(name.into())
    }

    fn new(name: Arc<str>, config: ChaosConfig, seed: Option<u64>) -> Self {
        let rng = match seed {
            Some(seed) => SmallRng::seed_from_u64(seed),
            None => SmallRng::from_entropy(),
        };
        Chaos {
            name,
            enabled: AtomicBool::new(false),
            state: Mutex::new(State { config, rng }),
            calls: AtomicU64::new(0),
            faults: AtomicU64::new(0),
            delays: AtomicU64::new(0),
        }
    }

    /// The policy's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The policy's name, shared.
    pub fn name_arc(&self) -> &Arc<str> {
        &self.name
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // Nothing panics under the lock.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The settings in force.
    pub fn config(&self) -> ChaosConfig {
        self.state().config
    }

    /// Whether faults and delays are injected now. One relaxed load: what a disabled
    /// `#[chaos]` costs a call.
    #[inline]
    pub fn is_enabled(&self) -> bool {
        self.enabled.load(Relaxed)
    }

    /// Starts injecting.
    pub fn enable(&self) {
        self.set_enabled(true);
    }

    /// Stops injecting; calls already delayed finish their delay.
    pub fn disable(&self) {
        self.set_enabled(false);
    }

    /// Turns injection on or off.
    pub fn set_enabled(&self, enabled: bool) {
        self.enabled.store(enabled, Relaxed);
    }

    /// Restarts the random draws from `seed`: the same seed and the same sequence of calls
    /// inject the same faults and delays.
    pub fn seed(&self, seed: u64) {
        self.state().rng = SmallRng::seed_from_u64(seed);
    }

    /// Draws what to do to one call (counted, and reported as [`Event::ChaosInjected`]); a
    /// disabled policy does nothing. Each call draws twice, delay then fault, whatever the
    /// settings, so a seed gives the same sequence under any rates.
    pub fn draw(&self) -> Injection {
        if !self.is_enabled() {
            return Injection::default();
        }
        let injection = {
            let mut state = self.state();
            let State { config, rng } = &mut *state;
            let delayed = rng.gen::<f64>() < config.latency_rate;
            let fault = rng.gen::<f64>() < config.fault_rate;
            Injection {
                delay: config.latency.filter(|_| delayed),
                fault,
            }
        };
        self.calls.fetch_add(1, Relaxed);
        if injection.delay.is_some() {
            self.delays.fetch_add(1, Relaxed);
        }
        if injection.fault {
            self.faults.fetch_add(1, Relaxed);
        }
        if injection.delay.is_some() || injection.fault {
            emit(|| Event::ChaosInjected {
                name: Arc::clone(&self.name),
                delay: injection.delay,
                fault: injection.fault,
            });
        }
        injection
    }

    /// Draws for one call and sleeps its delay; whether the call is to fail. The code
    /// `#[chaos]` generates calls it only when [`is_enabled`](Self::is_enabled).
    #[doc(hidden)]
    pub async fn inject(&self) -> bool {
        let injection = self.draw();
        if let Some(delay) = injection.delay {
            tokio::time::sleep(delay).await;
        }
        injection.fault
    }

    /// The error an injected fault is, unless `#[chaos(error = path)]` builds the caller's:
    /// [`Error::Injected`].
    pub fn injected(&self) -> Error {
        Error::Injected {
            name: Arc::clone(&self.name),
        }
    }

    /// Runs `operation` through the policy: while enabled, delays it or fails it with
    /// [`Error::Injected`] (converted into `E`) as drawn; disabled, runs it as it is.
    pub async fn call<T, E, F>(&self, operation: F) -> Result<T, E>
    where
        F: Future<Output = Result<T, E>>,
        E: From<Error>,
    {
        if self.is_enabled() && self.inject().await {
            return Err(self.injected().into());
        }
        operation.await
    }

    /// What the policy has done.
    pub fn stats(&self) -> ChaosStats {
        ChaosStats {
            enabled: self.is_enabled(),
            calls: self.calls.load(Relaxed),
            injected_faults: self.faults.load(Relaxed),
            injected_delays: self.delays.load(Relaxed),
        }
    }

    /// Sets the counters back to zero (whether it is enabled stays).
    pub fn reset(&self) {
        for counter in [&self.calls, &self.faults, &self.delays] {
            counter.store(0, Relaxed);
        }
    }

    /// Takes `config` in place of the settings in force; the keys that changed.
    pub(crate) fn reconfigure(&self, config: ChaosConfig) -> Vec<&'static str> {
        let mut state = self.state();
        let changed = state.config.changed_keys(&config);
        state.config = config;
        changed
    }
}

impl fmt::Debug for Chaos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Chaos")
            .field("name", &self.name)
            .field("config", &self.config())
            .field("stats", &self.stats())
            .finish()
    }
}
