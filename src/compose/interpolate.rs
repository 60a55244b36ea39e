//! Compose's variable interpolation in values: `$VAR`, `${VAR}`, `${VAR:-default}`,
//! `${VAR-default}`, `${VAR:?error}`, `${VAR?error}`, `${VAR:+alt}`, `${VAR+alt}` and
//! `$$` for a literal `$`. Keys are never interpolated. Whatever the text comes to is
//! what hardrun judges and writes (with every `$` escaped again), so Compose cannot
//! read it differently afterwards.

use serde_yaml::Value;

use super::Problem;

/// Variable lookup: the process environment first, then the project's `.env`.
pub type Lookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Interpolates every string value under `value` in place. `path` names the value in
/// problems (`services.web.image`); unset variables without a default are collected in
/// `unset` (Compose substitutes an empty string and warns).
pub fn value(v: &mut Value, path: &str, lookup: Lookup, unset: &mut Vec<String>, problems: &mut Vec<Problem>) {
    match v {
        Value::String(s) => match string(s, lookup, unset) {
            Ok(out) => *s = out,
            Err(e) => problems.push(Problem::new(path, e)),
        },
        Value::Sequence(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                value(item, &format!("{path}[{i}]"), lookup, unset, problems);
            }
        }
        Value::Mapping(m) => {
            for (k, item) in m.iter_mut() {
                let key = k.as_str().map_or_else(|| format!("{k:?}"), str::to_string);
                value(item, &format!("{path}.{key}"), lookup, unset, problems);
            }
        }
        Value::Tagged(t) => value(&mut t.value, path, lookup, unset, problems),
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

fn is_name_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_name(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Interpolates one string.
pub fn string(text: &str, lookup: Lookup, unset: &mut Vec<String>) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        rest = &rest[at + 1..];
        let next = rest.chars().next();
        match next {
            Some('$') => {
                out.push('$');
                rest = &rest[1..];
            }
            Some(c) if is_name_start(c) => {
                let len = rest.find(|c: char| !is_name(c)).unwrap_or(rest.len());
                let name = &rest[..len];
                out.push_str(&lookup(name).unwrap_or_else(|| missing(name, unset)));
                rest = &rest[len..];
            }
            Some('{') => {
                let close = matching_brace(rest)
                    .ok_or_else(|| format!("invalid interpolation in {text:?}: an unclosed ${{ (write $$ for a $)"))?;
                out.push_str(&braced(&rest[1..close], text, lookup, unset)?);
                rest = &rest[close + 1..];
            }
            _ => return Err(format!("invalid interpolation in {text:?}: a lone $ (write $$ for a literal $)")),
        }
    }
    out.push_str(rest);
    Ok(out)
}

fn missing(name: &str, unset: &mut Vec<String>) -> String {
    if !unset.iter().any(|n| n == name) {
        unset.push(name.to_string());
    }
    String::new()
}

/// The index of the `}` closing the `{` at the start of `s`, counting nested `${`.
fn matching_brace(s: &str) -> Option<usize> {
    let mut depth = 0;
    for (i, c) in s.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

/// `VAR`, `VAR:-x`, `VAR-x`, `VAR:?x`, `VAR?x`, `VAR:+x`, `VAR+x` (the part inside `${}`).
fn braced(inner: &str, text: &str, lookup: Lookup, unset: &mut Vec<String>) -> Result<String, String> {
    let len = inner.find(|c: char| !is_name(c)).unwrap_or(inner.len());
    let (name, op) = inner.split_at(len);
    if name.is_empty() || !name.starts_with(is_name_start) {
        return Err(format!("invalid interpolation in {text:?}: ${{{inner}}} does not name a variable"));
    }
    let value = lookup(name);
    let set = value.is_some();
    let nonempty = value.as_deref().is_some_and(|v| !v.is_empty());
    let (kind, arg) = match op {
        "" => return Ok(value.unwrap_or_else(|| missing(name, unset))),
        _ if op.starts_with(":-") || op.starts_with(":?") || op.starts_with(":+") => op.split_at(2),
        _ if op.starts_with('-') || op.starts_with('?') || op.starts_with('+') => op.split_at(1),
        _ => return Err(format!("invalid interpolation in {text:?}: unknown form ${{{inner}}}")),
    };
    // The default, error and alternative texts are interpolated themselves.
    let mut arg = || string(arg, lookup, unset);
    match kind {
        ":-" if nonempty => Ok(value.unwrap_or_default()),
        "-" if set => Ok(value.unwrap_or_default()),
        ":-" | "-" => arg(),
        ":?" if nonempty => Ok(value.unwrap_or_default()),
        "?" if set => Ok(value.unwrap_or_default()),
        ":?" | "?" => {
            let msg = arg()?;
            Err(format!("required variable {name} is {}: {msg}", if set { "empty" } else { "not set" }))
        }
        ":+" if nonempty => arg(),
        "+" if set => arg(),
        _ => Ok(String::new()),
    }
}

/// Writes `$` as `$$`, so Compose reading hardrun's file gets back exactly this text.
pub fn escape(v: &mut Value) {
    match v {
        Value::String(s) if s.contains('$') => *s = s.replace('$', "$$"),
        Value::Sequence(items) => items.iter_mut().for_each(escape),
        Value::Mapping(m) => m.iter_mut().for_each(|(_, item)| escape(item)),
        Value::Tagged(t) => escape(&mut t.value),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(k: &str) -> Option<String> {
        match k {
            "TAG" => Some("1.2".into()),
            "EMPTY" => Some(String::new()),
            "NESTED" => Some("$HOME".into()),
            _ => None,
        }
    }

    fn interp(s: &str) -> Result<String, String> {
        string(s, &env, &mut Vec::new())
    }

    #[test]
    fn forms() {
        assert_eq!(interp("app:${TAG}").unwrap(), "app:1.2");
        assert_eq!(interp("app:$TAG-x").unwrap(), "app:1.2-x");
        assert_eq!(interp("${MISSING:-3}|${EMPTY:-d}|${EMPTY-d}|${MISSING-d}").unwrap(), "3|d||d");
        assert_eq!(interp("${TAG:+set}|${EMPTY:+set}|${EMPTY+set}|${MISSING+set}").unwrap(), "set||set|");
        assert_eq!(interp("${MISSING:-${TAG}}").unwrap(), "1.2");
        assert_eq!(interp("$$TAG $${TAG}").unwrap(), "$TAG ${TAG}");
        // A value from the environment is not interpolated again.
        assert_eq!(interp("${NESTED}").unwrap(), "$HOME");
    }

    #[test]
    fn unset_variables_are_empty_and_reported() {
        let mut unset = Vec::new();
        assert_eq!(string("a${MISSING}b$MISSING", &env, &mut unset).unwrap(), "ab");
        assert_eq!(unset, ["MISSING"]);
    }

    #[test]
    fn errors() {
        assert!(interp("${MISSING:?set it}").unwrap_err().contains("set it"));
        assert!(interp("${EMPTY:?}").unwrap_err().contains("EMPTY is empty"));
        assert_eq!(interp("${EMPTY?}").unwrap(), "");
        for bad in ["$", "a $ b", "${", "${}", "${1X}", "${TAG:x}", "$1"] {
            assert!(interp(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn escaping_round_trips() {
        let mut v = Value::String("pa$$word is $X".into());
        escape(&mut v);
        assert_eq!(v, Value::String("pa$$$$word is $$X".into()));
        assert_eq!(interp(v.as_str().unwrap()).unwrap(), "pa$$word is $X");
    }
}
