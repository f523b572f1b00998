//! Reading a TOML document into a [`Config`]: every key checked against the table the macros
//! use, every problem collected with its place.
//!
//! The text is parsed by the `toml` crate into a tree that keeps every key's and value's span;
//! this module only walks that tree. (serde's derive would stop at the first problem, and the
//! loader must report them all at once.)

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;
use std::time::Duration;

use resilience_settings::circuit_breaker::Window;
use resilience_settings::retry::{BackoffStrategy, JitterStrategy, DEFAULT_JITTER_FRACTION};
use resilience_settings::{closest, parse_duration, Attribute, KeySpec, ValueKind};
use toml::de::{DeTable, DeValue};
use toml::Spanned;

use super::layer::{Layer, Source, Value};
use super::problem::{position, ConfigProblem, ConfigProblems, ProblemKind};
use super::{Config, Section};

/// The kinds a file configures: every attribute with settings (a fallback has none a file
/// could give).
pub(crate) const KINDS: [Attribute; 7] = [
    Attribute::Retry,
    Attribute::CircuitBreaker,
    Attribute::RateLimit,
    Attribute::Timeout,
    Attribute::Bulkhead,
    Attribute::RetryBudget,
    Attribute::Chaos,
];

/// The kinds a composite `[policy.NAME]` names: the pipeline's.
const PIPELINE_KINDS: [Attribute; 5] = [
    Attribute::Retry,
    Attribute::CircuitBreaker,
    Attribute::RateLimit,
    Attribute::Timeout,
    Attribute::Bulkhead,
];

/// The longest policy name a file may configure.
pub(crate) const MAX_NAME_LEN: usize = 256;

/// Reads `text` (from `file`, if given, for the messages).
pub(crate) fn read(text: &str, file: Option<&Path>) -> Result<Config, ConfigProblems> {
    let mut reader = Reader {
        text,
        file,
        problems: Vec::new(),
    };
    let (document, errors) = DeTable::parse_recoverable(text);
    for error in errors {
        let span = error.span().unwrap_or(0..0);
        reader.problem(
            span,
            "",
            None,
            ProblemKind::Syntax,
            format!("not valid TOML: {}", error.message().trim()),
            None,
        );
    }
    let mut config = Config {
        file: file.map(Path::to_path_buf),
        ..Config::default()
    };
    if reader.problems.is_empty() {
        reader.document(document.get_ref(), &mut config);
        reader.check_bases(&config);
    }
    if reader.problems.is_empty() {
        Ok(config)
    } else {
        reader.problems.sort_by_key(|p| (p.line, p.column));
        Err(ConfigProblems(reader.problems))
    }
}

struct Reader<'a> {
    text: &'a str,
    file: Option<&'a Path>,
    problems: Vec<ConfigProblem>,
}

/// A section's label as TOML writes it: `retry."billing::charge"`.
pub(crate) fn label(parts: &[&str]) -> String {
    parts
        .iter()
        .map(|part| {
            let bare = !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            if bare {
                (*part).to_owned()
            } else {
                format!("{part:?}")
            }
        })
        .collect::<Vec<_>>()
        .join(".")
}

fn kind_named(name: &str) -> Option<Attribute> {
    KINDS.into_iter().find(|kind| kind.name() == name)
}

fn kind_names() -> Vec<&'static str> {
    KINDS.iter().map(|kind| kind.name()).collect()
}

impl Reader<'_> {
    fn problem(
        &mut self,
        span: Range<usize>,
        section: &str,
        key: Option<&str>,
        kind: ProblemKind,
        message: String,
        suggestion: Option<&str>,
    ) {
        let (line, column) = position(self.text, span.start);
        self.problems.push(ConfigProblem {
            file: self.file.map(Path::to_path_buf),
            line,
            column,
            section: section.to_owned(),
            key: key.map(str::to_owned),
            kind,
            message,
            suggestion: suggestion.map(str::to_owned),
        });
    }

    fn document(&mut self, document: &DeTable<'_>, config: &mut Config) {
        for (key, value) in document {
            let name = key.get_ref().as_ref();
            match name {
                "defaults" => {
                    for (kind, table) in self.tables(value, &["defaults"]) {
                        if let Some(attribute) = self.kind(kind, &["defaults"]) {
                            let at = label(&["defaults", attribute.name()]);
                            let section = self.section(attribute, table, &at, false);
                            config.defaults.insert(attribute.name(), section);
                        }
                    }
                }
                "base" => {
                    for (base, table) in self.tables(value, &["base"]) {
                        let base_name = base.get_ref().to_string();
                        self.name(base, &["base"]);
                        let mut kinds = BTreeMap::new();
                        for (kind, table) in self.tables(table, &["base", &base_name]) {
                            if let Some(attribute) = self.kind(kind, &["base", &base_name]) {
                                let at = label(&["base", &base_name, attribute.name()]);
                                kinds.insert(
                                    attribute.name(),
                                    self.section(attribute, table, &at, true),
                                );
                            }
                        }
                        config.bases.insert(base_name, kinds);
                    }
                }
                "policy" => {
                    for (policy, table) in self.tables(value, &["policy"]) {
                        let policy_name = policy.get_ref().to_string();
                        self.name(policy, &["policy"]);
                        let members = self.pipeline(table, &policy_name);
                        config.pipelines.insert(policy_name, members);
                    }
                }
                _ => match kind_named(name) {
                    Some(attribute) => {
                        for (policy, table) in self.tables(value, &[name]) {
                            let policy_name = policy.get_ref().to_string();
                            self.name(policy, &[name]);
                            let at = label(&[name, &policy_name]);
                            let section = self.section(attribute, table, &at, true);
                            config
                                .policies
                                .insert((attribute.name(), policy_name), section);
                        }
                    }
                    None => {
                        let mut known = kind_names();
                        known.extend(["defaults", "base", "policy"]);
                        let message = if name == "fallback" {
                            "a fallback has no settings a file can give (its function is code)"
                                .to_owned()
                        } else {
                            format!(
                                "unknown section; a file has {}",
                                known
                                    .iter()
                                    .map(|k| format!("[{k}.<name>]"))
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            )
                        };
                        let guess = closest(name, &known);
                        self.problem(
                            key.span(),
                            &label(&[name]),
                            None,
                            ProblemKind::UnknownSection,
                            message,
                            guess,
                        );
                    }
                },
            }
        }
    }

    /// The entries of a value that must be a table of tables (`[retry.<name>]`).
    fn tables<'v, 'i>(
        &mut self,
        value: &'v Spanned<DeValue<'i>>,
        at: &[&str],
    ) -> Vec<(
        &'v Spanned<std::borrow::Cow<'i, str>>,
        &'v Spanned<DeValue<'i>>,
    )> {
        match value.get_ref() {
            DeValue::Table(table) => {
                let mut entries = Vec::new();
                for (key, value) in table {
                    if value.get_ref().is_table() {
                        entries.push((key, value));
                    } else {
                        let name = key.get_ref().to_string();
                        self.problem(
                            key.span(),
                            &label(at),
                            Some(&name),
                            ProblemKind::WrongType,
                            format!(
                                "expected a table of settings, like [{}.{}]",
                                label(at),
                                label(&[&name])
                            ),
                            None,
                        );
                    }
                }
                entries
            }
            other => {
                self.problem(
                    value.span(),
                    &label(at),
                    None,
                    ProblemKind::WrongType,
                    format!("expected a table, found {}", other.type_str()),
                    None,
                );
                Vec::new()
            }
        }
    }

    fn kind(&mut self, key: &Spanned<std::borrow::Cow<'_, str>>, at: &[&str]) -> Option<Attribute> {
        let name = key.get_ref().as_ref();
        let found = kind_named(name);
        if found.is_none() {
            let known = kind_names();
            self.problem(
                key.span(),
                &label(at),
                Some(name),
                ProblemKind::UnknownSection,
                format!("not a kind of policy; the kinds are {}", known.join(", ")),
                closest(name, &known),
            );
        }
        found
    }

    /// Checks a policy's (or base's) name.
    fn name(&mut self, key: &Spanned<std::borrow::Cow<'_, str>>, at: &[&str]) {
        let name = key.get_ref().as_ref();
        let why = if name.trim().is_empty() {
            Some("a name must not be blank".to_owned())
        } else if name.trim() != name {
            Some("a name must not start or end with whitespace".to_owned())
        } else if name.chars().any(char::is_control) {
            Some("a name must not hold control characters".to_owned())
        } else if name.len() > MAX_NAME_LEN {
            Some(format!("a name must be at most {MAX_NAME_LEN} bytes long"))
        } else {
            None
        };
        if let Some(why) = why {
            self.problem(
                key.span(),
                &label(at),
                Some(&format!("{name:?}")),
                ProblemKind::BadName,
                why,
                None,
            );
        }
    }

    /// `[policy.<name>]`: a table per kind, or a duration for `timeout`.
    fn pipeline(&mut self, value: &Spanned<DeValue<'_>>, name: &str) -> super::PipelineSection {
        let mut members = BTreeMap::new();
        let mut base = None;
        let (line, column) = position(self.text, value.span().start);
        let at = label(&["policy", name]);
        if let DeValue::Table(table) = value.get_ref() {
            for (key, member) in table {
                let kind_name = key.get_ref().as_ref();
                if kind_name == "base" {
                    base = self.base_name(member, &at).map(|(name, span)| {
                        let (line, column) = position(self.text, span.start);
                        super::BaseRef { name, line, column }
                    });
                    continue;
                }
                let Some(attribute) =
                    kind_named(kind_name).filter(|attribute| PIPELINE_KINDS.contains(attribute))
                else {
                    let mut known: Vec<&str> =
                        PIPELINE_KINDS.iter().map(|kind| kind.name()).collect();
                    known.push("base");
                    self.problem(
                        key.span(),
                        &at,
                        Some(kind_name),
                        ProblemKind::UnknownKey,
                        format!(
                            "not a kind of policy; a composite names {}",
                            known.join(", ")
                        ),
                        closest(kind_name, &known),
                    );
                    continue;
                };
                let member_at = label(&["policy", name, kind_name]);
                let section = match member.get_ref() {
                    DeValue::Table(_) => self.section(attribute, member, &member_at, true),
                    DeValue::String(_) if attribute == Attribute::Timeout => {
                        // `timeout = "5s"`.
                        let (line, column) = position(self.text, member.span().start);
                        let mut layer = Layer::default();
                        if let Some(value) = self.value(
                            &resilience_settings::timeout::DURATION,
                            member,
                            &at,
                            "timeout",
                        ) {
                            layer.set("duration", value, Source::File);
                        }
                        Section {
                            layer,
                            base: None,
                            label: member_at,
                            line,
                            column,
                        }
                    }
                    other => {
                        let expected = if attribute == Attribute::Timeout {
                            "a duration like \"5s\" or a table of settings"
                        } else {
                            "a table of settings, like { max_attempts = 3 }"
                        };
                        self.problem(
                            member.span(),
                            &at,
                            Some(kind_name),
                            ProblemKind::WrongType,
                            format!("expected {expected}, found {}", other.type_str()),
                            None,
                        );
                        continue;
                    }
                };
                members.insert(attribute.name(), section);
            }
        }
        super::PipelineSection {
            members,
            base,
            label: at,
            line,
            column,
        }
    }

    fn base_name(
        &mut self,
        value: &Spanned<DeValue<'_>>,
        at: &str,
    ) -> Option<(String, Range<usize>)> {
        match value.get_ref() {
            DeValue::String(base) => Some((base.to_string(), value.span())),
            other => {
                self.problem(
                    value.span(),
                    at,
                    Some("base"),
                    ProblemKind::WrongType,
                    format!(
                        "expected the name of a [base.<name>] section, found {}",
                        other.type_str()
                    ),
                    None,
                );
                None
            }
        }
    }

    /// One kind's settings: `[circuit_breaker.inventory]`.
    fn section(
        &mut self,
        attribute: Attribute,
        value: &Spanned<DeValue<'_>>,
        at: &str,
        allow_base: bool,
    ) -> Section {
        let (line, column) = position(self.text, value.span().start);
        let mut layer = Layer::default();
        let mut base = None;
        let mut spelled: Vec<(&'static KeySpec, Range<usize>)> = Vec::new();
        if let DeValue::Table(table) = value.get_ref() {
            for (key, value) in table {
                let name = key.get_ref().as_ref();
                if name == "base" && allow_base {
                    base = self.base_name(value, at);
                    continue;
                }
                let Some(spec) = attribute
                    .key(name)
                    .filter(|spec| spec.value != ValueKind::Name)
                else {
                    self.unknown_key(attribute, key, at, allow_base);
                    continue;
                };
                if spec.value == ValueKind::Path {
                    self.problem(
                        key.span(),
                        at,
                        Some(name),
                        ProblemKind::CodeOnly,
                        format!(
                            "`{name}` names a function ({}); set it in the attribute, a file cannot",
                            spec.doc
                        ),
                        None,
                    );
                    continue;
                }
                if let Some((other, _)) = spelled
                    .iter()
                    .find(|(other, _)| other.setting == spec.setting)
                {
                    let other = other.key;
                    self.problem(
                        key.span(),
                        at,
                        Some(name),
                        ProblemKind::Conflict,
                        format!(
                            "`{name}` and `{other}` both set `{}`; keep one",
                            spec.setting
                        ),
                        None,
                    );
                    continue;
                }
                spelled.push((spec, key.span()));
                if let Some(value) = self.value(spec, value, at, name) {
                    layer.set(spec.setting, value, Source::File);
                }
            }
        } else {
            self.problem(
                value.span(),
                at,
                None,
                ProblemKind::WrongType,
                "expected a table of settings".to_owned(),
                None,
            );
        }
        for exclusion in attribute.exclusions() {
            let first = spelled
                .iter()
                .find(|(spec, _)| spec.setting == exclusion.first.setting);
            let second = spelled
                .iter()
                .find(|(spec, _)| spec.setting == exclusion.second.setting);
            if let (Some((first, _)), Some((second, span))) = (first, second) {
                let (first, second, span) = (first.key, second.key, span.clone());
                self.problem(
                    span,
                    at,
                    Some(second),
                    ProblemKind::Conflict,
                    format!(
                        "`{second}` cannot be combined with `{first}`{}; keep one of them",
                        exclusion.why
                    ),
                    None,
                );
            }
        }
        Section {
            layer,
            base: base.map(|(name, span)| {
                let (line, column) = position(self.text, span.start);
                super::BaseRef { name, line, column }
            }),
            label: at.to_owned(),
            line,
            column,
        }
    }

    fn unknown_key(
        &mut self,
        attribute: Attribute,
        key: &Spanned<std::borrow::Cow<'_, str>>,
        at: &str,
        allow_base: bool,
    ) {
        let name = key.get_ref().as_ref();
        let mut known: Vec<&str> = attribute
            .keys()
            .iter()
            .filter(|spec| !matches!(spec.value, ValueKind::Name | ValueKind::Path))
            .map(|spec| spec.key)
            .collect();
        if allow_base {
            known.push("base");
        }
        let guess = attribute
            .renamed()
            .iter()
            .find(|(theirs, _)| *theirs == name)
            .map(|(_, ours)| *ours)
            .or_else(|| closest(name, &known));
        let message = if name == "name" {
            "the name is the section's: [<kind>.<name>]".to_owned()
        } else if guess.is_some() {
            "unknown key".to_owned()
        } else {
            format!(
                "unknown key; `[{}.<name>]` takes {}",
                attribute.name(),
                known
                    .iter()
                    .map(|k| format!("`{k}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        self.problem(
            key.span(),
            at,
            Some(name),
            ProblemKind::UnknownKey,
            message,
            guess,
        );
    }

    /// A value for `spec`, checked; `None` after reporting a problem.
    fn value(
        &mut self,
        spec: &'static KeySpec,
        value: &Spanned<DeValue<'_>>,
        at: &str,
        key: &str,
    ) -> Option<Value> {
        match read_value(spec, value.get_ref()) {
            Ok(value) => Some(value),
            Err((kind, message)) => {
                self.problem(value.span(), at, Some(key), kind, message, None);
                None
            }
        }
    }

    /// Every `base` names a base that exists, and no chain comes back to itself.
    fn check_bases(&mut self, config: &Config) {
        let mut sections: Vec<(&'static str, &Section)> = Vec::new();
        for (kind, section) in &config.defaults {
            sections.push((kind, section));
        }
        for ((kind, _), section) in &config.policies {
            sections.push((kind, section));
        }
        for kinds in config.bases.values() {
            for (kind, section) in kinds {
                sections.push((kind, section));
            }
        }
        for pipeline in config.pipelines.values() {
            for (kind, section) in &pipeline.members {
                sections.push((kind, section));
            }
        }
        let mut found = Vec::new();
        for (kind, section) in sections {
            if let Err(problem) = config.base_chain(kind, section) {
                found.push(problem);
            }
        }
        for pipeline in config.pipelines.values() {
            if let Some(base) = &pipeline.base {
                if !config.bases.contains_key(&base.name) {
                    found.push(super::BaseProblem {
                        line: base.line,
                        column: base.column,
                        section: pipeline.label.clone(),
                        base: base.name.clone(),
                        kind: ProblemKind::UnknownBase,
                    });
                }
            }
        }
        for (name, pipeline) in &config.pipelines {
            for kind in pipeline.members.keys() {
                if let Some(section) = config.policies.get(&(*kind, name.clone())) {
                    self.problems.push(ConfigProblem {
                        file: self.file.map(Path::to_path_buf),
                        line: section.line,
                        column: section.column,
                        section: section.label.clone(),
                        key: None,
                        kind: ProblemKind::Duplicate,
                        message: format!(
                            "[policy.{}] gives this {kind} settings too; keep one",
                            label(&[name])
                        ),
                        suggestion: None,
                    });
                }
            }
        }
        for found in found {
            let known: Vec<&str> = config.bases.keys().map(String::as_str).collect();
            let guess = closest(&found.base, &known)
                .filter(|_| found.kind == ProblemKind::UnknownBase)
                .map(str::to_owned);
            let message = match found.kind {
                ProblemKind::BaseCycle => format!(
                    "the chain of bases from {:?} comes back to itself",
                    found.base
                ),
                _ => format!("no [base.<name>] section is named {:?}", found.base),
            };
            self.problems.push(ConfigProblem {
                file: self.file.map(Path::to_path_buf),
                line: found.line,
                column: found.column,
                section: found.section,
                key: Some("base".to_owned()),
                kind: found.kind,
                message,
                suggestion: guess,
            });
        }
    }
}

/// Reads one value as `spec` takes it.
fn read_value(spec: &'static KeySpec, value: &DeValue<'_>) -> Result<Value, (ProblemKind, String)> {
    let wrong = |what: &str| {
        (
            ProblemKind::WrongType,
            format!(
                "expected {what}, like `{} = {}`; found {}",
                spec.key,
                spec.example,
                value.type_str()
            ),
        )
    };
    let range =
        |problem: resilience_settings::Problem| (ProblemKind::OutOfRange, problem.to_string());
    match spec.value {
        ValueKind::Count { .. } => {
            let count = integer(value).ok_or_else(|| wrong("a whole number"))?;
            spec.check_count(count).map(Value::Count).map_err(range)
        }
        ValueKind::Number(_) => {
            let number = number(value).ok_or_else(|| wrong("a number"))?;
            spec.check_number(number).map(Value::Number).map_err(range)
        }
        ValueKind::Duration { .. } => {
            let duration = duration(value).ok_or_else(|| wrong("a duration string"))??;
            spec.check_duration(duration)
                .map(Value::Duration)
                .map_err(range)
        }
        ValueKind::Milliseconds { .. } | ValueKind::Seconds { .. } => {
            let whole = integer(value).ok_or_else(|| wrong("a whole number"))?;
            let whole = u64::try_from(whole).map_err(|_| {
                (
                    ProblemKind::OutOfRange,
                    format!("`{}` must be a whole number from 0, not {whole}", spec.key),
                )
            })?;
            let duration = if matches!(spec.value, ValueKind::Seconds { .. }) {
                Duration::from_secs(whole)
            } else {
                Duration::from_millis(whole)
            };
            spec.check_duration(duration)
                .map(Value::Duration)
                .map_err(range)
        }
        ValueKind::Choice(names) => {
            let DeValue::String(text) = value else {
                return Err(wrong("a string"));
            };
            BackoffStrategy::from_name(text)
                .filter(|_| spec.key == "backoff")
                .map(Value::Backoff)
                .ok_or_else(|| unknown_choice(spec, text, names))
        }
        ValueKind::Jitter(names) => match value {
            DeValue::Boolean(true) => Ok(Value::Jitter(JitterStrategy::Proportional(
                DEFAULT_JITTER_FRACTION,
            ))),
            DeValue::String(text) => JitterStrategy::from_name(text)
                .map(Value::Jitter)
                .ok_or_else(|| unknown_choice(spec, text, names)),
            _ => {
                let fraction = number(value).ok_or_else(|| {
                    wrong("`true`, a fraction, or \"full\", \"equal\" or \"decorrelated\"")
                })?;
                spec.check_number(fraction)
                    .map(|f| Value::Jitter(JitterStrategy::Proportional(f)))
                    .map_err(range)
            }
        },
        ValueKind::Durations => {
            let DeValue::Array(items) = value else {
                return Err(wrong("a list of duration strings"));
            };
            let mut delays = Vec::new();
            for item in items.iter() {
                let delay = duration(item.get_ref())
                    .ok_or_else(|| wrong("a list of duration strings"))??;
                delays.push(delay);
            }
            if delays.is_empty() {
                return Err((
                    ProblemKind::OutOfRange,
                    format!("`{}` must hold at least one delay", spec.key),
                ));
            }
            Ok(Value::Durations(delays))
        }
        ValueKind::Choices(names) => {
            let DeValue::Array(items) = value else {
                return Err(wrong("a list of strings"));
            };
            let mut chosen: Vec<&'static str> = Vec::new();
            for item in items.iter() {
                let DeValue::String(text) = item.get_ref() else {
                    return Err(wrong("a list of strings"));
                };
                let Some(name) = names.iter().find(|name| **name == text.as_ref()) else {
                    return Err(unknown_choice(spec, text, names));
                };
                if chosen.contains(name) {
                    return Err((
                        ProblemKind::Conflict,
                        format!("`{}` names \"{name}\" twice", spec.key),
                    ));
                }
                chosen.push(name);
            }
            Ok(Value::Choices(chosen))
        }
        ValueKind::CountOrDuration => match value {
            DeValue::Integer(_) => {
                let calls = integer(value).ok_or_else(|| wrong("a whole number"))?;
                spec.check_count(calls)
                    .map(|calls| Value::Window(Window::Calls(calls)))
                    .map_err(range)
            }
            DeValue::String(_) => {
                let length = duration(value).ok_or_else(|| wrong("a duration string"))??;
                spec.check_duration(length)
                    .map(|length| Value::Window(Window::Time(length)))
                    .map_err(range)
            }
            _ => Err(wrong("a number of calls or a duration string")),
        },
        ValueKind::Flag => match value {
            DeValue::Boolean(flag) => Ok(Value::Flag(*flag)),
            _ => Err(wrong("`true` or `false`")),
        },
        ValueKind::Reference => match value {
            DeValue::String(text) if !text.trim().is_empty() => Ok(Value::Text(text.to_string())),
            DeValue::String(text) => Err((
                ProblemKind::OutOfRange,
                format!(
                    "`{}` must be {}, not {:?}",
                    spec.key,
                    spec.allowed,
                    text.as_ref()
                ),
            )),
            _ => Err(wrong("a name")),
        },
        // Filtered out by the caller; kept total.
        ValueKind::Name | ValueKind::Path => Err(wrong("nothing a file can give")),
        _ => Err(wrong("nothing a file can give")),
    }
}

fn unknown_choice(spec: &KeySpec, text: &str, names: &[&str]) -> (ProblemKind, String) {
    let guess = closest(text, names)
        .map(|guess| format!("did you mean \"{guess}\"? "))
        .unwrap_or_default();
    (
        ProblemKind::OutOfRange,
        format!(
            "unknown value \"{text}\"; {guess}`{}` takes {}",
            spec.key,
            names
                .iter()
                .map(|name| format!("\"{name}\""))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    )
}

fn integer(value: &DeValue<'_>) -> Option<i128> {
    match value {
        DeValue::Integer(integer) => i128::from_str_radix(integer.as_str(), integer.radix()).ok(),
        _ => None,
    }
}

fn number(value: &DeValue<'_>) -> Option<f64> {
    match value {
        DeValue::Float(float) => float.as_str().replace('_', "").parse().ok(),
        #[allow(clippy::cast_precision_loss)]
        DeValue::Integer(_) => integer(value).map(|whole| whole as f64),
        _ => None,
    }
}

/// A duration string, parsed: `None` when the value is not a string.
fn duration(value: &DeValue<'_>) -> Option<Result<Duration, (ProblemKind, String)>> {
    match value {
        DeValue::String(text) => {
            Some(parse_duration(text).map_err(|why| (ProblemKind::OutOfRange, why)))
        }
        _ => None,
    }
}
