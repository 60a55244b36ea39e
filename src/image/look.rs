//! What a look inside an image reads, decided from its configuration alone: the
//! folders where programs live (for the minimal check), the folders a service writes to
//! (for who owns them), and where the script it starts with may be.

use super::ImageFacts;
use super::minimal;

/// Folders under which services keep what they write, looked at when they exist.
const WRITE_ROOTS: [&str; 8] = ["/tmp", "/var", "/run", "/home", "/srv", "/opt", "/data", "/app"];

/// Never read whole: the system's programs and libraries, and the kernel's folders.
const TOO_BIG: [&str; 11] = ["/", "/usr", "/etc", "/bin", "/sbin", "/lib", "/lib64", "/proc", "/sys", "/dev", "/boot"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LookFor {
    /// Program folders and the program names looked for in them.
    pub program_folders: Vec<String>,
    pub programs: Vec<&'static str>,
    /// Folders read whole (headers only), none inside another.
    pub roots: Vec<String>,
    /// Folders recorded whatever their owner (the VOLUMEs).
    pub keep: Vec<String>,
    /// Where the entrypoint script may be, in the order the runtime looks.
    pub script: Vec<String>,
}

/// An absolute path without `.`, `..` or empty parts, or `None`.
pub fn clean(path: &str) -> Option<String> {
    if !path.starts_with('/') || path.chars().any(char::is_control) {
        return None;
    }
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty() && *p != ".").collect();
    if parts.contains(&"..") {
        return None;
    }
    Some(format!("/{}", parts.join("/")))
}

fn inside(path: &str, folder: &str) -> bool {
    folder == "/" || path == folder || path.strip_prefix(folder).is_some_and(|rest| rest.starts_with('/'))
}

pub fn look_for(facts: &ImageFacts) -> LookFor {
    let keep: Vec<String> = facts.volumes.iter().filter_map(|v| clean(v)).collect();
    let mut wanted: Vec<String> = keep.clone();
    wanted.extend(clean(&facts.working_dir));
    wanted.extend(WRITE_ROOTS.iter().map(|r| r.to_string()));
    wanted.retain(|p| !TOO_BIG.contains(&p.as_str()));
    wanted.sort();
    wanted.dedup();
    // Sorted, a folder comes before what is inside it.
    let mut roots: Vec<String> = Vec::new();
    for p in wanted {
        if !roots.iter().any(|r| inside(&p, r)) {
            roots.push(p);
        }
    }
    let program_folders = minimal::folders(&facts.env);
    let first = facts.entrypoint.first().or(facts.cmd.first()).map(String::as_str).unwrap_or("");
    let script = match first {
        "" => vec![],
        p if p.starts_with('/') => clean(p).into_iter().collect(),
        p if p.contains('/') => {
            clean(&format!("{}/{p}", if facts.working_dir.is_empty() { "/" } else { &facts.working_dir }))
                .into_iter()
                .collect()
        }
        name => program_folders.iter().map(|d| format!("{d}/{name}")).collect(),
    };
    LookFor { program_folders, programs: minimal::programs(), roots, keep, script }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roots_cover_volumes_workdir_and_runtime_folders_once() {
        let facts = ImageFacts {
            volumes: vec!["/var/lib/postgresql/data".into(), "/prometheus".into(), "/".into(), "/usr/x".into()],
            working_dir: "/prometheus".into(),
            entrypoint: vec!["docker-entrypoint.sh".into()],
            env: vec!["PATH=/usr/lib/postgresql/15/bin:/usr/bin".into()],
            ..ImageFacts::default()
        };
        let l = look_for(&facts);
        assert_eq!(
            l.roots,
            ["/app", "/data", "/home", "/opt", "/prometheus", "/run", "/srv", "/tmp", "/usr/x", "/var"]
        );
        assert_eq!(l.keep, ["/var/lib/postgresql/data", "/prometheus", "/", "/usr/x"]);
        assert!(l.script.contains(&"/usr/lib/postgresql/15/bin/docker-entrypoint.sh".to_string()));
        assert_eq!(l.script[0], "/usr/local/sbin/docker-entrypoint.sh");
    }

    #[test]
    fn the_script_is_where_the_runtime_finds_it() {
        let facts = |ep: &[&str], cmd: &[&str], wd: &str| ImageFacts {
            entrypoint: ep.iter().map(|s| s.to_string()).collect(),
            cmd: cmd.iter().map(|s| s.to_string()).collect(),
            working_dir: wd.into(),
            ..ImageFacts::default()
        };
        assert_eq!(look_for(&facts(&["/bin/../entry.sh"], &[], "")).script, Vec::<String>::new());
        assert_eq!(look_for(&facts(&["/usr//local/bin/start"], &[], "")).script, ["/usr/local/bin/start"]);
        assert_eq!(look_for(&facts(&[], &["./run.sh"], "/app")).script, ["/app/run.sh"]);
        assert!(look_for(&facts(&[], &[], "")).script.is_empty());
    }
}
