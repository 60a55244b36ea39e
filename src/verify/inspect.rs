//! The fallback when the kernel cannot be read (a remote daemon, or hardrun's init
//! could not be mounted): what the daemon recorded for the container, as `docker
//! inspect` shows it, against what hardrun sent and the plan. Every difference it can
//! see fails, and what it proves is said to come from the daemon, not the kernel.

use bollard::models::{ContainerCreateBody, ContainerInspectResponse, HostConfig};

use super::mounts::PlannedMount;
use crate::capability::Capability;
use crate::plan::Expectation;

/// `Ok` is the verified line, `Err` every difference.
pub fn judge(
    c: &ContainerInspectResponse,
    sent: &ContainerCreateBody,
    expect: &Expectation,
    planned: &[PlannedMount],
) -> Result<String, Vec<String>> {
    let mut diffs = Vec::new();
    let mut ok = Vec::new();
    let hc = c.host_config.clone().unwrap_or_default();
    let sent_hc = sent.host_config.clone().unwrap_or_default();

    if hc.privileged == Some(true) {
        diffs.push("Privileged is true: every capability and device, no seccomp or AppArmor".into());
    }
    capabilities(&hc, expect, &mut diffs, &mut ok);
    security_opts(c, &hc, &sent_hc, expect, &mut diffs, &mut ok);
    if expect.read_only_root {
        match hc.readonly_rootfs {
            Some(true) => ok.push("read-only root".into()),
            _ => diffs.push("ReadonlyRootfs is false (the plan has a read-only root)".into()),
        }
    }
    let user = c.config.as_ref().and_then(|c| c.user.clone()).unwrap_or_default();
    let sent_user = sent.user.clone().unwrap_or_default();
    if user == sent_user {
        ok.push(format!("user {}", if user.is_empty() { "(image's)" } else { &user }));
    } else {
        diffs.push(format!("User is {user:?}, hardrun sent {sent_user:?}"));
    }
    namespaces(&hc, &sent_hc, &mut diffs, &mut ok);
    if hc.devices.as_ref().is_some_and(|d| !d.is_empty())
        || hc.device_cgroup_rules.as_ref().is_some_and(|d| !d.is_empty())
    {
        diffs.push("the container has host devices".into());
    }
    if hc.masked_paths.as_ref().is_some_and(|p| p.is_empty())
        || hc.readonly_paths.as_ref().is_some_and(|p| p.is_empty())
    {
        diffs.push("/proc and /sys paths are not masked (systempaths=unconfined)".into());
    }
    mounts(c, &hc, &sent_hc, planned, &mut diffs, &mut ok);
    if diffs.is_empty() { Ok(ok.join(", ")) } else { Err(diffs) }
}

fn normal(cap: &str) -> String {
    Capability::parse(cap).map(|c| c.name().to_string()).unwrap_or_else(|_| cap.to_ascii_uppercase())
}

fn capabilities(hc: &HostConfig, expect: &Expectation, diffs: &mut Vec<String>, ok: &mut Vec<String>) {
    let dropped_all = hc.cap_drop.iter().flatten().any(|c| normal(c) == "ALL");
    if !dropped_all {
        diffs.push("CapDrop lacks ALL: the daemon's default capabilities stay".into());
    }
    let added: Vec<String> = hc.cap_add.iter().flatten().map(|c| normal(c)).collect();
    let beyond: Vec<&String> = added.iter().filter(|c| !expect.capabilities.contains(c)).collect();
    if !beyond.is_empty() {
        diffs.push(format!(
            "CapAdd has {} beyond the plan's {}",
            beyond.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(","),
            if expect.capabilities.is_empty() { "none".into() } else { expect.capabilities.join(",") }
        ));
    }
    if dropped_all && beyond.is_empty() {
        ok.push(format!(
            "capabilities drop ALL, add {}",
            if added.is_empty() { "none".into() } else { added.join(",") }
        ));
    }
}

/// `key=value` or `key:value` (docker accepts both), the value of the last one.
fn opt<'a>(opts: &'a [String], key: &str) -> Option<&'a str> {
    opts.iter()
        .rev()
        .find_map(|o| o.strip_prefix(key).and_then(|r| r.strip_prefix(['=', ':'])).or((o == key).then_some("")))
}

fn security_opts(
    c: &ContainerInspectResponse,
    hc: &HostConfig,
    sent: &HostConfig,
    expect: &Expectation,
    diffs: &mut Vec<String>,
    ok: &mut Vec<String>,
) {
    let opts = hc.security_opt.clone().unwrap_or_default();
    let sent_opts = sent.security_opt.clone().unwrap_or_default();
    if expect.no_new_privileges {
        match opt(&opts, "no-new-privileges") {
            Some("" | "true") => ok.push("no-new-privileges".into()),
            _ => diffs.push("SecurityOpt lacks no-new-privileges".into()),
        }
    }
    if expect.seccomp {
        match (opt(&opts, "seccomp"), opt(&sent_opts, "seccomp")) {
            (Some("unconfined"), _) | (None, _) => diffs.push("SecurityOpt has no seccomp profile".into()),
            (Some(got), Some(want)) if got != want => {
                diffs.push("the seccomp profile is not the one hardrun sent".into())
            }
            _ => ok.push("seccomp profile as sent".into()),
        }
    }
    if let Some(name) = &expect.apparmor {
        match c.app_armor_profile.as_deref() {
            Some(p) if p == name => ok.push(format!("apparmor {name}")),
            other => diffs.push(format!("AppArmorProfile is {:?}, the plan has {name}", other.unwrap_or(""))),
        }
    }
    if opt(&opts, "label") == Some("disable") {
        diffs.push("SecurityOpt has label=disable".into());
    }
}

fn namespaces(hc: &HostConfig, sent: &HostConfig, diffs: &mut Vec<String>, ok: &mut Vec<String>) {
    let text = |v: Option<&str>| v.unwrap_or("").to_string();
    let cgroupns = |h: &HostConfig| h.cgroupns_mode.map(|m| m.to_string()).unwrap_or_default();
    let modes = [
        ("PidMode", text(hc.pid_mode.as_deref()), text(sent.pid_mode.as_deref())),
        ("IpcMode", text(hc.ipc_mode.as_deref()), text(sent.ipc_mode.as_deref())),
        ("UTSMode", text(hc.uts_mode.as_deref()), text(sent.uts_mode.as_deref())),
        ("UsernsMode", text(hc.userns_mode.as_deref()), text(sent.userns_mode.as_deref())),
        ("CgroupnsMode", cgroupns(hc), cgroupns(sent)),
        ("NetworkMode", text(hc.network_mode.as_deref()), text(sent.network_mode.as_deref())),
    ];
    let mut all = true;
    for (name, got, want) in modes {
        let shared = got == "host" || got.starts_with("container:");
        if shared || got != want {
            all = false;
            diffs.push(format!("{name} is {got:?}, hardrun sent {want:?}"));
        }
    }
    if all {
        ok.push("namespaces as sent".into());
    }
}

fn mounts(
    c: &ContainerInspectResponse,
    hc: &HostConfig,
    sent: &HostConfig,
    planned: &[PlannedMount],
    diffs: &mut Vec<String>,
    ok: &mut Vec<String>,
) {
    let before = diffs.len();
    let listed = c.mounts.clone().unwrap_or_default();
    for m in &listed {
        let dest = m.destination.clone().unwrap_or_default();
        let Some(p) = planned.iter().find(|p| p.target() == dest) else {
            diffs.push(format!("a mount at {dest} ({}) is not in the plan", m.source.as_deref().unwrap_or("")));
            continue;
        };
        let kind = m.typ.as_deref().unwrap_or("");
        let wrong = match p {
            PlannedMount::Bind { source, read_only, .. } => (kind != "bind" || m.source.as_deref() != source.to_str())
                .then(|| format!("{dest} binds {:?}, the plan {}", m.source.as_deref().unwrap_or(""), source.display()))
                .or_else(|| {
                    (*read_only && m.rw == Some(true)).then(|| format!("{dest} is writable, the plan has it read-only"))
                }),
            PlannedMount::Volume { name: Some(name), .. } => (kind != "volume"
                || m.name.as_deref() != Some(name.as_str()))
            .then(|| format!("{dest} is not volume {name}")),
            PlannedMount::Volume { name: None, .. } | PlannedMount::Filesystem { .. } => {
                (kind != "volume").then(|| format!("{dest} is a {kind} mount, the plan has a volume"))
            }
            PlannedMount::Tmpfs { .. } => {
                (kind != "tmpfs").then(|| format!("{dest} is a {kind} mount, the plan has a tmpfs"))
            }
            PlannedMount::Any { .. } => None,
        };
        diffs.extend(wrong);
    }
    for p in planned {
        // --tmpfs mounts are not among inspect's Mounts; they are compared below.
        let tmpfs_flag =
            matches!(p, PlannedMount::Tmpfs { .. }) && hc.tmpfs.as_ref().is_some_and(|t| t.contains_key(p.target()));
        if !tmpfs_flag && !listed.iter().any(|m| m.destination.as_deref() == Some(p.target())) {
            diffs.push(format!("the planned mount at {} is missing", p.target()));
        }
    }
    if hc.tmpfs != sent.tmpfs {
        diffs.push("Tmpfs differs from what hardrun sent".into());
    }
    if diffs.len() == before {
        ok.push("mounts as planned".into());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bollard::models::{ContainerConfig, HostConfigCgroupnsModeEnum, MountPoint};

    fn sent() -> ContainerCreateBody {
        ContainerCreateBody {
            user: Some("65532:65532".into()),
            host_config: Some(HostConfig {
                privileged: Some(false),
                cap_drop: Some(vec!["ALL".into()]),
                cap_add: Some(vec!["CAP_NET_BIND_SERVICE".into()]),
                security_opt: Some(vec!["no-new-privileges".into(), "seccomp={\"x\":1}".into()]),
                readonly_rootfs: Some(true),
                ipc_mode: Some("private".into()),
                cgroupns_mode: Some(HostConfigCgroupnsModeEnum::PRIVATE),
                network_mode: Some("hardrun".into()),
                masked_paths: None,
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn inspected(body: &ContainerCreateBody) -> ContainerInspectResponse {
        ContainerInspectResponse {
            config: Some(ContainerConfig { user: body.user.clone(), ..Default::default() }),
            host_config: body.host_config.clone(),
            mounts: Some(vec![MountPoint {
                typ: Some("bind".into()),
                source: Some("/srv/app/data".into()),
                destination: Some("/data".into()),
                rw: Some(true),
                ..Default::default()
            }]),
            ..Default::default()
        }
    }

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

    fn planned() -> Vec<PlannedMount> {
        vec![PlannedMount::Bind {
            target: "/data".into(),
            source: "/srv/app/data".into(),
            read_only: false,
            recursive: true,
        }]
    }

    #[test]
    fn what_was_sent_passes_and_says_where_it_comes_from() {
        let s = sent();
        let line = judge(&inspected(&s), &s, &expect(), &planned()).unwrap();
        assert_eq!(
            line,
            "capabilities drop ALL, add NET_BIND_SERVICE, no-new-privileges, seccomp profile as sent, read-only root, \
             user 65532:65532, namespaces as sent, mounts as planned"
        );
    }

    #[test]
    fn a_privileged_container_without_capdrop_fails_on_everything_visible() {
        let s = sent();
        let mut c = inspected(&s);
        let hc = c.host_config.as_mut().unwrap();
        hc.privileged = Some(true);
        hc.cap_drop = None;
        hc.cap_add = Some(vec!["SYS_ADMIN".into()]);
        hc.security_opt = Some(vec!["seccomp=unconfined".into(), "label=disable".into()]);
        hc.readonly_rootfs = Some(false);
        hc.pid_mode = Some("host".into());
        hc.masked_paths = Some(vec![]);
        c.config.as_mut().unwrap().user = Some("0".into());
        c.mounts.as_mut().unwrap().push(MountPoint {
            typ: Some("bind".into()),
            source: Some("/".into()),
            destination: Some("/host".into()),
            ..Default::default()
        });
        let diffs = judge(&c, &s, &expect(), &planned()).unwrap_err();
        for want in [
            "Privileged is true",
            "CapDrop lacks ALL",
            "CapAdd has SYS_ADMIN",
            "SecurityOpt lacks no-new-privileges",
            "SecurityOpt has no seccomp profile",
            "SecurityOpt has label=disable",
            "ReadonlyRootfs is false",
            "User is \"0\"",
            "PidMode is \"host\"",
            "systempaths=unconfined",
            "a mount at /host (/) is not in the plan",
        ] {
            assert!(diffs.iter().any(|d| d.contains(want)), "{want:?} not in {diffs:?}");
        }
    }

    #[test]
    fn a_bind_of_another_source_is_a_difference() {
        let s = sent();
        let mut c = inspected(&s);
        c.mounts.as_mut().unwrap()[0].source = Some("/".into());
        let diffs = judge(&c, &s, &expect(), &planned()).unwrap_err();
        assert_eq!(diffs, ["/data binds \"/\", the plan /srv/app/data"]);
    }
}
