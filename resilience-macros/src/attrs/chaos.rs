//! `#[chaos(...)]` arguments.

use std::time::Duration;

use resilience_settings::chaos::{
    ChaosSettings, ENABLED, ERROR, FAULT_RATE, LATENCY, LATENCY_RATE,
};

use super::ArgSet;

/// Validated `#[chaos]` settings.
pub(crate) struct ChaosArgs {
    pub(crate) name: Option<super::PolicyName>,
    pub(crate) fault_rate: Option<f64>,
    pub(crate) latency: Option<Duration>,
    pub(crate) latency_rate: Option<f64>,
    /// `error = path`: a `fn() -> E` building the injected error.
    pub(crate) error: Option<syn::Expr>,
}

pub(crate) fn parse(set: &mut ArgSet<'_>) -> Option<ChaosArgs> {
    let name = set.name();
    if let Some(arg) = set.get(ENABLED.key) {
        set.errors.at(
            arg.key.span(),
            "`#[chaos]` is off until enabled at run time, so a binary can carry it safely: enable it with `resilience::registry().chaos(name).unwrap().enable()` or the configuration file's `[chaos.NAME] enabled = true`, not in the attribute",
        );
    }
    let settings = ChaosSettings {
        fault_rate: set.number(&FAULT_RATE),
        latency: set.duration(&LATENCY),
        latency_rate: set.number(&LATENCY_RATE),
        enabled: None,
    };
    let error = set.path(ERROR.key, ERROR.example);
    set.report(settings.problems(), &settings.given());
    Some(ChaosArgs {
        name,
        fault_rate: settings.fault_rate,
        latency: settings.latency,
        latency_rate: settings.latency_rate,
        error,
    })
}
