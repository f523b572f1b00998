//! Configuration by name: a TOML file (or text) that sets any policy's settings, applied to the
//! registry as a whole and reloadable while the program runs.
//!
//! The keys, their ranges and their alternative spellings are the attributes' own, read from the
//! one table the macros check with ([`resilience_settings`]), so a setting means the same in a
//! file as in `#[retry(..)]`. See [`Config`] for the file's shape and the precedence of sources,
//! and [`Registry::apply`](crate::Registry::apply) to put one in force.

mod build;
pub(crate) mod layer;
mod problem;
mod read;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use resilience_settings::Attribute;

use crate::ConfigError;
pub(crate) use build::Layered;
use layer::Layer;
pub use layer::Source;
pub use problem::{ConfigProblem, ConfigProblems, ProblemKind};
pub(crate) use read::label;

/// The largest configuration file [`Config::from_file`] reads: 1 MiB. A file of policy settings
/// is a few kilobytes; anything near this is a mistake (a log, a binary), refused before it is
/// read whole.
pub const MAX_FILE_BYTES: u64 = 1 << 20;

/// Policy settings by name, read from TOML, to put in force with
/// [`registry().apply(&config)`](crate::Registry::apply).
///
/// # The file
///
/// ```toml
/// [defaults.circuit_breaker]        # every breaker's settings, under its attribute's
/// reset_timeout = "20s"
///
/// [base.slow-backend.timeout]       # a named base a section can start from
/// duration = "10s"
///
/// [circuit_breaker.inventory]       # the breaker named "inventory"
/// failure_threshold = 3
/// critical = true                   # open or half-open: health unhealthy, not degraded
///
/// [retry."billing::charge"]         # a default name (module path) is quoted
/// max_attempts = 5
/// jitter = "full"
///
/// [timeout.reports]
/// base = "slow-backend"
///
/// [policy.payment-service]          # a composite: run by `registry().execute("payment-service", ..)`
/// retry = { max_attempts = 3, delay = "100ms" }
/// circuit_breaker = { failure_rate = 0.5, window = "60s" }
/// timeout = "5s"
/// bulkhead = { max = 10 }
/// ```
///
/// A section takes exactly its attribute's keys, with the same ranges and spellings
/// (`delay = "100ms"` or `delay_ms = 100`); durations are strings with a unit. Keys that name a
/// function (`retry_if`, `failure_if`) are code's alone.
///
/// # Precedence
///
/// For each setting of a policy, lowest first: the built-in default → the file's
/// `[defaults.<kind>]` → its base (`base = "name"` reads `[base.name.<kind>]`, which may name a
/// base of its own; a cycle is an error) → the attribute's arguments or the builder's settings
/// → the file's section for that kind and name. A setting that excludes others (a
/// `failure_rate` over a `failure_threshold`, `delays` over a `backoff`) replaces them whole.
/// [`PolicySnapshot::sources`](crate::PolicySnapshot::sources) says where each came from.
///
/// # Errors
///
/// Reading reports **every** problem at once, each with its line, column, key path and a
/// did-you-mean:
///
/// ```
/// use resilience::{Config, ConfigError};
///
/// let text = "[circuit_breaker.inventory]\nfailure_treshold = 3\n\n[retry.api]\nmax_attempts = 0\n";
/// let Err(ConfigError::Invalid(problems)) = Config::from_toml_str(text) else { panic!() };
/// let lines: Vec<String> = problems.iter().map(ToString::to_string).collect();
/// assert_eq!(lines, [
///     "2:1: [circuit_breaker.inventory] failure_treshold: unknown key; did you mean failure_threshold?",
///     "5:16: [retry.api] max_attempts: `max_attempts` must be a whole number from 1 to 4294967295, \
///      like `max_attempts = 3`",
/// ]);
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Config {
    pub(crate) file: Option<PathBuf>,
    /// `[defaults.<kind>]`, by kind.
    pub(crate) defaults: BTreeMap<&'static str, Section>,
    /// `[base.<name>.<kind>]`, by base and kind.
    pub(crate) bases: BTreeMap<String, BTreeMap<&'static str, Section>>,
    /// `[<kind>.<name>]`, by kind and name.
    pub(crate) policies: BTreeMap<(&'static str, String), Section>,
    /// `[policy.<name>]`.
    pub(crate) pipelines: BTreeMap<String, PipelineSection>,
}

/// One kind's settings in the file, and where.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Section {
    pub(crate) layer: Layer,
    pub(crate) base: Option<BaseRef>,
    pub(crate) label: String,
    pub(crate) line: usize,
    pub(crate) column: usize,
}

/// `base = "name"`, and where it is written.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct BaseRef {
    pub(crate) name: String,
    pub(crate) line: usize,
    pub(crate) column: usize,
}

/// `[policy.<name>]`: its members, by kind.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PipelineSection {
    pub(crate) members: BTreeMap<&'static str, Section>,
    pub(crate) base: Option<BaseRef>,
    pub(crate) label: String,
    pub(crate) line: usize,
    pub(crate) column: usize,
}

/// A `base` that leads nowhere or in a circle.
pub(crate) struct BaseProblem {
    pub(crate) line: usize,
    pub(crate) column: usize,
    pub(crate) section: String,
    pub(crate) base: String,
    pub(crate) kind: ProblemKind,
}

impl Config {
    /// A configuration that sets nothing: applying it takes back what an earlier one set.
    pub fn empty() -> Self {
        Config::default()
    }

    /// Reads a TOML file.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Io`] when the file cannot be read, [`ConfigError::TooLarge`] past
    /// [`MAX_FILE_BYTES`], [`ConfigError::NotUtf8`], and [`ConfigError::Invalid`] with every
    /// problem of its text.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, ConfigError> {
        let path = path.as_ref();
        let io = |error: std::io::Error| ConfigError::Io {
            path: path.to_path_buf(),
            kind: error.kind(),
        };
        let file = std::fs::File::open(path).map_err(io)?;
        let mut bytes = Vec::new();
        // Read one byte past the limit: a file that grows while read is caught too.
        file.take(MAX_FILE_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(io)?;
        if bytes.len() as u64 > MAX_FILE_BYTES {
            return Err(ConfigError::TooLarge {
                path: path.to_path_buf(),
                limit: MAX_FILE_BYTES,
            });
        }
        let text = String::from_utf8(bytes).map_err(|_| ConfigError::NotUtf8 {
            path: path.to_path_buf(),
        })?;
        read::read(&text, Some(path)).map_err(ConfigError::Invalid)
    }

    /// Reads TOML text.
    ///
    /// ```
    /// use resilience::Config;
    ///
    /// let config = Config::from_toml_str("[bulkhead.render]\nmax = 20\nqueue = 50\n").unwrap();
    /// assert_eq!(config.names(), [("bulkhead", "render".to_owned())]);
    /// ```
    ///
    /// # Errors
    ///
    /// [`ConfigError::Invalid`] with every problem of the text; [`ConfigError::TooLarge`] past
    /// [`MAX_FILE_BYTES`].
    pub fn from_toml_str(text: &str) -> Result<Self, ConfigError> {
        if text.len() as u64 > MAX_FILE_BYTES {
            return Err(ConfigError::TooLarge {
                path: PathBuf::new(),
                limit: MAX_FILE_BYTES,
            });
        }
        read::read(text, None).map_err(ConfigError::Invalid)
    }

    /// The file it was read from, if any.
    pub fn file(&self) -> Option<&Path> {
        self.file.as_deref()
    }

    /// The policies it gives settings by kind and name (`("retry", "api")`), composites'
    /// members included, in order.
    pub fn names(&self) -> Vec<(&'static str, String)> {
        let mut names: Vec<_> = self.policies.keys().cloned().collect();
        for (name, pipeline) in &self.pipelines {
            names.extend(pipeline.members.keys().map(|kind| (*kind, name.clone())));
        }
        names.sort();
        names
    }

    /// The composites it defines (`[policy.<name>]`), in order.
    pub fn composites(&self) -> Vec<&str> {
        self.pipelines.keys().map(String::as_str).collect()
    }

    /// The section for `kind` and `name`: `[kind.name]`, or a composite's member.
    pub(crate) fn section(&self, kind: Attribute, name: &str) -> Option<&Section> {
        self.policies
            .get(&(kind.name(), name.to_owned()))
            .or_else(|| {
                self.pipelines
                    .get(name)
                    .and_then(|pipeline| pipeline.members.get(kind.name()))
            })
    }

    /// The file's settings for a policy, below and above the code's: the defaults with the
    /// base chain stacked on, and the policy's own section.
    pub(crate) fn layers(&self, kind: Attribute, name: &str) -> (Layer, Layer) {
        let mut below = self
            .defaults
            .get(kind.name())
            .map(|section| section.layer.clone())
            .unwrap_or_default();
        let own = self.section(kind, name);
        let base = own.and_then(|section| section.base.clone()).or_else(|| {
            self.pipelines
                .get(name)
                .filter(|pipeline| pipeline.members.contains_key(kind.name()))
                .and_then(|pipeline| pipeline.base.clone())
        });
        // Checked when read: every base exists and no chain is a cycle.
        let mut chain = Vec::new();
        let mut next = base.map(|base| base.name);
        while let Some(name) = next.take() {
            if chain.len() > self.bases.len() {
                break;
            }
            if let Some(section) = self
                .bases
                .get(&name)
                .and_then(|kinds| kinds.get(kind.name()))
            {
                chain.push(&section.layer);
                next = section.base.as_ref().map(|base| base.name.clone());
            }
        }
        for layer in chain.into_iter().rev() {
            below.stack(kind, layer);
        }
        let above = own.map(|section| section.layer.clone()).unwrap_or_default();
        (below, above)
    }

    /// The chain of bases from `section`: an error for a base that does not exist or a chain
    /// that comes back to itself.
    pub(crate) fn base_chain(&self, kind: &str, section: &Section) -> Result<(), BaseProblem> {
        let mut seen: Vec<&str> = Vec::new();
        let mut at = section;
        while let Some(base) = &at.base {
            let problem = |kind| BaseProblem {
                line: base.line,
                column: base.column,
                section: at.label.clone(),
                base: base.name.clone(),
                kind,
            };
            if seen.contains(&base.name.as_str()) {
                return Err(problem(ProblemKind::BaseCycle));
            }
            seen.push(&base.name);
            let Some(kinds) = self.bases.get(&base.name) else {
                return Err(problem(ProblemKind::UnknownBase));
            };
            match kinds.get(kind) {
                Some(next) => at = next,
                None => break,
            }
        }
        Ok(())
    }
}
