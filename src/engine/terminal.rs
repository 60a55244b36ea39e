//! The user's terminal: raw mode (restored on every exit path by a guard), its size, and
//! the detach key sequence.

use std::io::IsTerminal;

/// Puts the terminal in raw mode until dropped.
pub struct RawMode(bool);

impl RawMode {
    /// Raw mode when stdin is a terminal; a no-op otherwise.
    pub fn enable() -> RawMode {
        if std::io::stdin().is_terminal() {
            RawMode(crossterm::terminal::enable_raw_mode().is_ok())
        } else {
            RawMode(false)
        }
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        if self.0 {
            let _ = crossterm::terminal::disable_raw_mode();
        }
    }
}

/// (columns, rows) of the terminal on stdout, if it is one.
pub fn size() -> Option<(u16, u16)> {
    if !std::io::stdout().is_terminal() && !std::io::stdin().is_terminal() {
        return None;
    }
    crossterm::terminal::size().ok().filter(|(w, h)| *w > 0 && *h > 0)
}

/// Parses docker's detach key syntax (`ctrl-p,ctrl-q`, `ctrl-@`, `a`) into bytes.
pub fn parse_detach_keys(spec: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    for key in spec.split(',') {
        let lower = key.to_ascii_lowercase();
        let byte = if let Some(c) = lower.strip_prefix("ctrl-") {
            match c.as_bytes() {
                [b @ b'a'..=b'z'] => b - b'a' + 1,
                [b'@'] => 0,
                [b'['] => 27,
                [b'\\'] => 28,
                [b']'] => 29,
                [b'^'] => 30,
                [b'_'] => 31,
                _ => return Err(format!("invalid detach key {key:?}")),
            }
        } else if key.len() == 1 && key.is_ascii() {
            key.as_bytes()[0]
        } else {
            return Err(format!(
                "invalid detach key {key:?} (use ctrl-<letter> or single characters, comma-separated)"
            ));
        };
        out.push(byte);
    }
    Ok(out)
}

/// Watches the stdin byte stream for the detach sequence. Bytes that could start the
/// sequence are held back until it is clear whether they do.
pub struct DetachWatch {
    keys: Vec<u8>,
    matched: usize,
}

pub enum Scan {
    /// Forward these bytes.
    Forward(Vec<u8>),
    /// The sequence was typed: forward these bytes, then detach.
    Detach(Vec<u8>),
}

impl DetachWatch {
    pub fn new(keys: Vec<u8>) -> DetachWatch {
        DetachWatch { keys, matched: 0 }
    }

    pub fn scan(&mut self, input: &[u8]) -> Scan {
        let mut out = Vec::with_capacity(input.len());
        for &b in input {
            if self.keys.is_empty() {
                out.push(b);
                continue;
            }
            if b == self.keys[self.matched] {
                self.matched += 1;
                if self.matched == self.keys.len() {
                    self.matched = 0;
                    return Scan::Detach(out);
                }
            } else {
                out.extend_from_slice(&self.keys[..self.matched]);
                self.matched = 0;
                if b == self.keys[0] {
                    self.matched = 1;
                } else {
                    out.push(b);
                }
            }
        }
        Scan::Forward(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detach_key_syntax() {
        assert_eq!(parse_detach_keys("ctrl-p,ctrl-q").unwrap(), [16, 17]);
        assert_eq!(parse_detach_keys("ctrl-@,a,ctrl-[").unwrap(), [0, b'a', 27]);
        assert!(parse_detach_keys("ctrl-1").is_err());
        assert!(parse_detach_keys("ab").is_err());
    }

    #[test]
    fn the_sequence_is_held_back_and_detaches() {
        let mut w = DetachWatch::new(vec![16, 17]);
        assert!(matches!(w.scan(b"ab\x10"), Scan::Forward(v) if v == b"ab"));
        assert!(matches!(w.scan(b"\x11rest"), Scan::Detach(v) if v.is_empty()));
        let mut w = DetachWatch::new(vec![16, 17]);
        assert!(matches!(w.scan(b"\x10x"), Scan::Forward(v) if v == b"\x10x"));
        assert!(matches!(w.scan(b"\x10\x10\x11"), Scan::Detach(v) if v == b"\x10"));
    }
}
