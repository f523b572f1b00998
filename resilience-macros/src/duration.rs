//! Human-readable durations, parsed and checked at compile time.

use std::time::Duration;

/// Parses `"250ms"`, `"5s"`, `"1m30s"`, `"1h"`: the table crate's parser, which the configuration
/// loader uses too.
pub(crate) fn parse(text: &str) -> Result<Duration, String> {
    resilience_settings::parse_duration(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_human_forms() {
        assert_eq!(parse("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse("1h"), Ok(Duration::from_secs(3600)));
    }

    #[test]
    fn rejects_bad_forms() {
        assert!(parse("").is_err());
        assert!(parse("100").is_err());
        assert!(parse("5 parsecs").is_err());
        assert!(parse("fast").is_err());
    }
}
