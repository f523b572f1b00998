//! "Did you mean" suggestions for misspelled keys.

/// The known key closest to `unknown`, if it is close enough to be a likely typo.
pub(crate) fn closest<'a>(unknown: &str, known: &[&'a str]) -> Option<&'a str> {
    known
        .iter()
        .map(|candidate| (strsim::damerau_levenshtein(unknown, candidate), *candidate))
        .filter(|(distance, candidate)| *distance <= (candidate.len() / 3).max(1))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

/// The message for an unknown key: what it might have been, and every valid key.
pub(crate) fn unknown_key(attr: &str, key: &str, known: &[&str]) -> String {
    let list = known
        .iter()
        .map(|k| format!("`{k}`"))
        .collect::<Vec<_>>()
        .join(", ");
    match closest(key, known) {
        Some(guess) => format!(
            "unknown `#[{attr}]` argument `{key}`; did you mean `{guess}`? Valid arguments: {list}"
        ),
        None => format!("unknown `#[{attr}]` argument `{key}`; valid arguments: {list}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_near_misses_only() {
        let keys = ["max_attempts", "backoff", "delay", "jitter"];
        assert_eq!(closest("max_atempts", &keys), Some("max_attempts"));
        assert_eq!(closest("jiter", &keys), Some("jitter"));
        assert_eq!(closest("colour", &keys), None);
    }
}
