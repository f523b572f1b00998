//! A crash's reason as text of bounded length, whatever its `Display` writes.

use std::fmt::{self, Write};

/// The most bytes of a reason kept: one that does not fit in 253 is cut there, at a character
/// boundary, and ends in `…`.
pub(super) const MAX_REASON_BYTES: usize = 256;

/// `reason`'s `Display` text, cut to [`MAX_REASON_BYTES`]: formatting stops there, so a reason
/// that writes megabytes costs no more than one that fits.
pub(super) fn reason_text(reason: &dyn fmt::Display) -> Box<str> {
    let mut text = Bounded {
        text: String::new(),
        cut: false,
    };
    // An error is the writer saying it is full, or the reason's own `Display` failing: either
    // way, what was written is the text.
    let _ = write!(text, "{reason}");
    if text.cut {
        text.text.push('…');
    }
    text.text.into_boxed_str()
}

struct Bounded {
    text: String,
    cut: bool,
}

impl Write for Bounded {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        // Room is left for the ellipsis, should the text be cut.
        let room = (MAX_REASON_BYTES - '…'.len_utf8()).saturating_sub(self.text.len());
        if s.len() <= room {
            self.text.push_str(s);
            return Ok(());
        }
        let end = (0..=room)
            .rev()
            .find(|&i| s.is_char_boundary(i))
            .unwrap_or(0);
        self.text.push_str(&s[..end]);
        self.cut = true;
        Err(fmt::Error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_reason_is_kept_whole_and_a_long_one_cut_on_a_char_boundary() {
        assert_eq!(&*reason_text(&"exit code 3"), "exit code 3");
        let long = "é".repeat(1_000);
        let text = reason_text(&long);
        assert!(text.len() <= MAX_REASON_BYTES, "{}", text.len());
        assert!(text.ends_with("é…"), "{text}");
    }
}
