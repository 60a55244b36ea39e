//! YAML that hardrun writes (hardened Compose files, Kubernetes manifests), spelled so
//! every reader takes it the same way: docker-compose 1.x reads YAML 1.1 (PyYAML, where
//! `on`, `no` and `22:22` are not strings), `docker compose` and kubectl read YAML 1.2.
//! Every string is double-quoted with escapes, keys are plain only when they cannot be
//! anything but a string, and no control or line-separator character reaches the file
//! unescaped.

use std::fmt::Write as _;

use serde_yaml::Value;

/// One YAML document for `value`, ending in a newline.
pub fn to_string(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Mapping(m) if !m.is_empty() => mapping(&mut out, m, 0),
        Value::Sequence(s) if !s.is_empty() => sequence(&mut out, s, 0),
        other => {
            out.push_str(&scalar(other));
            out.push('\n');
        }
    }
    out
}

/// `text` as `# ` comment lines (each line escaped, so a value cannot end the comment).
pub fn comments(text: &str) -> String {
    text.lines().map(|l| format!("# {}\n", escape_plain(l))).collect()
}

fn indent(out: &mut String, n: usize) {
    out.extend(std::iter::repeat_n(' ', n));
}

fn mapping(out: &mut String, m: &serde_yaml::Mapping, level: usize) {
    for (i, (k, v)) in m.iter().enumerate() {
        // The first key of a mapping inside a sequence item follows the "- ".
        if !(i == 0 && out.ends_with("- ")) {
            indent(out, level);
        }
        out.push_str(&key(k));
        out.push(':');
        value_after_key(out, v, level);
    }
}

fn value_after_key(out: &mut String, v: &Value, level: usize) {
    match untagged(v) {
        Value::Mapping(m) if !m.is_empty() => {
            out.push('\n');
            mapping(out, m, level + 2);
        }
        Value::Sequence(s) if !s.is_empty() => {
            out.push('\n');
            sequence(out, s, level + 2);
        }
        other => {
            out.push(' ');
            out.push_str(&scalar(other));
            out.push('\n');
        }
    }
}

fn sequence(out: &mut String, s: &[Value], level: usize) {
    for v in s {
        indent(out, level);
        out.push_str("- ");
        match untagged(v) {
            Value::Mapping(m) if !m.is_empty() => mapping(out, m, level + 2),
            Value::Sequence(inner) if !inner.is_empty() => {
                out.push('\n');
                sequence(out, inner, level + 2);
            }
            other => {
                out.push_str(&scalar(other));
                out.push('\n');
            }
        }
    }
}

/// hardrun writes no tags: a tagged value is written as its value.
fn untagged(v: &Value) -> &Value {
    match v {
        Value::Tagged(t) => untagged(&t.value),
        other => other,
    }
}

fn scalar(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => quoted(s),
        Value::Mapping(_) => "{}".into(),
        Value::Sequence(_) => "[]".into(),
        Value::Tagged(t) => scalar(&t.value),
    }
}

/// Words some YAML reader takes for something other than a string.
const SPECIAL: [&str; 11] = ["y", "n", "yes", "no", "on", "off", "true", "false", "null", "nan", "inf"];

fn key(k: &Value) -> String {
    match k {
        Value::String(s) if plain_key(s) => s.clone(),
        Value::String(s) => quoted(s),
        other => quoted(&scalar(other)),
    }
}

/// Letters, digits and `_ . - /`, starting with a letter or `_`, and not a special word.
fn plain_key(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || "_.-/".contains(c))
        && !SPECIAL.contains(&s.to_ascii_lowercase().as_str())
}

/// A double-quoted YAML string: `"` and `\` escaped, every control and line-separator
/// character written as an escape.
pub fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}') => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Comment text: controls and line separators escaped.
fn escape_plain(s: &str) -> String {
    let q = quoted(s);
    q[1..q.len() - 1].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(text: &str) -> Value {
        serde_yaml::from_str(text).unwrap()
    }

    #[test]
    fn round_trips_through_a_yaml_reader() {
        let v = value(
            "a: 1\nb: [x, {c: d, e: [1, 2]}]\n'on': yes\nempty: {}\nnone: []\nn: null\nf: 0.5\n\
             nested:\n  - - 1\n    - 2\n  - {}\n",
        );
        let text = to_string(&v);
        assert_eq!(value(&text), v, "{text}");
    }

    #[test]
    fn strings_are_always_quoted_and_escaped() {
        let v = value("k: \"22:22\"\nw: 'no'\nx: \"a\\u2028b\\u0007\\\"\"\n");
        let text = to_string(&v);
        assert!(text.contains("k: \"22:22\""), "{text}");
        assert!(text.contains("w: \"no\""), "{text}");
        assert!(text.contains("\\u2028") && text.contains("\\u0007") && !text.contains('\u{2028}'), "{text}");
        assert_eq!(value(&text), v);
    }

    #[test]
    fn keys_that_could_mean_something_else_are_quoted() {
        let v = value("'yes': 1\n'8080': 2\n'<<': 3\nplain.key-1/x: 4\n");
        let text = to_string(&v);
        assert!(text.contains("\"yes\": 1") && text.contains("\"8080\": 2") && text.contains("\"<<\": 3"));
        assert!(text.contains("plain.key-1/x: 4"));
        assert_eq!(value(&text), v);
    }

    #[test]
    fn comments_cannot_break_out() {
        assert_eq!(comments("one\ntwo\u{2028}x"), "# one\n# two\\u2028x\n");
    }
}
