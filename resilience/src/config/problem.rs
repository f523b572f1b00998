//! What is wrong with a configuration: every problem, each where it is.

use std::fmt;
use std::path::{Path, PathBuf};

/// One problem of a configuration file, where it is and what to write instead.
///
/// Its `Display` is one line a person can act on:
/// `resilience.toml:4:1: [circuit_breaker.inventory] failure_treshold: unknown key; did you mean failure_threshold?`
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ConfigProblem {
    pub(crate) file: Option<PathBuf>,
    pub(crate) line: usize,
    pub(crate) column: usize,
    /// `circuit_breaker.inventory`, `retry."billing::charge"`; empty for the whole file.
    pub(crate) section: String,
    pub(crate) key: Option<String>,
    pub(crate) kind: ProblemKind,
    pub(crate) message: String,
    pub(crate) suggestion: Option<String>,
}

/// What kind of mistake a [`ConfigProblem`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize),
    serde(rename_all = "snake_case")
)]
#[non_exhaustive]
pub enum ProblemKind {
    /// The text is not TOML.
    Syntax,
    /// A section that is not a kind of policy, `defaults`, `base` or `policy`.
    UnknownSection,
    /// A key the attribute does not have.
    UnknownKey,
    /// A value of the wrong type: a number where a duration string belongs.
    WrongType,
    /// A value outside the key's range, or a duration that does not parse.
    OutOfRange,
    /// Two keys that exclude each other, or settings that contradict each other once stacked.
    Conflict,
    /// A key only code can set (a function), given in a file.
    CodeOnly,
    /// A policy name that is blank, too long, or has control characters.
    BadName,
    /// A `base` that no `[base.<name>]` defines.
    UnknownBase,
    /// A chain of `base`s that comes back to itself.
    BaseCycle,
    /// The same policy given settings twice (`[retry.x]` and `[policy.x]`'s `retry`).
    Duplicate,
}

impl ConfigProblem {
    /// The file the problem is in, when the configuration came from one.
    pub fn file(&self) -> Option<&Path> {
        self.file.as_deref()
    }

    /// The line, from 1 (0 when the problem has no place in the text).
    pub fn line(&self) -> usize {
        self.line
    }

    /// The column, from 1, counted in characters.
    pub fn column(&self) -> usize {
        self.column
    }

    /// The key path: `circuit_breaker.inventory.failure_treshold`; names that are not bare
    /// TOML keys are quoted: `retry."billing::charge".max_attempts`.
    pub fn path(&self) -> String {
        match &self.key {
            Some(key) if self.section.is_empty() => key.clone(),
            Some(key) => format!("{}.{key}", self.section),
            None => self.section.clone(),
        }
    }

    /// The section: `circuit_breaker.inventory`.
    pub fn section(&self) -> &str {
        &self.section
    }

    /// The key, when the problem is one key's.
    pub fn key(&self) -> Option<&str> {
        self.key.as_deref()
    }

    /// What kind of mistake it is.
    pub fn kind(&self) -> ProblemKind {
        self.kind
    }

    /// What is wrong, in words.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The key or value that was probably meant, if one is close.
    pub fn suggestion(&self) -> Option<&str> {
        self.suggestion.as_deref()
    }
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.file {
            Some(file) => write!(f, "{}:{}:{}: ", file.display(), self.line, self.column)?,
            None if self.line > 0 => write!(f, "{}:{}: ", self.line, self.column)?,
            None => {}
        }
        if !self.section.is_empty() {
            write!(f, "[{}] ", self.section)?;
        }
        if let Some(key) = &self.key {
            write!(f, "{key}: ")?;
        }
        f.write_str(&self.message)?;
        if let Some(suggestion) = &self.suggestion {
            write!(f, "; did you mean {suggestion}?")?;
        }
        Ok(())
    }
}

/// Every problem of a configuration, in the order of the text.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ConfigProblems(pub(crate) Vec<ConfigProblem>);

impl ConfigProblems {
    /// The problems.
    pub fn iter(&self) -> std::slice::Iter<'_, ConfigProblem> {
        self.0.iter()
    }

    /// How many.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<'a> IntoIterator for &'a ConfigProblems {
    type Item = &'a ConfigProblem;
    type IntoIter = std::slice::Iter<'a, ConfigProblem>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

/// One problem a line.
impl fmt::Display for ConfigProblems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.0.len();
        write!(f, "{count} problem{}", if count == 1 { "" } else { "s" })?;
        for problem in &self.0 {
            write!(f, "\n  {problem}")?;
        }
        Ok(())
    }
}

/// Line and column (from 1, in characters) of a byte offset.
pub(crate) fn position(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |at| at + 1);
    let column = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_lines_and_characters() {
        let text = "a = 1\n[é]\nkey = 2";
        assert_eq!(position(text, 0), (1, 1));
        assert_eq!(position(text, text.find("key").unwrap()), (3, 1));
        assert_eq!(position(text, text.find(']').unwrap()), (2, 3));
        assert_eq!(position(text, 10_000), (3, 8));
    }

    #[test]
    fn a_problem_reads_as_one_line() {
        let problem = ConfigProblem {
            file: Some("resilience.toml".into()),
            line: 4,
            column: 1,
            section: "circuit_breaker.inventory".into(),
            key: Some("failure_treshold".into()),
            kind: ProblemKind::UnknownKey,
            message: "unknown key".into(),
            suggestion: Some("failure_threshold".into()),
        };
        assert_eq!(
            problem.to_string(),
            "resilience.toml:4:1: [circuit_breaker.inventory] failure_treshold: unknown key; did you mean failure_threshold?"
        );
        assert_eq!(problem.path(), "circuit_breaker.inventory.failure_treshold");
    }
}
