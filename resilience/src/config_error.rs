//! The error a policy builder or a configuration returns for settings it cannot honour.

use std::path::PathBuf;

use crate::config::ConfigProblems;

/// Settings a policy cannot be built with, or a configuration that cannot be read or applied.
///
/// The attribute macros check every value at compile time, so annotated code never sees this;
/// it is what the builders of the macro-free API return, and what [`Config`](crate::Config) and
/// [`Registry::apply`](crate::Registry::apply) report.
///
/// ```
/// use resilience::{ConfigError, Retry};
///
/// let err = Retry::builder("fetch").max_attempts(0).build().unwrap_err();
/// assert!(matches!(err, ConfigError::OutOfRange { key: "max_attempts", .. }));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A value lies outside the range the setting allows.
    #[error("`{key}` = {value} is out of range: {allowed}")]
    OutOfRange {
        /// The setting's key, as the attribute spells it.
        key: &'static str,
        /// The rejected value, as text.
        value: String,
        /// What the setting allows.
        allowed: &'static str,
    },
    /// Two settings that exclude each other were both given.
    #[error("`{first}` and `{second}` cannot be used together")]
    Exclusive {
        /// The setting given first.
        first: &'static str,
        /// The setting that conflicts with it.
        second: &'static str,
    },
    /// A configuration file that cannot be read.
    #[error("cannot read {}: {kind}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why, as the operating system said.
        kind: std::io::ErrorKind,
    },
    /// A configuration larger than [`MAX_FILE_BYTES`](crate::config::MAX_FILE_BYTES).
    #[error("{} is larger than {limit} bytes: not a configuration file", path.display())]
    TooLarge {
        /// The file (empty for text).
        path: PathBuf,
        /// The limit.
        limit: u64,
    },
    /// A configuration file that is not UTF-8 text.
    #[error("{} is not UTF-8 text", path.display())]
    NotUtf8 {
        /// The file.
        path: PathBuf,
    },
    /// A configuration with problems: every one of them, each with its place.
    #[error("invalid configuration: {0}")]
    Invalid(ConfigProblems),
}

impl ConfigError {
    /// Checks a policy's name as the attributes do: a name that is not blank.
    pub(crate) fn check_name(name: &str) -> Result<(), Self> {
        resilience_settings::check_name(name).map_err(Self::from_problem)
    }

    /// The error for a setting the shared checks of `resilience-settings` refused: the same
    /// checks the attribute macros run at compile time, so a setting an attribute accepts always
    /// builds.
    pub(crate) fn from_problem(problem: resilience_settings::Problem) -> Self {
        match *problem.rule() {
            resilience_settings::Rule::Excludes { other, .. } => ConfigError::Exclusive {
                first: other,
                second: problem.key(),
            },
            _ => ConfigError::OutOfRange {
                key: problem.key(),
                allowed: problem.allowed(),
                value: problem.into_value(),
            },
        }
    }
}
