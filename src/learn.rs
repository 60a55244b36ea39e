//! Profile authoring from a real run (`hardrun learn`), the pure half: the seccomp
//! profile of the observation run (the chosen one, with every syscall it does not name
//! logged instead of refused), reading what the run showed (the kernel's seccomp log
//! lines, `/proc/net/tcp`, `docker diff`), and the profile proposed from it, every entry
//! with a comment saying why. Learning only proposes: nothing here loosens a run.

use std::collections::BTreeSet;

use serde_json::{Value, json};

/// Syscalls never logged-and-allowed, even while observing: the ways out of a
/// container, and kernel facilities no service needs to be learnt.
const NEVER: [&str; 14] = [
    "kexec_load",
    "kexec_file_load",
    "reboot",
    "swapon",
    "swapoff",
    "acct",
    "quotactl",
    "userfaultfd",
    "perf_event_open",
    "keyctl",
    "add_key",
    "request_key",
    "lookup_dcookie",
    "io_uring_setup",
];

/// Every syscall name of the architectures hardrun's profiles cover.
fn all_syscalls() -> BTreeSet<&'static str> {
    syscalls::x86_64::Sysno::iter()
        .map(|s| s.name())
        .chain(syscalls::aarch64::Sysno::iter().map(|s| s.name()))
        .collect()
}

/// The observation profile: `base` as it is (its allowed and refused syscalls, with
/// their argument conditions, and its default action for everything it names only
/// conditionally), plus one rule that logs and lets through the syscalls it does not
/// name at all, the escape routes and [`NEVER`] excepted.
pub fn observation_seccomp(base: &str) -> Result<String, String> {
    let mut profile: Value = serde_json::from_str(base).map_err(|e| format!("the seccomp profile is not JSON: {e}"))?;
    let rules =
        profile.get_mut("syscalls").and_then(Value::as_array_mut).ok_or("the seccomp profile has no syscalls")?;
    let named: BTreeSet<String> = rules
        .iter()
        .flat_map(|r| r.get("names").and_then(Value::as_array).cloned().unwrap_or_default())
        .filter_map(|n| n.as_str().map(str::to_string))
        .collect();
    let logged: Vec<&str> = all_syscalls()
        .into_iter()
        .filter(|n| !named.contains(*n) && !crate::seccomp::ESCAPE_ROUTES.contains(n) && !NEVER.contains(n))
        .collect();
    rules.push(json!({
        "comment": "hardrun learn: not in the chosen profile; allowed and logged while observing",
        "names": logged,
        "action": "SCMP_ACT_LOG",
    }));
    Ok(profile.to_string())
}

/// One seccomp log line of the kernel (`audit: type=1326 ... pid=12 comm="x" ...
/// arch=c000003e syscall=30 ...`): the pid and the syscall's name.
pub fn seccomp_event(line: &str) -> Option<(u32, String)> {
    if !line.contains("type=1326") {
        return None;
    }
    let field = |k: &str| line.split_whitespace().find_map(|w| w.strip_prefix(k));
    let pid: u32 = field("pid=")?.parse().ok()?;
    let number: usize = field("syscall=")?.parse().ok()?;
    let name = match field("arch=")? {
        "c000003e" => syscalls::x86_64::Sysno::new(number)?.name(),
        "c00000b7" => syscalls::aarch64::Sysno::new(number)?.name(),
        _ => return None,
    };
    Some((pid, name.to_string()))
}

/// Docker's embedded DNS server in a container (127.0.0.11), as `/proc/net/tcp` writes it.
const DOCKER_DNS: &str = "0B00007F";

/// TCP ports in LISTEN state in a `/proc/net/tcp` or `tcp6` table (docker's embedded DNS
/// server, which listens in every container on a user-defined network, left out).
pub fn listening(table: &str) -> Vec<u16> {
    let mut ports: Vec<u16> = table
        .lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let (addr, port) = f.get(1)?.rsplit_once(':')?;
            let listen = f.get(3)? == &"0A" && addr != DOCKER_DNS;
            listen.then(|| u16::from_str_radix(port, 16).ok())?
        })
        .collect();
    ports.sort();
    ports.dedup();
    ports
}

/// The folders a run wrote into, from `docker diff` (kind 0 changed, 1 added, 2
/// deleted): for each path added, the folder the image had that it was added to; for
/// files of the image changed in place, the file itself.
pub fn written(changes: &[(u8, String)]) -> (Vec<String>, Vec<String>) {
    let added: BTreeSet<&str> = changes.iter().filter(|c| c.0 == 1).map(|c| c.1.as_str()).collect();
    let changed: BTreeSet<&str> = changes.iter().filter(|c| c.0 == 0).map(|c| c.1.as_str()).collect();
    let mut folders = BTreeSet::new();
    for a in &added {
        // The nearest ancestor that was not added itself existed in the image.
        let mut p = *a;
        while let Some(i) = p.rfind('/') {
            p = if i == 0 { "/" } else { &p[..i] };
            if !added.contains(p) {
                break;
            }
        }
        if p != "/" {
            folders.insert(p.to_string());
        }
    }
    // A changed folder is one files were added to or removed from; a changed path that
    // is no such folder is a file of the image rewritten.
    let files: Vec<String> = changed
        .iter()
        .filter(|c| !folders.contains(**c) && !changes.iter().any(|x| x.1.starts_with(&format!("{c}/"))))
        .map(|c| c.to_string())
        .collect();
    // Keep the outermost folders only.
    let list: Vec<String> = folders.iter().cloned().collect();
    let outer: Vec<String> =
        list.iter().filter(|f| !list.iter().any(|o| o != *f && f.starts_with(&format!("{o}/")))).cloned().collect();
    (outer, files)
}

/// What an observation saw.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    pub image: String,
    pub base: String,
    /// The file of the base profile, when it was given by path (`extends` takes names).
    pub base_file: Option<String>,
    /// The seccomp profile the base uses (bundled name or path).
    pub seccomp: String,
    /// Folders written to, outside what the plan already made writable.
    pub folders: Vec<String>,
    /// Files of the image changed in place.
    pub files: Vec<String>,
    /// Syscalls outside the profile, with how often they were seen.
    pub syscalls: Vec<(String, usize)>,
    /// Why syscalls could not be observed, when they could not.
    pub syscalls_unavailable: Option<String>,
    /// The kernel dropped log lines (its rate limit): more may be missing.
    pub syscalls_partial: bool,
    pub ports: Vec<u16>,
    /// `uid:gid` of the processes seen.
    pub users: Vec<String>,
    /// The user as the plan chose it, and why.
    pub user: Option<(String, String)>,
    pub probe: Option<(String, bool)>,
    /// Exit code when the container stopped by itself while observed.
    pub exited: Option<i64>,
    /// Diagnoses from its output.
    pub diagnoses: Vec<String>,
    /// Whether the base profile publishes ports.
    pub base_publishes: bool,
    /// Syscalls of `syscalls` that hardrun-default allows (when the base is stricter).
    pub default_allows: Vec<String>,
}

fn quote(path: &str) -> String {
    if path.chars().all(|c| c.is_ascii_alphanumeric() || "/._-".contains(c)) {
        path.into()
    } else {
        format!("{path:?}")
    }
}

/// The proposed profile, as YAML with a comment on every entry.
pub fn propose(o: &Observed) -> String {
    let mut y = String::new();
    y += &format!("# Proposed by `hardrun learn` from a run of {}.\n", crate::sanitize::line(&o.image, 200));
    match &o.probe {
        Some((cmd, ok)) => {
            let verdict = if *ok { "succeeded" } else { "never succeeded" };
            y += &format!("# Probe `{}` {verdict}.\n", crate::sanitize::line(cmd, 200));
        }
        None => y += "# No probe: only what the service did on its own was seen.\n",
    }
    if let Some(code) = o.exited {
        y += &format!("# The container exited by itself with code {code}: what it needs may be more than this.\n");
    }
    for d in &o.diagnoses {
        y += &format!("# Its output says: {}\n", crate::sanitize::line(d, 300));
    }
    y += "# Review each entry, then check it: hardrun learn --check FILE [the same flags] IMAGE\n";
    if let Some(f) = &o.base_file {
        y += &format!(
            "# {} is the profile file {}: keep it as .hardrun/profiles/{}.yaml so `extends` finds it.\n",
            o.base,
            crate::sanitize::line(f, 200),
            o.base
        );
    }
    y += &format!("extends: {}\n", o.base);
    y += "description: learnt for ";
    y += &format!("{}\n", quote(&crate::sanitize::line(&o.image, 120)));
    if let Some((user, why)) = &o.user {
        y += &format!(
            "# It ran as {} ({}); as processes: {}.\n",
            user,
            crate::sanitize::line(why, 200),
            if o.users.is_empty() { "none seen".into() } else { o.users.join(", ") }
        );
    }
    if !o.folders.is_empty() {
        y += "filesystem:\n  tmpfs:\n";
        for f in &o.folders {
            y += &format!(
                "    # It wrote into {f} (docker diff of a writable root): a tmpfs owned by the run user.\n    # Mount a volume there instead (-v ./DIR:{f}) if what it writes must be kept.\n"
            );
            y += &format!("    {}: size=64m\n", quote(f));
        }
    }
    for f in &o.files {
        y += &format!(
            "# It rewrote {} of the image in place: a tmpfs cannot hold one file; bind your own copy\n# (-v ./FILE:{}:ro) or let the service write it elsewhere.\n",
            quote(f),
            quote(f)
        );
    }
    if !o.ports.is_empty() {
        let ports: Vec<String> = o.ports.iter().map(|p| p.to_string()).collect();
        y += &format!(
            "# It listened on TCP {} (/proc/net/tcp): publish with -p 127.0.0.1:PORT:PORT.\n",
            ports.join(", ")
        );
        if !o.base_publishes {
            y += &format!(
                "network:\n  # {} keeps containers unreachable from outside; it listened on {}.\n  publish: true\n",
                o.base,
                ports.join(", ")
            );
        }
    }
    match (&o.syscalls_unavailable, o.syscalls.is_empty()) {
        (Some(why), _) => y += &format!("# Syscalls: {}\n", crate::sanitize::line(why, 300)),
        (None, true) if o.syscalls_partial => {
            y += "# Syscalls: the kernel dropped its log lines (rate limit) before any was seen: run learn again.\n"
        }
        (None, true) => y += &format!("# Syscalls: none outside {} was seen.\n", o.seccomp),
        (None, false) => {
            let seen: Vec<String> = o.syscalls.iter().map(|(n, c)| format!("{n} ({c}x)")).collect();
            y += &format!("# Syscalls outside {} (the kernel's seccomp log): {}.\n", o.seccomp, seen.join(", "));
            if o.syscalls_partial {
                y += "# The kernel dropped some of its log lines (rate limit): run learn again under this profile\n# to find any others.\n";
            }
            let all_default = o.syscalls.iter().all(|(n, _)| o.default_allows.contains(n));
            if o.seccomp != "hardrun-default" && all_default {
                y += "seccomp:\n  # hardrun-default allows every one of them.\n  profile: hardrun-default\n";
            } else {
                y += "# Some are outside hardrun-default too: export it (hardrun seccomp export hardrun-default),\n# add them, review, and name the file in seccomp.profile.\n";
            }
        }
    }
    y
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_observation_profile_logs_only_what_the_base_does_not_name() {
        let base = crate::seccomp::bundled("hardrun-strict").unwrap();
        let obs: Value = serde_json::from_str(&observation_seccomp(base).unwrap()).unwrap();
        let last = obs["syscalls"].as_array().unwrap().last().unwrap();
        assert_eq!(last["action"], "SCMP_ACT_LOG");
        let logged: Vec<&str> = last["names"].as_array().unwrap().iter().map(|n| n.as_str().unwrap()).collect();
        assert!(logged.contains(&"shmget") && logged.contains(&"msgget"), "what strict leaves out is logged");
        for never in ["clone", "socket", "personality", "unshare", "mount", "bpf", "keyctl", "read"] {
            assert!(!logged.contains(&never), "{never}: named by the base (conditions kept) or never allowed");
        }
        assert_eq!(obs["defaultAction"], "SCMP_ACT_ERRNO", "what the base names conditionally stays refused");
        // The escape routes still refused, the result a valid profile.
        assert!(crate::seccomp::parse(&obs.to_string()).is_ok());
    }

    #[test]
    fn kernel_log_lines_and_proc_tables() {
        let line = r#"audit: type=1326 audit(1796076381.866:2): auid=4294967295 uid=999 gid=999 ses=4294967295 pid=29570 comm="postgres" exe="/usr/lib/postgresql/15/bin/postgres" sig=0 arch=c000003e syscall=29 compat=0 ip=0x40828e code=0x7ffc0000"#;
        assert_eq!(seccomp_event(line), Some((29570, "shmget".into())));
        assert_eq!(
            seccomp_event(&line.replace("c000003e", "c00000b7").replace("syscall=29", "syscall=194")),
            Some((29570, "shmget".into()))
        );
        assert_eq!(seccomp_event("eth0: renamed from veth"), None);
        let tcp = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000    33        0 1 1\n   1: 0100007F:1F90 0100007F:9C40 01 00000000:00000000 00:00000000 00000000    33        0 2 1\n   2: 0B00007F:8A3F 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 3 1\n";
        assert_eq!(listening(tcp), [8080]);
    }

    #[test]
    fn written_folders_are_the_images_own() {
        let changes = vec![
            (0, "/var".to_string()),
            (0, "/var/lib".into()),
            (0, "/var/lib/nginx".into()),
            (1, "/var/lib/nginx/body".into()),
            (1, "/var/lib/nginx/body/0001".into()),
            (0, "/etc".into()),
            (0, "/etc/nginx".into()),
            (0, "/etc/nginx/nginx.conf".into()),
            (1, "/newdir".into()),
        ];
        let (folders, files) = written(&changes);
        assert_eq!(folders, ["/var/lib/nginx"]);
        assert_eq!(files, ["/etc/nginx/nginx.conf"]);
    }

    #[test]
    fn every_entry_of_the_proposal_says_why() {
        let o = Observed {
            image: "svc/nginx:1".into(),
            base: "strict".into(),
            seccomp: "hardrun-strict".into(),
            folders: vec!["/var/lib/nginx".into()],
            syscalls: vec![("shmget".into(), 2)],
            default_allows: vec!["shmget".into()],
            ports: vec![8080],
            probe: Some(("curl -fsS http://127.0.0.1:8080/".into(), true)),
            ..Observed::default()
        };
        let y = propose(&o);
        let parsed: crate::profile::schema::ProfileFile = serde_yaml::from_str(&y).unwrap();
        assert_eq!(parsed.extends.as_deref(), Some("strict"));
        let lines: Vec<&str> = y.lines().collect();
        for (i, l) in lines.iter().enumerate() {
            let entry = !l.trim_start().starts_with('#')
                && l.contains(": ")
                && !l.starts_with("extends")
                && !l.starts_with("description");
            if entry {
                assert!(lines[i - 1].trim_start().starts_with('#'), "no comment before {l:?} in\n{y}");
            }
        }
        assert!(
            y.contains("/var/lib/nginx: size=64m")
                && y.contains("profile: hardrun-default")
                && y.contains("publish: true")
        );
    }
}
