//! "Did you mean" suggestions for misspelled keys and values.

pub(crate) use resilience_settings::closest;

/// The message for an unknown key, with what it might have been, and every valid key.
///
/// `renamed` maps names that other libraries use (`retries`, `max_concurrent`) to ours; a spelling
/// mistake is caught by edit distance.
pub(crate) fn unknown_key<'a>(
    attr: &str,
    key: &str,
    known: &[&'a str],
    renamed: &[(&str, &'a str)],
) -> (String, Option<&'a str>) {
    let list = known
        .iter()
        .map(|k| format!("`{k}`"))
        .collect::<Vec<_>>()
        .join(", ");
    let guess = renamed
        .iter()
        .find(|(other, _)| *other == key)
        .map(|(_, ours)| *ours)
        .or_else(|| closest(key, known));
    let message = match guess {
        Some(guess) => format!(
            "unknown `#[{attr}]` argument `{key}`; did you mean `{guess}`? Valid arguments: {list}"
        ),
        None => format!("unknown `#[{attr}]` argument `{key}`; valid arguments: {list}"),
    };
    (message, guess)
}

/// The message for an unknown string value of `key`, listing the accepted ones.
pub(crate) fn unknown_value(key: &str, value: &str, known: &[&str], also: &str) -> String {
    let list = match known {
        [] => String::new(),
        [only] => format!("\"{only}\""),
        [init @ .., last] => format!(
            "{} or \"{last}\"",
            init.iter()
                .map(|k| format!("\"{k}\""))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let guess = closest(value, known)
        .map(|guess| format!("did you mean \"{guess}\"? "))
        .unwrap_or_default();
    format!("unknown `{key}` \"{value}\"; {guess}`{key}` takes {list}{also}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renamed_keys_point_to_ours() {
        let (message, guess) = unknown_key(
            "retry",
            "retries",
            &["max_attempts"],
            &[("retries", "max_attempts")],
        );
        assert!(
            message.contains("did you mean `max_attempts`?"),
            "{message}"
        );
        assert_eq!(guess, Some("max_attempts"));
    }

    #[test]
    fn unknown_values_list_the_accepted_ones() {
        let message = unknown_value(
            "backoff",
            "exponentail",
            &["exponential", "fixed", "none"],
            "",
        );
        assert_eq!(
            message,
            "unknown `backoff` \"exponentail\"; did you mean \"exponential\"? `backoff` takes \"exponential\", \"fixed\" or \"none\""
        );
    }
}
