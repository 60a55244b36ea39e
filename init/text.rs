//! Text without an allocator: a bounded line buffer, Go's spelling of errors and quoted
//! strings (the init repeats runc's messages word for word), and Go's `path.Clean`.

use core::fmt;

/// Longest message the init writes: under PIPE_BUF, so one write to the report FIFO is
/// atomic.
pub const LINE_MAX: usize = 3800;

/// Items of a list line shown before the rest is only counted.
const ITEMS_SHOWN: usize = 8;

/// One line of text, cut at [`LINE_MAX`] (marked with `...`) rather than failing. As
/// a `; `-separated list (see [`Line::item`]) it shows the first items and counts the
/// rest.
pub struct Line {
    buf: [u8; LINE_MAX],
    len: usize,
    cut: bool,
    items: usize,
    /// The current item is past [`ITEMS_SHOWN`]: its text is dropped.
    muted: bool,
}

impl Line {
    pub const fn new() -> Line {
        Line { buf: [0; LINE_MAX], len: 0, cut: false, items: 0, muted: false }
    }

    pub fn bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn clear(&mut self) {
        *self = Line::new();
    }

    pub fn push(&mut self, bytes: &[u8]) {
        if self.cut || self.muted {
            return;
        }
        let room = LINE_MAX - 3 - self.len;
        if bytes.len() > room {
            self.buf[self.len..self.len + room].copy_from_slice(&bytes[..room]);
            self.len += room;
            self.buf[self.len..self.len + 3].copy_from_slice(b"...");
            self.len += 3;
            self.cut = true;
        } else {
            self.buf[self.len..self.len + bytes.len()].copy_from_slice(bytes);
            self.len += bytes.len();
        }
    }

    /// Starts another item of a `; `-separated list.
    pub fn item(&mut self) {
        self.items += 1;
        self.muted = false;
        if self.items > ITEMS_SHOWN {
            self.muted = true;
        } else if !self.is_empty() {
            self.push(b"; ");
        }
    }

    /// Ends a list: says how many items were only counted.
    pub fn finish_list(&mut self) {
        self.muted = false;
        if self.items > ITEMS_SHOWN {
            let hidden = self.items - ITEMS_SHOWN;
            self.push(b"; and ");
            self.push_dec(hidden as u64);
            self.push(if hidden == 1 { b" more difference" } else { b" more differences" });
        }
    }

    /// Bytes that came from outside (paths, labels), with control characters escaped
    /// so the line stays one line.
    pub fn push_shown(&mut self, bytes: &[u8]) {
        for &b in bytes {
            if b < 0x20 || b == 0x7f {
                let hex = b"0123456789abcdef";
                self.push(&[b'\\', b'x', hex[(b >> 4) as usize], hex[(b & 15) as usize]]);
            } else {
                self.push(&[b]);
            }
        }
    }

    pub fn push_dec(&mut self, mut n: u64) {
        let mut digits = [0u8; 20];
        let mut i = digits.len();
        loop {
            i -= 1;
            digits[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        self.push(&digits[i..]);
    }

    pub fn push_hex(&mut self, n: u64) {
        let hex = b"0123456789abcdef";
        let mut digits = [0u8; 16];
        for (i, d) in digits.iter_mut().enumerate() {
            *d = hex[((n >> (60 - 4 * i)) & 15) as usize];
        }
        self.push(&digits);
    }
}

impl Default for Line {
    fn default() -> Self {
        Line::new()
    }
}

impl fmt::Write for Line {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.push(s.as_bytes());
        Ok(())
    }
}

/// Go's text for an errno (its `syscall.Errno.Error()`), for the errors an exec and a
/// path lookup meet.
pub fn errno_text(errno: i32) -> &'static str {
    match errno {
        1 => "operation not permitted",
        2 => "no such file or directory",
        5 => "input/output error",
        7 => "argument list too long",
        8 => "exec format error",
        9 => "bad file descriptor",
        11 => "resource temporarily unavailable",
        12 => "cannot allocate memory",
        13 => "permission denied",
        14 => "bad address",
        20 => "not a directory",
        21 => "is a directory",
        22 => "invalid argument",
        23 => "too many open files in system",
        24 => "too many open files",
        26 => "text file busy",
        30 => "read-only file system",
        36 => "file name too long",
        38 => "function not implemented",
        40 => "too many levels of symbolic links",
        75 => "value too large for defined data type",
        80 => "accessing a corrupted shared library",
        _ => "",
    }
}

pub fn push_errno(line: &mut Line, errno: i32) {
    match errno_text(errno) {
        "" => {
            line.push(b"errno ");
            line.push_dec(errno as u64);
        }
        text => line.push(text.as_bytes()),
    }
}

/// Go's `strconv.Quote` for the bytes of a name: printable ASCII as is, `"` and `\`
/// escaped, control bytes in Go's escapes, other bytes kept when they are valid UTF-8
/// and `\x..` otherwise.
pub fn push_go_quoted(line: &mut Line, s: &[u8]) {
    line.push(b"\"");
    let mut rest = s;
    while !rest.is_empty() {
        let valid = match core::str::from_utf8(rest) {
            Ok(v) => v.len(),
            Err(e) => e.valid_up_to(),
        };
        for &b in &rest[..valid] {
            match b {
                b'"' => line.push(b"\\\""),
                b'\\' => line.push(b"\\\\"),
                0x07 => line.push(b"\\a"),
                0x08 => line.push(b"\\b"),
                0x0c => line.push(b"\\f"),
                b'\n' => line.push(b"\\n"),
                b'\r' => line.push(b"\\r"),
                b'\t' => line.push(b"\\t"),
                0x0b => line.push(b"\\v"),
                b if b < 0x20 || b == 0x7f => hex_escape(line, b),
                b => line.push(&[b]),
            }
        }
        rest = &rest[valid..];
        if let Some((&b, tail)) = rest.split_first() {
            hex_escape(line, b);
            rest = tail;
        }
    }
    line.push(b"\"");
}

fn hex_escape(line: &mut Line, b: u8) {
    let hex = b"0123456789abcdef";
    line.push(&[b'\\', b'x', hex[(b >> 4) as usize], hex[(b & 15) as usize]]);
}

/// Go's `path.Clean` (which `filepath.Join` applies on Linux) of `path` into `out`;
/// returns the length, or `None` when `out` is too small.
pub fn clean(path: &[u8], out: &mut [u8]) -> Option<usize> {
    if path.is_empty() {
        *out.first_mut()? = b'.';
        return Some(1);
    }
    let rooted = path[0] == b'/';
    let mut len = 0;
    // Where `..` may no longer remove anything.
    let mut floor = 0;
    if rooted {
        *out.first_mut()? = b'/';
        len = 1;
        floor = 1;
    }
    for part in path.split(|&b| b == b'/') {
        match part {
            b"" | b"." => {}
            b".." => {
                if len > floor {
                    // Back to the previous separator.
                    while len > floor && out[len - 1] != b'/' {
                        len -= 1;
                    }
                    if len > floor {
                        len -= 1;
                    }
                } else if !rooted {
                    if len > 0 {
                        *out.get_mut(len)? = b'/';
                        len += 1;
                    }
                    out.get_mut(len..len + 2)?.copy_from_slice(b"..");
                    len += 2;
                    floor = len;
                }
            }
            name => {
                if len > 0 && out[len - 1] != b'/' {
                    *out.get_mut(len)? = b'/';
                    len += 1;
                }
                out.get_mut(len..len + name.len())?.copy_from_slice(name);
                len += name.len();
            }
        }
    }
    if len == 0 {
        *out.first_mut()? = b'.';
        len = 1;
    }
    Some(len)
}

/// The kernel's escaping of paths in mountinfo: space, tab, newline and backslash as
/// `\ooo`. Returns the length written to `out`, `None` when it does not fit.
pub fn escape(path: &[u8], out: &mut [u8]) -> Option<usize> {
    let mut n = 0;
    for &b in path {
        if matches!(b, b' ' | b'\t' | b'\n' | b'\\') {
            out.get_mut(n..n + 4)?.copy_from_slice(&[b'\\', b'0' + (b >> 6), b'0' + ((b >> 3) & 7), b'0' + (b & 7)]);
            n += 4;
        } else {
            *out.get_mut(n)? = b;
            n += 1;
        }
    }
    Some(n)
}

/// The reverse of [`escape`].
pub fn unescape(path: &[u8], out: &mut [u8]) -> Option<usize> {
    let mut n = 0;
    let mut i = 0;
    while i < path.len() {
        let b = match path[i..] {
            [b'\\', a @ b'0'..=b'3', b @ b'0'..=b'7', c @ b'0'..=b'7', ..] => {
                i += 4;
                ((a - b'0') << 6) | ((b - b'0') << 3) | (c - b'0')
            }
            _ => {
                i += 1;
                path[i - 1]
            }
        };
        *out.get_mut(n)? = b;
        n += 1;
    }
    Some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cleaned(p: &str) -> String {
        let mut out = [0u8; 256];
        let n = clean(p.as_bytes(), &mut out).unwrap();
        String::from_utf8(out[..n].to_vec()).unwrap()
    }

    #[test]
    fn clean_matches_go() {
        // Cases from Go's path.Clean documentation and tests.
        for (input, want) in [
            ("", "."),
            ("abc", "abc"),
            ("abc/def", "abc/def"),
            ("a/b/c", "a/b/c"),
            (".", "."),
            ("..", ".."),
            ("../..", "../.."),
            ("../../abc", "../../abc"),
            ("/abc", "/abc"),
            ("/", "/"),
            ("abc/", "abc"),
            ("abc/def/", "abc/def"),
            ("/abc/", "/abc"),
            ("abc//def//ghi", "abc/def/ghi"),
            ("//abc", "/abc"),
            ("///abc", "/abc"),
            ("abc/./def", "abc/def"),
            ("/./abc/def", "/abc/def"),
            ("abc/.", "abc"),
            ("abc/def/ghi/../jkl", "abc/def/jkl"),
            ("abc/def/../ghi/../jkl", "abc/jkl"),
            ("abc/def/..", "abc"),
            ("abc/def/../..", "."),
            ("/abc/def/../..", "/"),
            ("abc/def/../../..", ".."),
            ("/abc/def/../../..", "/"),
            ("abc/def/../../../ghi/jkl/../../../mno", "../../mno"),
            ("abc/./../def", "def"),
            ("abc//./../def", "def"),
            ("abc/../../././../def", "../../def"),
            ("./sh", "sh"),
            ("/bin/../proc/self/exe", "/proc/self/exe"),
        ] {
            assert_eq!(cleaned(input), want, "{input:?}");
        }
    }

    fn quoted(s: &[u8]) -> String {
        let mut l = Line::new();
        push_go_quoted(&mut l, s);
        String::from_utf8_lossy(l.bytes()).into_owned()
    }

    #[test]
    fn quotes_as_go_does() {
        assert_eq!(quoted(b"nope"), r#""nope""#);
        assert_eq!(quoted(b"a\"b\\c"), r#""a\"b\\c""#);
        assert_eq!(quoted(b"\x1b[2J\n"), r#""\x1b[2J\n""#);
        assert_eq!(quoted("caf\u{e9}".as_bytes()), "\"caf\u{e9}\"");
        assert_eq!(quoted(b"\xffx"), r#""\xffx""#);
    }

    #[test]
    fn escapes_as_mountinfo_does() {
        let mut out = [0u8; 64];
        let n = escape(b"/a b\\c\td", &mut out).unwrap();
        assert_eq!(&out[..n], br"/a\040b\134c\011d");
        let mut back = [0u8; 64];
        let m = unescape(&out[..n], &mut back).unwrap();
        assert_eq!(&back[..m], b"/a b\\c\td");
        assert_eq!(escape(b"abc", &mut [0u8; 2]), None);
    }

    #[test]
    fn long_lists_show_their_first_items() {
        let mut l = Line::new();
        for i in 0..11 {
            l.item();
            l.push(b"d");
            l.push_dec(i);
        }
        l.finish_list();
        assert_eq!(l.bytes(), b"d0; d1; d2; d3; d4; d5; d6; d7; and 3 more differences");
    }

    #[test]
    fn lines_are_bounded_and_one_line() {
        let mut l = Line::new();
        l.push_shown(b"a\nb");
        assert_eq!(l.bytes(), b"a\\x0ab");
        for _ in 0..2000 {
            l.push(b"xy");
        }
        assert_eq!(l.bytes().len(), LINE_MAX);
        assert!(l.bytes().ends_with(b"..."));
        let mut n = Line::new();
        n.push_dec(0);
        n.push(b" ");
        n.push_dec(18446744073709551615);
        n.push(b" ");
        n.push_hex(0x400);
        assert_eq!(n.bytes(), b"0 18446744073709551615 0000000000000400");
    }
}
