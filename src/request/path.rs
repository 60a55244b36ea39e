//! Container paths as the daemon reads them: Go's `path.Clean` (the daemon cleans the
//! working directory and mount targets with it; the kernel resolves `//proc` and
//! `/./proc` to `/proc` for a program path). Every container path is cleaned with this
//! one function before it is judged, and the cleaned value is what hardrun sends.

/// Go's `path.Clean`: repeated slashes become one, `.` elements go, each `..` removes
/// the element before it (and at the root, itself), no trailing slash but for `/`;
/// an empty result is `.`.
pub fn clean(path: &str) -> String {
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => match parts.last() {
                Some(&last) if last != ".." => {
                    parts.pop();
                }
                // `/..` is `/`; a relative path keeps its leading `..`.
                _ if rooted => {}
                _ => parts.push(".."),
            },
            other => parts.push(other),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_string(),
        (false, false) => joined,
    }
}

/// Whether the cleaned `path` is `root` or inside it (`root` is clean and absolute).
pub fn is_within(path: &str, root: &str) -> bool {
    let p = clean(path);
    p == root || p.strip_prefix(root).is_some_and(|rest| rest.starts_with('/') || root == "/")
}

/// Where a program path leads from `workdir`: absolute paths cleaned, relative ones with
/// a slash joined to the working directory (the kernel resolves them from there); a bare
/// name is looked up in PATH, so it has no path of its own (`None`).
pub fn program(program: &str, workdir: &str) -> Option<String> {
    if program.starts_with('/') {
        Some(clean(program))
    } else if program.contains('/') {
        Some(clean(&format!("{workdir}/{program}")))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The cases Go documents for `path.Clean` (its own test table).
    #[test]
    fn go_path_clean_cases() {
        let cases = [
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
            ("a/b/c/", "a/b/c"),
            ("./", "."),
            ("../", ".."),
            ("../../", "../.."),
            ("/abc/", "/abc"),
            ("abc//def//ghi", "abc/def/ghi"),
            ("//abc", "/abc"),
            ("///abc", "/abc"),
            ("//abc//", "/abc"),
            ("abc//", "abc"),
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
        ];
        for (input, want) in cases {
            assert_eq!(clean(input), want, "clean({input:?})");
            assert_eq!(clean(want), want, "clean is idempotent on {want:?}");
        }
    }

    #[test]
    fn the_spellings_that_reach_proc() {
        for p in ["//proc/self/fd/7", "/bin/../proc/self/fd/7", "/./proc/self", "/proc/", "/../proc", "/proc"] {
            assert!(is_within(p, "/proc"), "{p}");
        }
        for p in ["/procfs", "/tmp/proc", "/", "/pro"] {
            assert!(!is_within(p, "/proc"), "{p}");
        }
        assert!(is_within("/anything", "/"));
    }

    #[test]
    fn programs_resolve_from_the_working_directory() {
        assert_eq!(program("//proc/self/exe", "/").as_deref(), Some("/proc/self/exe"));
        assert_eq!(program("../proc/self/exe", "/bin").as_deref(), Some("/proc/self/exe"));
        assert_eq!(program("./run.sh", "/app").as_deref(), Some("/app/run.sh"));
        assert_eq!(program("sh", "/app"), None);
    }
}
