//! Text hardrun did not write (image metadata, daemon answers, files in the working
//! directory) made safe to print: control characters escaped so it cannot move the
//! cursor, retitle or clear the terminal, or fake a line of hardrun's own; one line;
//! bounded in length.

use std::fmt::Write as _;

/// The longest line of foreign text hardrun prints by default (a daemon's error message,
/// a label key): enough to read, too short to flood a terminal or a log.
pub const LINE_MAX: usize = 300;

/// Whether `c` must not reach a terminal as is: C0 and C1 controls, DEL, and the Unicode
/// format characters that reorder or hide text (bidi overrides and isolates, zero-width).
pub fn dangerous(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}')
}

/// `text` with every dangerous character written as an escape (`\n`, `\t`, `\x1b`,
/// `\u{202e}`), on one line.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if !dangerous(c) {
            out.push(c);
            continue;
        }
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x100 => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
        }
    }
    out
}

/// `escape(text)`, cut to at most `max` characters (an ellipsis and the length left out
/// say it was cut). Only the part kept is escaped, so a huge text costs little.
pub fn line(text: &str, max: usize) -> String {
    let mut kept = String::new();
    let mut shown = 0;
    for (i, c) in text.char_indices() {
        let escaped = escape(c.encode_utf8(&mut [0u8; 4]));
        let width = escaped.chars().count();
        if shown + width > max {
            let rest = text.len() - i;
            let _ = write!(kept, "… ({rest} more bytes)");
            return kept;
        }
        shown += width;
        kept.push_str(&escaped);
    }
    kept
}

/// The short form of an ID the daemon gave (docker shows 12 characters), cut at a
/// character boundary: a hostile daemon's ID need not be ASCII hex.
pub fn short_id(id: &str) -> &str {
    id.char_indices().nth(12).map_or(id, |(i, _)| &id[..i])
}

#[cfg(test)]
mod tests {
    #[test]
    fn short_ids_cut_at_characters() {
        assert_eq!(super::short_id("0123456789abcdef"), "0123456789ab");
        assert_eq!(super::short_id("abc"), "abc");
        assert_eq!(super::short_id("ééééééééééééé"), "éééééééééééé");
        assert_eq!(super::short_id("01234567890é2"), "01234567890é");
    }

    use super::*;

    #[test]
    fn terminal_controls_are_escaped() {
        assert_eq!(escape("a\x1b]0;pwned\x07b"), "a\\x1b]0;pwned\\x07b");
        assert_eq!(escape("line\nhardrun: fake"), "line\\nhardrun: fake");
        assert_eq!(escape("\x1b[2J\r\t\x7f\u{9b}"), "\\x1b[2J\\r\\t\\x7f\\x9b");
        assert_eq!(escape("file\u{202e}gpj.exe"), "file\\u{202e}gpj.exe");
        assert_eq!(escape("plain text, ünïcode ✓"), "plain text, ünïcode ✓");
    }

    #[test]
    fn lines_are_bounded() {
        assert_eq!(line("short", 10), "short");
        assert_eq!(line("abcdefghij", 4), "abcd… (6 more bytes)");
        // An escape is never cut in half.
        assert_eq!(line("ab\x1bcd", 4), "ab… (3 more bytes)");
        let huge = "x".repeat(10_000_000);
        assert!(line(&huge, LINE_MAX).len() < LINE_MAX + 40);
    }
}
