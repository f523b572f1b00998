//! One source's settings for one policy, by setting, and how sources stack.

use std::fmt;
use std::time::Duration;

use resilience_settings::circuit_breaker::Window;
use resilience_settings::retry::{BackoffStrategy, JitterStrategy};
use resilience_settings::Attribute;

/// Where an effective setting came from, lowest precedence first.
///
/// ```
/// use resilience::Source;
///
/// assert_eq!(Source::File.as_str(), "file");
/// assert!(Source::Default < Source::Attribute && Source::Attribute < Source::File);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize),
    serde(rename_all = "snake_case")
)]
#[non_exhaustive]
pub enum Source {
    /// The built-in default: nothing gave the setting.
    Default,
    /// The attribute's arguments (`#[retry(max_attempts = 3)]`).
    Attribute,
    /// A builder in code (`registry().retry_or_register(Retry::builder(..))`).
    Code,
    /// The configuration file (or text) last applied: its `[defaults.<kind>]`, a base, or the
    /// policy's own section.
    File,
}

impl Source {
    /// `"default"`, `"attribute"`, `"code"` or `"file"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Source::Default => "default",
            Source::Attribute => "attribute",
            Source::Code => "code",
            Source::File => "file",
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A setting's value, whatever its kind.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Count(u32),
    Number(f64),
    Duration(Duration),
    Backoff(BackoffStrategy),
    Jitter(JitterStrategy),
    Window(Window),
    Durations(Vec<Duration>),
    Choices(Vec<&'static str>),
    /// On or off: `critical`.
    Flag(bool),
    /// The name of another policy: a retry's `budget`.
    Text(String),
    /// A setting only code can give (a custom backoff function): present, with no value a file
    /// could write.
    Code,
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Count(count) => write!(f, "{count}"),
            Value::Number(number) => write!(f, "{number}"),
            Value::Duration(duration) => write!(f, "{duration:?}"),
            Value::Backoff(backoff) => f.write_str(backoff.name()),
            Value::Jitter(JitterStrategy::Proportional(fraction)) => write!(f, "{fraction}"),
            Value::Jitter(JitterStrategy::Full) => f.write_str("full"),
            Value::Jitter(JitterStrategy::Equal) => f.write_str("equal"),
            Value::Jitter(JitterStrategy::Decorrelated) => f.write_str("decorrelated"),
            Value::Window(window) => write!(f, "{window}"),
            Value::Durations(delays) => write!(f, "{delays:?}"),
            Value::Choices(choices) => write!(f, "{choices:?}"),
            Value::Flag(flag) => write!(f, "{flag}"),
            Value::Text(text) => f.write_str(text),
            Value::Code => f.write_str("fn"),
        }
    }
}

/// Settings by name (the setting, not its spelling: `delay_ms = 100` is `delay`), in the order
/// they were given, each with its source.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Layer {
    entries: Vec<(&'static str, Value, Source)>,
}

impl Layer {
    pub(crate) fn set(&mut self, setting: &'static str, value: Value, source: Source) {
        self.remove(setting);
        self.entries.push((setting, value, source));
    }

    pub(crate) fn get(&self, setting: &str) -> Option<&Value> {
        self.entries
            .iter()
            .find(|(name, ..)| *name == setting)
            .map(|(_, value, _)| value)
    }

    pub(crate) fn remove(&mut self, setting: &str) {
        self.entries.retain(|(name, ..)| *name != setting);
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (&'static str, &Value, Source)> + '_ {
        self.entries
            .iter()
            .map(|(name, value, source)| (*name, value, *source))
    }

    /// Every setting of this layer marked as coming from `source`.
    pub(crate) fn with_source(mut self, source: Source) -> Self {
        for entry in &mut self.entries {
            entry.2 = source;
        }
        self
    }

    /// `upper` stacked on this layer: each of its settings replaces this one's, and clears the
    /// settings here that it excludes (a file's `failure_rate` over an attribute's
    /// `failure_threshold` changes the trip rule, and takes the threshold away).
    pub(crate) fn stack(&mut self, attribute: Attribute, upper: &Layer) {
        for (setting, value, source) in upper.iter() {
            for excluded in excluded_by(attribute, setting) {
                self.remove(excluded);
            }
            // A backoff other than exponential has no factor, and none has no delay either.
            if let Value::Backoff(backoff) = value {
                if *backoff != BackoffStrategy::Exponential {
                    self.remove("factor");
                }
                if *backoff == BackoffStrategy::None {
                    self.remove("delay");
                }
            }
            self.set(setting, value.clone(), source);
        }
    }
}

/// The settings that `setting` takes the place of when a higher source gives it.
fn excluded_by(attribute: Attribute, setting: &str) -> Vec<&'static str> {
    let mut excluded: Vec<&'static str> = attribute
        .exclusions()
        .iter()
        .filter_map(|exclusion| {
            if exclusion.first.setting == setting {
                Some(exclusion.second.setting)
            } else if exclusion.second.setting == setting {
                Some(exclusion.first.setting)
            } else {
                None
            }
        })
        .collect();
    // The failure-rate rule owns `window` and `min_calls`: choosing it replaces the threshold
    // (an exclusion above), and choosing the threshold drops the rate rule's settings with it.
    if attribute == Attribute::CircuitBreaker && setting == "failure_threshold" {
        excluded.push("failure_rate");
    }
    excluded
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_higher_trip_rule_replaces_the_lower_one_whole() {
        let mut lower = Layer::default();
        lower.set("failure_threshold", Value::Count(3), Source::Attribute);
        lower.set(
            "reset_timeout",
            Value::Duration(Duration::from_secs(5)),
            Source::Attribute,
        );
        let mut upper = Layer::default();
        upper.set("failure_rate", Value::Number(0.5), Source::File);
        lower.stack(Attribute::CircuitBreaker, &upper);
        assert_eq!(lower.get("failure_threshold"), None);
        assert_eq!(lower.get("failure_rate"), Some(&Value::Number(0.5)));
        assert!(lower.get("reset_timeout").is_some());

        let mut back = Layer::default();
        back.set("failure_threshold", Value::Count(2), Source::File);
        let mut rate = Layer::default();
        rate.set("failure_rate", Value::Number(0.5), Source::Attribute);
        rate.set(
            "window",
            Value::Window(Window::Calls(20)),
            Source::Attribute,
        );
        rate.stack(Attribute::CircuitBreaker, &back);
        let left: Vec<_> = rate.iter().map(|(name, ..)| name).collect();
        assert_eq!(left, ["failure_threshold"]);
    }

    #[test]
    fn a_flag_shows_as_a_file_writes_it() {
        assert_eq!(Value::Flag(true).to_string(), "true");
        assert_eq!(Value::Flag(false).to_string(), "false");
    }

    #[test]
    fn a_schedule_replaces_a_backoff() {
        let mut lower = Layer::default();
        lower.set(
            "backoff",
            Value::Backoff(BackoffStrategy::Fixed),
            Source::Attribute,
        );
        lower.set(
            "delay",
            Value::Duration(Duration::from_millis(10)),
            Source::Attribute,
        );
        let mut upper = Layer::default();
        upper.set(
            "delays",
            Value::Durations(vec![Duration::from_millis(5)]),
            Source::File,
        );
        lower.stack(Attribute::Retry, &upper);
        let left: Vec<_> = lower.iter().map(|(name, ..)| name).collect();
        assert_eq!(left, ["delays"]);
    }
}
