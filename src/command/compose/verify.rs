//! After `compose up`: what the kernel shows for each started container's first process,
//! read from this host (/proc/PID/status, mountinfo, the AppArmor label), against its
//! service's plan: capabilities, no-new-privileges, seccomp, uid and gid, a read-only
//! root. Compose starts the containers, so this is read once they run; `hardrun run`
//! proves the same inside the container before the command starts.

use std::path::Path;

use anyhow::Result;

use crate::capability::Capability;
use crate::engine::Engine;
use crate::plan::Expectation;
use crate::request::user::UserSpec;

/// What one container turned out to be.
pub enum Outcome {
    /// Every control as planned: one line saying what was read.
    Verified(String),
    /// Nothing could be read (it already exited, or the daemon is on another machine).
    Unchecked(String),
    /// What differs.
    Differs(Vec<String>),
}

/// The kernel's view of a process.
#[derive(Debug, Default, PartialEq, Eq)]
struct Observed {
    cap_eff: Option<u64>,
    cap_bnd: Option<u64>,
    no_new_privs: Option<bool>,
    seccomp: Option<u8>,
    uid: Option<u32>,
    gid: Option<u32>,
    root_read_only: Option<bool>,
    apparmor: Option<String>,
}

/// Checks container `id` against `expect`.
pub async fn container(engine: &Engine, id: &str, expect: &Expectation, apparmor_on_host: bool) -> Result<Outcome> {
    if !engine.endpoint.is_local() {
        return Ok(Outcome::Unchecked("the daemon is not on this machine, so its kernel cannot be read".into()));
    }
    let inspected = engine.inspect_containers(&[id.to_string()]).await?;
    let pid = inspected.first().and_then(|c| c.state.as_ref()).and_then(|s| s.pid).unwrap_or(0);
    // Just after start the runtime may still be finishing the set-up: a real
    // difference persists.
    let mut outcome = Outcome::Unchecked("it exited before it could be read".into());
    for _ in 0..40 {
        let Some(observed) = (pid > 0).then(|| read(pid, id)).flatten() else {
            return Ok(Outcome::Unchecked("it exited before it could be read".into()));
        };
        outcome = compare(expect, &observed, apparmor_on_host);
        if matches!(outcome, Outcome::Verified(_)) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    Ok(outcome)
}

/// The process `pid`, provided its cgroup names the container (a recycled PID is not).
fn read(pid: i64, id: &str) -> Option<Observed> {
    let dir = Path::new("/proc").join(pid.to_string());
    if !std::fs::read_to_string(dir.join("cgroup")).ok()?.contains(id) {
        return None;
    }
    let mut o = Observed::default();
    for line in std::fs::read_to_string(dir.join("status")).ok()?.lines() {
        let Some((key, value)) = line.split_once(':') else { continue };
        let value = value.trim();
        // Real, effective, saved, filesystem: the effective one decides.
        let effective = || value.split_whitespace().nth(1).and_then(|v| v.parse().ok());
        match key {
            "CapEff" => o.cap_eff = u64::from_str_radix(value, 16).ok(),
            "CapBnd" => o.cap_bnd = u64::from_str_radix(value, 16).ok(),
            "NoNewPrivs" => o.no_new_privs = Some(value == "1"),
            "Seccomp" => o.seccomp = value.parse().ok(),
            "Uid" => o.uid = effective(),
            "Gid" => o.gid = effective(),
            _ => {}
        }
    }
    // mountinfo: id parent major:minor root mount-point options...; the last "/" wins.
    o.root_read_only = std::fs::read_to_string(dir.join("mountinfo")).ok().and_then(|m| {
        m.lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                (f.get(4) == Some(&"/")).then(|| f.get(5).is_some_and(|o| o.split(',').any(|x| x == "ro")))
            })
            .next_back()
    });
    o.apparmor = std::fs::read_to_string(dir.join("attr/apparmor/current"))
        .or_else(|_| std::fs::read_to_string(dir.join("attr/current")))
        .ok()
        .map(|s| s.trim_end_matches(['\n', '\0']).to_string());
    Some(o)
}

fn compare(expect: &Expectation, o: &Observed, apparmor_on_host: bool) -> Outcome {
    let mut diffs = Vec::new();
    let mut seen = Vec::new();
    let allowed = expect
        .capabilities
        .iter()
        .filter_map(|c| Capability::parse(c).ok()?.bit())
        .fold(0u64, |mask, bit| mask | (1 << bit));
    for (name, value) in [("effective", o.cap_eff), ("bounding", o.cap_bnd)] {
        match value {
            Some(v) if v & !allowed == 0 => {}
            Some(v) => diffs.push(format!("{name} capabilities {v:016x}, the plan allows {allowed:016x}")),
            None => diffs.push(format!("{name} capabilities unreadable")),
        }
    }
    seen.push(if allowed == 0 { "no capabilities".to_string() } else { expect.capabilities.join(",") });
    if expect.no_new_privileges {
        match o.no_new_privs {
            Some(true) => seen.push("no-new-privileges".into()),
            _ => diffs.push("no-new-privileges is off".into()),
        }
    }
    if expect.seccomp {
        match o.seccomp {
            Some(2) => seen.push("seccomp filter".into()),
            other => diffs.push(format!("seccomp mode {} (2, a filter, planned)", other.unwrap_or(0))),
        }
    }
    if let Some(u) = expect.user.as_deref().and_then(|u| UserSpec::parse(u).ok()) {
        if let (Some(want), Some(got)) = (u.uid(), o.uid) {
            if want == got { seen.push(format!("uid {got}")) } else { diffs.push(format!("uid {got}, planned {want}")) }
        }
        if let (Some(want), Some(got)) = (u.gid(), o.gid)
            && want != got
        {
            diffs.push(format!("gid {got}, planned {want}"));
        }
    }
    if expect.read_only_root {
        match o.root_read_only {
            Some(true) => seen.push("read-only root".into()),
            _ => diffs.push("the root filesystem is writable".into()),
        }
    }
    if let (Some(want), true) = (&expect.apparmor, apparmor_on_host) {
        match o.apparmor.as_deref() {
            Some(label) if label.starts_with(want.as_str()) => seen.push(format!("apparmor {want}")),
            other => diffs.push(format!("AppArmor label {:?}, planned {want}", other.unwrap_or(""))),
        }
    }
    if diffs.is_empty() { Outcome::Verified(seen.join(", ")) } else { Outcome::Differs(diffs) }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        Observed {
            cap_eff: Some(1 << 10),
            cap_bnd: Some(1 << 10),
            no_new_privs: Some(true),
            seccomp: Some(2),
            uid: Some(65532),
            gid: Some(65532),
            root_read_only: Some(true),
            apparmor: None,
        }
    }

    #[test]
    fn as_planned_or_every_difference() {
        assert!(matches!(compare(&expect(), &observed(), false), Outcome::Verified(_)));
        let loose = Observed {
            cap_bnd: Some(0xffff),
            no_new_privs: Some(false),
            seccomp: Some(0),
            uid: Some(0),
            root_read_only: Some(false),
            ..observed()
        };
        let Outcome::Differs(d) = compare(&expect(), &loose, false) else { panic!("differs") };
        assert_eq!(d.len(), 5, "{d:?}");
    }
}
