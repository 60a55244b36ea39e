//! `--env-file` and `--label-file` (the docker CLI's line format: `KEY=VALUE`, `KEY`,
//! `# comments`, no quoting), and `-e KEY` lookups in hardrun's own environment.

use std::path::Path;

/// Reads an env file. A line `KEY` without `=` takes its value from `lookup`, as docker does,
/// and is kept bare when the variable is unset.
pub fn read_env_file(path: &Path, lookup: &dyn Fn(&str) -> Option<String>) -> Result<Vec<String>, String> {
    read_lines(path, "--env-file", |line| {
        let (key, value) = match line.split_once('=') {
            Some((k, v)) => (k.trim_start(), Some(v)),
            None => (line.trim_start(), None),
        };
        if key.is_empty() {
            return Err(format!("variable without a name in {line:?}"));
        }
        if key.contains(char::is_whitespace) {
            return Err(format!("variable {key:?} contains whitespace"));
        }
        Ok(match value {
            Some(v) => format!("{key}={v}"),
            None => lookup(key).map_or_else(|| key.to_string(), |v| format!("{key}={v}")),
        })
    })
}

/// Reads a label file: the same format, with no environment lookup.
pub fn read_label_file(path: &Path) -> Result<Vec<String>, String> {
    read_lines(path, "--label-file", |line| Ok(line.trim_start().to_string()))
}

fn read_lines(
    path: &Path,
    flag: &str,
    mut each: impl FnMut(&str) -> Result<String, String>,
) -> Result<Vec<String>, String> {
    // docker reads these whole; hardrun reads regular files of at most 1 MiB, so
    // `--env-file /dev/zero` or a FIFO is an error rather than a hang.
    let text = crate::bounded_file::read_text(path, crate::bounded_file::TEXT_MAX)
        .map_err(|e| format!("{flag} {}: {e}", path.display()))?;
    let mut out = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let line = raw.strip_prefix('\u{feff}').unwrap_or(raw);
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        out.push(each(line).map_err(|e| format!("{flag} {} line {}: {e}", path.display(), n + 1))?);
    }
    Ok(out)
}

/// Resolves one `-e` value: `KEY=VALUE` as is; a bare `KEY` from hardrun's environment.
pub fn resolve_env(value: &str, lookup: &dyn Fn(&str) -> Option<String>) -> String {
    if value.contains('=') {
        return value.to_string();
    }
    lookup(value).map_or_else(|| value.to_string(), |v| format!("{value}={v}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn lookup(k: &str) -> Option<String> {
        (k == "HOME_DIR").then(|| "/home/dev".to_string())
    }

    #[test]
    fn env_file_format() {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        writeln!(f, "# comment\n\nA=1\n  B=two words\nHOME_DIR\nUNSET\nC=\"quoted\"").unwrap();
        let got = read_env_file(f.path(), &lookup).unwrap();
        assert_eq!(got, ["A=1", "B=two words", "HOME_DIR=/home/dev", "UNSET", "C=\"quoted\""]);
    }

    #[test]
    fn env_file_errors_name_the_line() {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        writeln!(f, "A=1\nBAD KEY=2").unwrap();
        let err = read_env_file(f.path(), &lookup).unwrap_err();
        assert!(err.contains("line 2") && err.contains("whitespace"), "{err}");
        let err = read_env_file(Path::new("/nonexistent/env"), &lookup).unwrap_err();
        assert!(err.starts_with("--env-file /nonexistent/env"), "{err}");
    }

    #[test]
    fn only_bounded_regular_files_are_read() {
        let d = tempfile::tempdir().unwrap();
        let e = read_env_file(Path::new("/dev/zero"), &lookup).unwrap_err();
        assert!(e.starts_with("--env-file /dev/zero: a character device, not a regular file"), "{e}");
        let e = read_label_file(Path::new("/dev/urandom")).unwrap_err();
        assert!(e.starts_with("--label-file /dev/urandom: a character device"), "{e}");
        let huge = d.path().join("huge.env");
        std::fs::write(&huge, "A=1\n".repeat(300_000)).unwrap();
        let e = read_env_file(&huge, &lookup).unwrap_err();
        assert!(e.contains("larger than 1 MiB"), "{e}");
        let latin1 = d.path().join("latin1.env");
        std::fs::write(&latin1, b"A=caf\xe9\n").unwrap();
        assert!(read_env_file(&latin1, &lookup).unwrap_err().contains("not UTF-8"));
    }

    #[test]
    fn bare_env() {
        assert_eq!(resolve_env("HOME_DIR", &lookup), "HOME_DIR=/home/dev");
        assert_eq!(resolve_env("NOPE", &lookup), "NOPE");
        assert_eq!(resolve_env("A=", &lookup), "A=");
    }
}
