//! Text as a person writes a setting: durations in human form, and the closest known word to a
//! misspelled one. The macros and the configuration loader read settings through these, so a
//! value or a typo means the same in an attribute and in a file.

use std::time::Duration;

/// Parses `"250ms"`, `"5s"`, `"1m30s"`, `"1h"`: a sequence of numbers with units. A bare number
/// is refused, since its unit would be a guess.
///
/// ```
/// use resilience_settings::parse_duration;
/// use std::time::Duration;
///
/// assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
/// assert_eq!(parse_duration("100").unwrap_err(), "\"100\" has no unit");
/// ```
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err("the duration is empty".to_owned());
    }
    if trimmed.chars().all(|c| c.is_ascii_digit()) {
        return Err(format!("\"{trimmed}\" has no unit"));
    }
    if trimmed.starts_with('-') {
        return Err(format!("\"{trimmed}\" is negative; a duration is not"));
    }
    humantime::parse_duration(trimmed)
        .map_err(|err| format!("\"{trimmed}\" is not a duration ({err})"))
}

/// The known word closest to `unknown`, if it is close enough to be a likely typo: within an
/// edit distance of a third of its length (at least 1).
///
/// ```
/// use resilience_settings::closest;
///
/// assert_eq!(closest("failure_treshold", &["failure_threshold", "failure_rate"]), Some("failure_threshold"));
/// assert_eq!(closest("colour", &["max_attempts"]), None);
/// ```
pub fn closest<'a>(unknown: &str, known: &[&'a str]) -> Option<&'a str> {
    known
        .iter()
        .map(|candidate| (strsim::damerau_levenshtein(unknown, candidate), *candidate))
        .filter(|(distance, candidate)| *distance <= (candidate.len() / 3).max(1))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_human_forms() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
    }

    #[test]
    fn rejects_bad_forms() {
        for bad in ["", "100", "5 parsecs", "fast", "-5s"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn suggests_near_misses_only() {
        let keys = ["max_attempts", "backoff", "delay", "jitter"];
        assert_eq!(closest("max_atempts", &keys), Some("max_attempts"));
        assert_eq!(closest("jiter", &keys), Some("jitter"));
        assert_eq!(closest("colour", &keys), None);
    }
}
