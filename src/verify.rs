//! Proof that the hardening took effect: right after start, read back what the kernel
//! enforces on the container's first process (/proc/<pid>/status, attr/current,
//! mountinfo) and compare it with the Plan's expectations. With a remote daemon, compare
//! what `inspect` reports and say the kernel could not be read.

use std::path::Path;

use crate::capability::Capability;
use crate::plan::Expectation;

/// What one source (kernel or inspect) shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Observed {
    /// Read from the kernel (true) or from `docker inspect` (false).
    pub kernel: bool,
    pub cap_eff: Option<u64>,
    pub cap_bnd: Option<u64>,
    pub no_new_privs: Option<bool>,
    /// 0 off, 1 strict, 2 filter.
    pub seccomp: Option<u8>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    pub user: Option<String>,
    pub root_read_only: Option<bool>,
    /// Contents of attr/current, `None` when the host has no AppArmor.
    pub apparmor: Option<String>,
}

/// Parses the fields of /proc/<pid>/status that matter.
pub fn parse_status(text: &str, into: &mut Observed) {
    for line in text.lines() {
        let Some((key, value)) = line.split_once(':') else { continue };
        let value = value.trim();
        let first = || value.split_whitespace().next().and_then(|v| v.parse::<u32>().ok());
        match key {
            "CapEff" => into.cap_eff = u64::from_str_radix(value, 16).ok(),
            "CapBnd" => into.cap_bnd = u64::from_str_radix(value, 16).ok(),
            "NoNewPrivs" => into.no_new_privs = Some(value == "1"),
            "Seccomp" => into.seccomp = value.parse().ok(),
            // Real, effective, saved, filesystem: the effective one decides.
            "Uid" => into.uid = value.split_whitespace().nth(1).and_then(|v| v.parse().ok()).or_else(first),
            "Gid" => into.gid = value.split_whitespace().nth(1).and_then(|v| v.parse().ok()).or_else(first),
            _ => {}
        }
    }
}

/// Whether the root mount in /proc/<pid>/mountinfo is read-only.
pub fn root_read_only(mountinfo: &str) -> Option<bool> {
    // id parent major:minor root mount-point options ...; the last "/" mount wins.
    mountinfo
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.get(4) == Some(&"/")).then(|| f.get(5).is_some_and(|o| o.split(',').any(|x| x == "ro")))
        })
        .next_back()
}

/// Where the container's cgroup lives, for the usual drivers (cgroupfs, systemd) on
/// cgroup v1 and v2.
fn cgroup_dirs(container_id: &str) -> [String; 6] {
    [
        format!("/sys/fs/cgroup/pids/docker/{container_id}"),
        format!("/sys/fs/cgroup/pids/system.slice/docker-{container_id}.scope"),
        format!("/sys/fs/cgroup/system.slice/docker-{container_id}.scope"),
        format!("/sys/fs/cgroup/docker/{container_id}"),
        format!("/sys/fs/cgroup/memory/docker/{container_id}"),
        format!("/sys/fs/cgroup/unified/docker/{container_id}"),
    ]
}

/// What the local kernel says about the container's processes, without asking the
/// daemon (whose inspect waits while a container is exiting).
pub enum Local {
    /// The container's PID 1 (in its own namespace).
    Pid(i64),
    /// The container's cgroup exists but holds no process: it already exited.
    Exited,
    /// No cgroup found here (remote daemon, other driver layout).
    Unknown,
}

pub fn local_init(container_id: &str) -> Local {
    for dir in cgroup_dirs(container_id) {
        let Ok(procs) = std::fs::read_to_string(Path::new(&dir).join("cgroup.procs")) else { continue };
        let pids: Vec<i64> = procs.lines().filter_map(|l| l.trim().parse().ok()).collect();
        if pids.is_empty() {
            return Local::Exited;
        }
        // The container's init is PID 1 in its namespace: the last NSpid entry.
        let init = pids.iter().copied().find(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/status"))
                .ok()
                .and_then(|s| {
                    s.lines().find(|l| l.starts_with("NSpid:")).map(|l| l.split_whitespace().last() == Some("1"))
                })
                .unwrap_or(false)
        });
        return init.map_or(Local::Exited, Local::Pid);
    }
    Local::Unknown
}

/// Reads the kernel's view of `pid`, provided it is the container's process: its
/// cgroup names the container (so a PID from another PID namespace is never misread).
pub fn read_kernel(pid: i64, container_id: &str) -> Option<Observed> {
    let dir = Path::new("/proc").join(pid.to_string());
    let cgroup = std::fs::read_to_string(dir.join("cgroup")).ok()?;
    if !cgroup.contains(container_id) {
        return None;
    }
    let mut o = Observed { kernel: true, ..Observed::default() };
    parse_status(&std::fs::read_to_string(dir.join("status")).ok()?, &mut o);
    o.root_read_only = std::fs::read_to_string(dir.join("mountinfo")).ok().and_then(|m| root_read_only(&m));
    o.apparmor = std::fs::read_to_string(dir.join("attr/apparmor/current"))
        .or_else(|_| std::fs::read_to_string(dir.join("attr/current")))
        .ok()
        .map(|s| s.trim_end_matches(['\n', '\0']).to_string())
        .filter(|_| crate::apparmor::host_enabled());
    Some(o)
}

fn mask(caps: &[String]) -> u64 {
    caps.iter().filter_map(|c| Capability::parse(c).ok()?.bit()).fold(0, |m, b| m | (1u64 << b))
}

fn cap_names(mask: u64) -> String {
    let names: Vec<&str> =
        crate::capability::ALL.iter().enumerate().filter(|(i, _)| mask & (1u64 << i) != 0).map(|(_, n)| *n).collect();
    if names.is_empty() { "none".into() } else { names.join(",") }
}

/// Compares what was observed with the plan's expectations. `Ok` carries the verified
/// line; `Err` every difference.
pub fn compare(expect: &Expectation, o: &Observed, apparmor_on_host: bool) -> Result<String, Vec<String>> {
    let mut diffs = Vec::new();
    let mut ok = Vec::new();
    let allowed = mask(&expect.capabilities);
    match (o.cap_bnd, o.cap_eff) {
        (Some(bnd), Some(eff)) => {
            if bnd & !allowed != 0 || eff & !allowed != 0 {
                diffs.push(format!(
                    "capabilities: the process holds {} (bounding {}), the plan allows {}",
                    cap_names(eff),
                    cap_names(bnd),
                    cap_names(allowed)
                ));
            } else {
                ok.push(format!("caps {}", cap_names(bnd)));
            }
        }
        _ if o.kernel => diffs.push("capabilities: could not be read".into()),
        _ => ok.push(format!("caps {}", cap_names(allowed))),
    }
    if expect.no_new_privileges {
        match o.no_new_privs {
            Some(true) => ok.push("no-new-privileges".into()),
            _ => diffs.push("no-new-privileges: not set on the process".into()),
        }
    }
    if expect.seccomp {
        match o.seccomp {
            Some(2) => ok.push("seccomp filter".into()),
            other => diffs.push(format!(
                "seccomp: mode {} instead of 2 (filter)",
                other.map_or("unknown".into(), |m| m.to_string())
            )),
        }
    }
    if let Some(user) = &expect.user {
        let spec = crate::request::UserSpec::parse(user).ok();
        let want_uid = spec.as_ref().and_then(|s| s.uid());
        let want_gid = spec.as_ref().and_then(|s| s.gid());
        match (o.uid, want_uid) {
            (Some(uid), Some(want)) if uid != want => diffs.push(format!("user: uid {uid} instead of {want}")),
            (Some(0), None) if !spec.as_ref().is_some_and(|s| s.is_root()) => {
                diffs.push(format!("user: {user} resolved to uid 0 (root) in the image"))
            }
            (Some(uid), _) => ok.push(format!("uid {uid}")),
            (None, _) if o.kernel => diffs.push("user: could not be read".into()),
            (None, _) => match &o.user {
                Some(u) if u == user => ok.push(format!("user {u}")),
                other => diffs.push(format!("user: {} instead of {user}", other.as_deref().unwrap_or("unset"))),
            },
        }
        if let (Some(gid), Some(want)) = (o.gid, want_gid)
            && gid != want
        {
            diffs.push(format!("user: gid {gid} instead of {want}"));
        }
    }
    if expect.read_only_root {
        match o.root_read_only {
            Some(true) => ok.push("read-only root".into()),
            _ => diffs.push("root filesystem: writable, the plan wants it read-only".into()),
        }
    }
    match (&expect.apparmor, apparmor_on_host) {
        (Some(name), true) if o.kernel => match &o.apparmor {
            Some(current) if crate::apparmor::parse_attr_current(current).enforces(name) => {
                ok.push(format!("apparmor {name}"))
            }
            other => diffs
                .push(format!("apparmor: {} instead of {name} (enforce)", other.as_deref().unwrap_or("unconfined"))),
        },
        (Some(name), _) => ok.push(format!("apparmor {name} (as inspect reports it)")),
        (None, false) => ok.push("apparmor not available on this host".into()),
        (None, true) => ok.push("apparmor not requested".into()),
    }
    if !o.kernel {
        ok.push("kernel state not readable (remote daemon): checked what inspect reports".into());
    }
    if diffs.is_empty() { Ok(ok.join(", ")) } else { Err(diffs) }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATUS: &str = "Name:\tsh\nUid:\t65532\t65532\t65532\t65532\nGid:\t65532\t65532\t65532\t65532\n\
        CapInh:\t0000000000000000\nCapPrm:\t0000000000000000\nCapEff:\t0000000000000000\n\
        CapBnd:\t0000000000000400\nCapAmb:\t0000000000000000\nNoNewPrivs:\t1\nSeccomp:\t2\nSeccomp_filters:\t1\n";
    const MOUNTINFO: &str = "1432 1183 0:130 / / ro,relatime master:412 - overlay overlay rw,lowerdir=/x\n\
        1433 1432 0:133 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw\n";

    fn expect() -> Expectation {
        Expectation {
            capabilities: vec!["NET_BIND_SERVICE".into()],
            no_new_privileges: true,
            seccomp: true,
            user: Some("65532:65532".into()),
            read_only_root: true,
            apparmor: None,
        }
    }

    fn observed() -> Observed {
        let mut o = Observed { kernel: true, ..Default::default() };
        parse_status(STATUS, &mut o);
        o.root_read_only = root_read_only(MOUNTINFO);
        o
    }

    #[test]
    fn a_hardened_process_verifies() {
        let line = compare(&expect(), &observed(), false).unwrap();
        assert_eq!(
            line,
            "caps NET_BIND_SERVICE, no-new-privileges, seccomp filter, uid 65532, read-only root, apparmor not available on this host"
        );
    }

    #[test]
    fn every_difference_is_reported() {
        let mut o = observed();
        o.cap_bnd = Some(1 << 21);
        o.no_new_privs = Some(false);
        o.seccomp = Some(0);
        o.uid = Some(0);
        o.root_read_only = Some(false);
        let diffs = compare(&expect(), &o, false).unwrap_err();
        assert_eq!(diffs.len(), 5, "{diffs:?}");
        assert!(diffs[0].contains("SYS_ADMIN"));
    }

    #[test]
    fn apparmor_must_enforce_where_the_host_has_it() {
        let mut e = expect();
        e.apparmor = Some("hardrun-default".into());
        let mut o = observed();
        o.apparmor = Some("hardrun-default (enforce)".into());
        assert!(compare(&e, &o, true).is_ok());
        o.apparmor = Some("unconfined".into());
        assert!(compare(&e, &o, true).unwrap_err()[0].contains("unconfined"));
    }

    #[test]
    fn a_named_user_must_not_be_root() {
        let mut e = expect();
        e.user = Some("app".into());
        let mut o = observed();
        o.uid = Some(0);
        assert!(compare(&e, &o, false).is_err());
        o.uid = Some(10001);
        assert!(compare(&e, &o, false).is_ok());
    }

    #[test]
    fn mountinfo_root() {
        assert_eq!(root_read_only(MOUNTINFO), Some(true));
        assert_eq!(root_read_only("1 0 0:1 / / rw,relatime - overlay overlay rw\n"), Some(false));
        assert_eq!(root_read_only(""), None);
    }
}
