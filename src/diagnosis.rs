//! Why a container that just started is gone: its last log lines matched against the
//! failures hardening causes (a read-only root, a folder its user cannot write, a
//! syscall the seccomp profile refuses, a limit), each turned into the flag or profile
//! key that fixes it. Pure: the watch (`command::watch`) gathers the facts.

use crate::plan::Plan;

/// What the diagnosis knows about the run besides its output.
#[derive(Debug, Clone, Default)]
pub struct Context {
    /// The user the container ran as (`999:999`).
    pub user: String,
    /// The seccomp profile in force (a bundled name or a path).
    pub seccomp: String,
    /// The profile's name and its nofile ceiling.
    pub profile: String,
    pub nofile_max: Option<i64>,
    /// Container paths of the plan's writable places, with their owner when known.
    pub writable: Vec<(String, Option<String>)>,
    pub exit_code: i64,
    pub oom_killed: bool,
}

impl Context {
    pub fn from_plan(plan: &Plan, profile: &crate::profile::Profile, exit_code: i64, oom_killed: bool) -> Context {
        Context {
            user: plan.run_as.clone().or_else(|| plan.create.user.clone()).unwrap_or_default(),
            seccomp: profile.seccomp.clone(),
            profile: profile.name.clone(),
            nofile_max: profile.resources.ulimits.iter().find(|u| u.name == "nofile").map(|u| u.max),
            writable: plan.writable.iter().map(|w| (w.path.clone(), w.owner.clone())).collect(),
            exit_code,
            oom_killed,
        }
    }
}

/// One finding: the log line that shows it and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub line: String,
    pub advice: String,
}

/// The findings in `lines` (oldest first), most specific first, each kind once.
pub fn diagnose(lines: &[String], ctx: &Context) -> Vec<Finding> {
    let mut out: Vec<Finding> = Vec::new();
    let mut push = |f: Finding| {
        if !out.iter().any(|o| o.advice == f.advice) {
            out.push(f);
        }
    };
    if ctx.oom_killed || ctx.exit_code == 137 && lines.is_empty() {
        push(Finding {
            line: format!("exit code {}{}", ctx.exit_code, if ctx.oom_killed { ", killed for memory" } else { "" }),
            advice: "the memory limit was reached: raise it with --memory (within resources.memory.max)".into(),
        });
    }
    for line in lines {
        let lower = line.to_ascii_lowercase();
        if lower.contains("read-only file system") || lower.contains("errno 30") || lower.contains("erofs") {
            push(read_only(line, ctx));
        } else if is_seccomp(&lower) && !ctx.seccomp.is_empty() {
            push(seccomp(line, ctx));
        } else if is_rlimit(&lower) {
            push(rlimit(line, ctx));
        } else if lower.contains("user does not exist")
            || lower.contains("no passwd entry")
            || lower.contains("unknown uid")
        {
            push(Finding {
                line: line.clone(),
                advice: format!(
                    "the program looks its user ({}) up in the image's /etc/passwd and it is not there: run as a user \
                     the image has (--user NAME, or no --user to let hardrun pick the one the image was built for)",
                    ctx.user
                ),
            });
        } else if lower.contains("permission denied")
            || lower.contains("operation not permitted")
            || lower.contains("eacces")
        {
            push(permission(line, ctx));
        }
    }
    out
}

fn is_seccomp(lower: &str) -> bool {
    let ipc = ["shmget", "shmat", "semget", "msgget", "shared memory segment"].iter().any(|s| lower.contains(s));
    ipc && (lower.contains("not permitted") || lower.contains("eperm") || lower.contains("function not implemented"))
}

fn is_rlimit(lower: &str) -> bool {
    [
        "setrlimit",
        "rlimit_",
        "too many open files",
        "max open files",
        "maximum open files",
        "file descriptors",
        "ulimit",
    ]
    .iter()
    .any(|s| lower.contains(s))
        && !lower.contains("warning")
}

/// The first absolute path in a line (quoted or bare, not a date such as 2026/11/30),
/// without trailing punctuation.
pub fn path_in(line: &str) -> Option<String> {
    let starts = line.char_indices().filter(|(i, c)| {
        *c == '/' && line[..*i].chars().next_back().is_none_or(|b| b.is_whitespace() || "\"'`=([:".contains(b))
    });
    for (start, _) in starts {
        let rest = &line[start..];
        let end = rest.find(|c: char| c.is_whitespace() || "\"'`,;()[]{}<>".contains(c)).unwrap_or(rest.len());
        let p = rest[..end].trim_end_matches([':', '.']);
        if p.len() > 1 {
            return Some(p.to_string());
        }
    }
    None
}

fn parent(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &path[..i],
    }
}

fn read_only(line: &str, ctx: &Context) -> Finding {
    let advice = match path_in(line) {
        Some(p) => {
            let dir = parent(&p);
            let (uid, gid) = ctx.user.split_once(':').unwrap_or((&ctx.user, &ctx.user));
            format!(
                "{p} is on the read-only root: give {dir} a tmpfs owned by the container's user \
                 (--tmpfs {dir}:uid={uid},gid={gid}, or the profile key filesystem.tmpfs: {{{dir}: size=64m}}), \
                 or a volume (-v ./DIR:{dir}) when what it writes must be kept"
            )
        }
        None => "the service wrote to the read-only root: find the folder in its logs and give it a tmpfs \
                 (--tmpfs DIR, profile key filesystem.tmpfs) or a volume"
            .into(),
    };
    Finding { line: line.to_string(), advice }
}

fn permission(line: &str, ctx: &Context) -> Finding {
    let advice = match path_in(line) {
        Some(p) => {
            let owner = ctx
                .writable
                .iter()
                .filter(|(w, _)| p == *w || p.starts_with(&format!("{w}/")))
                .max_by_key(|(w, _)| w.len())
                .and_then(|(w, o)| o.as_ref().map(|o| format!(" ({w} belongs to {o})")))
                .unwrap_or_default();
            format!(
                "the container's user {} may not use {p}{owner}: give it to that user (chown), or run as its owner \
                 with --user UID:GID (`hardrun plan` lists who owns each writable path)",
                ctx.user
            )
        }
        None => format!(
            "the container's user {} was refused something: see `hardrun plan` (writable paths, owners) and --user",
            ctx.user
        ),
    };
    Finding { line: line.to_string(), advice }
}

fn seccomp(line: &str, ctx: &Context) -> Finding {
    Finding {
        line: line.to_string(),
        advice: format!(
            "the seccomp profile {} refuses System V IPC (shmget and friends), which this service needs: use \
             hardrun-default (--profile default, or the profile key seccomp.profile: hardrun-default)",
            ctx.seccomp
        ),
    }
}

fn rlimit(line: &str, ctx: &Context) -> Finding {
    let ceiling = match ctx.nofile_max {
        Some(m) => format!(" (profile {} allows up to {m}: resources.ulimits.nofile.max)", ctx.profile),
        None => String::new(),
    };
    Finding {
        line: line.to_string(),
        advice: format!("the service needs a higher limit: ask for it with --ulimit nofile=N:N{ceiling}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> Context {
        Context {
            user: "65532:65532".into(),
            seccomp: "hardrun-strict".into(),
            profile: "strict".into(),
            nofile_max: Some(65536),
            writable: vec![("/data".into(), Some("0:0 755".into()))],
            exit_code: 1,
            oom_killed: false,
        }
    }

    fn advice(line: &str) -> String {
        let found = diagnose(&[line.to_string()], &ctx());
        assert_eq!(found.len(), 1, "{line}: {found:?}");
        found[0].advice.clone()
    }

    #[test]
    fn a_read_only_root_names_the_folder_and_the_fix() {
        let a = advice(
            r#"2026/11/30 21:10:29 [emerg] 1#1: mkdir() "/var/lib/nginx/body" failed (30: Read-only file system)"#,
        );
        assert!(a.contains("--tmpfs /var/lib/nginx:uid=65532,gid=65532"), "{a}");
        assert!(a.contains("filesystem.tmpfs: {/var/lib/nginx: size=64m}"), "{a}");
        let a = advice("OSError: [Errno 30] Read-only file system: '/app/cache/x.db'");
        assert!(a.contains("/app/cache is") || a.contains("give /app/cache a tmpfs"), "{a}");
    }

    #[test]
    fn permission_denied_names_the_owner_and_user() {
        let a = advice("open /data/dump.rdb: permission denied");
        assert!(a.contains("65532:65532 may not use /data/dump.rdb (/data belongs to 0:0 755)"), "{a}");
        assert!(a.contains("--user UID:GID"), "{a}");
        let a = advice(
            r#"ts=2026 level=error msg="Error opening query log file" file=/prometheus/queries.active err="open /prometheus/queries.active: permission denied""#,
        );
        assert!(a.contains("/prometheus/queries.active"), "{a}");
    }

    #[test]
    fn ipc_under_a_seccomp_profile_and_limits() {
        let a = advice("FATAL:  could not create shared memory segment: Operation not permitted");
        assert!(
            a.contains("hardrun-strict refuses System V IPC") && a.contains("seccomp.profile: hardrun-default"),
            "{a}"
        );
        let a = advice("# Server can't set maximum open files to 10032 because of OS error: Operation not permitted.");
        assert!(a.contains("--ulimit nofile=N:N") && a.contains("up to 65536"), "{a}");
        let a = advice("initdb: could not look up effective user ID 65532: user does not exist");
        assert!(a.contains("not there: run as a user the image has"), "{a}");
    }

    #[test]
    fn nothing_known_nothing_said_and_each_advice_once() {
        assert!(diagnose(&["listening on port 80".into(), "ready".into()], &ctx()).is_empty());
        let twice = ["mkdir /a/b: read-only file system".to_string(), "mkdir /a/b: read-only file system".to_string()];
        assert_eq!(diagnose(&twice, &ctx()).len(), 1);
        let oom = Context { exit_code: 137, oom_killed: true, ..ctx() };
        assert!(diagnose(&[], &oom)[0].advice.contains("--memory"));
        assert_eq!(path_in("no path here"), None);
        assert_eq!(path_in("at '/x/y'."), Some("/x/y".into()));
        assert_eq!(path_in("2026/11/30 21:10 mkdir /a/b: x"), Some("/a/b".into()), "dates are not paths");
        assert_eq!(path_in("file=/p/q err"), Some("/p/q".into()));
    }
}
