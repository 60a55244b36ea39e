//! The audit rules: one container's inspect output, the profile and the daemon's setup
//! in, findings out, in CIS Docker Benchmark v1.6 section 5 terms. No I/O.

use std::path::{Path, PathBuf};

use bollard::models::{ContainerInspectResponse, HostConfig};
use serde::Serialize;

use crate::capability::Capability;
use crate::engine::inspect::DaemonSetup;
use crate::policy::host_paths::{RUNTIME_SOCKETS, exposed_system_path, exposes_runtime_socket};
use crate::policy::{Refusal, isolation};
use crate::profile::Profile;
use crate::request::size::format_bytes;
use crate::request::{
    MountKind, NamespaceKind, NamespaceMode, NetworkAttachment, NetworkMode, SeccompChoice, SecurityOpt, UserSpec,
    format_cpus, gobool,
};

/// One thing a container does that the profile (or the benchmark) does not accept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The CIS Docker Benchmark v1.6 recommendation (`5.4`); `None` for hardrun's own.
    pub cis: Option<&'static str>,
    /// A short, stable name (`privileged`).
    pub check: &'static str,
    /// What the container does, in `docker inspect` terms.
    pub detail: String,
    pub why: String,
    pub fix: String,
    /// The profile key that would accept it, when a profile can.
    pub profile_key: Option<String>,
    /// Reported for information only: the user's choice, not a failure.
    pub informational: bool,
}

impl Finding {
    fn new(cis: &'static str, check: &'static str, detail: String, why: impl Into<String>, fix: &str) -> Finding {
        Finding {
            cis: Some(cis),
            check,
            detail,
            why: why.into(),
            fix: fix.into(),
            profile_key: None,
            informational: false,
        }
    }

    fn unless(mut self, key: &str) -> Finding {
        self.profile_key = Some(key.into());
        self
    }

    /// Orders by benchmark number (5.4 before 5.10); hardrun's own last.
    fn order(&self) -> (u32, u32) {
        let n = |s: &str| s.parse().unwrap_or(u32::MAX);
        match self.cis.and_then(|c| c.split_once('.')) {
            Some((a, b)) => (n(a), n(b)),
            None => (u32::MAX, 0),
        }
    }
}

/// Everything `c` does that `profile` would not accept on this daemon.
pub fn findings(c: &ContainerInspectResponse, profile: &Profile, daemon: &DaemonSetup) -> Vec<Finding> {
    let hc = c.host_config.clone().unwrap_or_default();
    let mut a = Audit { c, hc, profile, daemon, out: Vec::new() };
    a.privileges();
    a.namespaces();
    a.mounts();
    a.ports();
    a.limits();
    a.health();
    a.user();
    a.out.sort_by_key(Finding::order);
    a.out
}

struct Audit<'a> {
    c: &'a ContainerInspectResponse,
    hc: HostConfig,
    profile: &'a Profile,
    daemon: &'a DaemonSetup,
    out: Vec<Finding>,
}

/// `key=value` (or the older `key:value`) of a `SecurityOpt` entry.
pub(super) fn security_opt(opt: &str) -> (&str, Option<&str>) {
    match opt.find(['=', ':']) {
        Some(i) => (&opt[..i], Some(&opt[i + 1..])),
        None => (opt, None),
    }
}

impl Audit<'_> {
    fn push(&mut self, f: Finding) {
        self.out.push(f);
    }

    fn security_opts(&self) -> impl Iterator<Item = (&str, Option<&str>)> {
        self.hc.security_opt.iter().flatten().map(|o| security_opt(o))
    }

    fn privileges(&mut self) {
        if self.hc.privileged == Some(true) {
            self.push(Finding::new(
                "5.4",
                "privileged",
                "HostConfig.Privileged is true".into(),
                "it hands the container every capability and every host device and turns off seccomp and AppArmor",
                "recreate it without --privileged, adding only the capability the service needs (--cap-add)",
            ));
        }
        self.capabilities();
        if self.daemon.facts.apparmor {
            let p = self.c.app_armor_profile.as_deref().unwrap_or_default();
            if p.is_empty() || p == "unconfined" {
                self.push(Finding::new(
                    "5.1",
                    "apparmor",
                    format!("AppArmorProfile is {}", if p.is_empty() { "empty" } else { p }),
                    "nothing stops the container's mounts and writes to /proc and /sys, though this host has AppArmor",
                    "recreate it with hardrun (its AppArmor profile) or --security-opt apparmor=docker-default",
                ));
            }
        }
        let unconfined = SecurityOpt::Seccomp(SeccompChoice::Unconfined);
        if self.hc.security_opt.iter().flatten().any(|o| SecurityOpt::parse(o).as_ref() == Ok(&unconfined)) {
            self.push(Finding::new(
                "5.21",
                "seccomp",
                "SecurityOpt has seccomp=unconfined".into(),
                "without seccomp every kernel system call is open to the container, and kernel exploits with them",
                "recreate it without seccomp=unconfined; hardrun sends its own profile",
            ));
        }
        self.no_new_privileges();
        if let Some(parent) = self.hc.cgroup_parent.clone().filter(|p| !p.is_empty())
            && !self.profile.allow_flags.iter().any(|f| f == "cgroup-parent")
        {
            self.push(
                Finding::new(
                    "5.24",
                    "cgroup-parent",
                    format!("CgroupParent is {parent}"),
                    "another parent cgroup can carry other limits than the container's own, or none",
                    "recreate it without --cgroup-parent, in docker's own cgroup",
                )
                .unless("allow_flags: [cgroup-parent]"),
            );
        }
    }

    fn capabilities(&mut self) {
        let drops_all = self.hc.cap_drop.iter().flatten().any(|c| Capability::parse(c) == Ok(Capability::All));
        if !drops_all {
            self.push(Finding::new(
                "5.3",
                "capabilities",
                "CapDrop lacks ALL, so docker's default capabilities (CHOWN, DAC_OVERRIDE, NET_RAW, SETUID...) stay"
                    .into(),
                "root in a container with default capabilities can do far more than a service needs",
                "recreate it with --cap-drop ALL and --cap-add for only what the service needs (hardrun does this)",
            ));
        }
        let caps = &self.profile.capabilities;
        let (mut host_root, mut not_allowed) = (Vec::new(), Vec::new());
        for name in self.hc.cap_add.iter().flatten() {
            match Capability::parse(name) {
                Ok(c) if c.is_host_root() => host_root.push(c.name().to_string()),
                Ok(c) if caps.add.contains(&c) || caps.allow.contains(&c) => {}
                Ok(c) => not_allowed.push(c.name().to_string()),
                Err(_) => not_allowed.push(name.clone()),
            }
        }
        if !host_root.is_empty() {
            self.push(Finding::new(
                "5.3",
                "capabilities",
                format!("CapAdd has {}", host_root.join(", ")),
                "these let a process escape the container or control the host kernel",
                "recreate it without them; find the narrower capability or the host-side setup that gives what is needed",
            ));
        }
        if !not_allowed.is_empty() {
            self.push(
                Finding::new(
                    "5.3",
                    "capabilities",
                    format!("CapAdd has {}", not_allowed.join(", ")),
                    "this profile neither grants these nor lets --cap-add add them",
                    "recreate it without them, unless the service really needs them",
                )
                .unless("capabilities.allow"),
            );
        }
    }

    fn no_new_privileges(&mut self) {
        if !self.profile.no_new_privileges {
            return;
        }
        // The last entry wins, as in the daemon; a bare key means on.
        let explicit = self
            .security_opts()
            .filter(|(k, _)| *k == "no-new-privileges")
            .map(|(_, v)| v.map_or(Some(true), gobool::parse))
            .last()
            .flatten();
        let detail = match (explicit, self.daemon.no_new_privileges) {
            (Some(true), _) | (None, Some(true)) => return,
            (Some(false), _) => "SecurityOpt has no-new-privileges=false",
            (None, Some(false)) => "SecurityOpt has no no-new-privileges, and the daemon does not set it by default",
            (None, None) => "SecurityOpt has no no-new-privileges (the daemon's default is unknown from here)",
        };
        self.push(
            Finding::new(
                "5.25",
                "no-new-privileges",
                detail.into(),
                "setuid programs can regain the privileges that were dropped",
                "recreate it with --security-opt no-new-privileges (or set \"no-new-privileges\": true in daemon.json)",
            )
            .unless("no_new_privileges"),
        );
    }

    fn namespaces(&mut self) {
        let hc = self.hc.clone();
        let net = hc.network_mode.clone().unwrap_or_default();
        let network = NetworkAttachment { name: net.clone(), ..Default::default() };
        match network.mode() {
            NetworkMode::Host => self.push(Finding::new(
                "5.9",
                "host-network",
                "NetworkMode is host".into(),
                "host networking removes network isolation: the container can reach every host port and interface",
                "recreate it on a user-defined network and publish what it serves with -p 127.0.0.1:PORT:PORT",
            )),
            NetworkMode::Container(other) => self.push(Finding::new(
                "5.9",
                "shared-network",
                format!("NetworkMode is {}", network.name),
                format!("it shares container {other}'s network namespace, so a break-in in one reaches both"),
                "put both containers on a user-defined network (docker network create NET; --network NET)",
            )),
            NetworkMode::Bridge | NetworkMode::None | NetworkMode::User(_) => {}
        }
        let cgroupns = hc.cgroupns_mode.map(|m| m.to_string()).unwrap_or_default();
        let modes = [
            (NamespaceKind::Pid, hc.pid_mode.clone(), Some("5.15"), "PidMode"),
            (NamespaceKind::Ipc, hc.ipc_mode.clone(), Some("5.16"), "IpcMode"),
            (NamespaceKind::Uts, hc.uts_mode.clone(), Some("5.20"), "UTSMode"),
            (NamespaceKind::User, hc.userns_mode.clone(), Some("5.30"), "UsernsMode"),
            (NamespaceKind::Cgroup, Some(cgroupns), None, "CgroupnsMode"),
        ];
        for (kind, value, cis, field) in modes {
            let value = value.unwrap_or_default();
            // The one judgement of namespace modes is policy's.
            let (refusal, host) = match NamespaceMode::parse(kind, &value) {
                Ok(mode) => (isolation::namespace_refusal(kind, &mode), mode.is_host()),
                Err(e) => (Some(Refusal::never(value.clone(), e, "recreate it with a mode docker documents")), false),
            };
            let Some(r) = refusal else { continue };
            let check = namespace_check(kind, host);
            let why = match (kind, host) {
                (NamespaceKind::User, true) if self.daemon.facts.userns => {
                    "it opts out of the daemon's userns-remap, so root in it is root on the host".to_string()
                }
                (NamespaceKind::User, true) => {
                    "it opts out of user-namespace remapping (off on this daemon anyway: see hardrun doctor)"
                        .to_string()
                }
                _ => r.why,
            };
            let mut f = Finding::new(cis.unwrap_or("-"), check, format!("{field} is {value}"), why, "");
            f.cis = cis;
            f.fix = format!("recreate it without {}: {}", kind.flag(), r.fix);
            self.push(f);
        }
        if net.is_empty() || net == "default" || net == "bridge" {
            let mut why = "docker0 is shared by every container started without a network".to_string();
            if self.daemon.icc != Some(false) {
                why.push_str(", and with icc on they can all reach each other's ports");
            }
            let mut f = Finding::new(
                "5.29",
                "default-bridge",
                format!("NetworkMode is {}", if net.is_empty() { "default" } else { &net }),
                why,
                "recreate it on a user-defined network (docker network create NET; --network NET)",
            );
            if !self.profile.network.allow.iter().any(|a| a == "bridge") {
                f = f.unless("network.allow");
            }
            self.push(f);
        }
    }

    /// The daemon's sockets as this host has them: the usual places and the one hardrun uses.
    fn daemon_sockets(&self) -> Vec<PathBuf> {
        let mut out: Vec<PathBuf> = crate::host::DAEMON_SOCKETS.iter().map(PathBuf::from).collect();
        out.extend(self.daemon.socket.as_ref().map(|s| s.path.clone()));
        out.extend(self.daemon.host.strip_prefix("unix://").map(PathBuf::from));
        out
    }

    fn mounts(&mut self) {
        let sockets = self.daemon_sockets();
        for m in self.c.mounts.clone().unwrap_or_default() {
            let source = m.source.clone().unwrap_or_default();
            let dest = m.destination.clone().unwrap_or_default();
            let writable = if m.rw == Some(false) { "read-only" } else { "writable" };
            let propagation = m.propagation.clone().unwrap_or_default();
            if matches!(propagation.as_str(), "shared" | "rshared") && !self.profile.filesystem.binds_propagation {
                self.push(
                    Finding::new(
                        "5.19",
                        "mount-propagation",
                        format!("{source} is mounted at {dest} with {propagation} propagation"),
                        format!("{propagation} propagation carries mounts between the container and the host"),
                        "recreate it with the default (rprivate) propagation",
                    )
                    .unless("filesystem.binds.propagation"),
                );
            }
            if m.typ.as_deref().and_then(MountKind::parse) != Some(MountKind::Bind) || source.is_empty() {
                continue;
            }
            let path = Path::new(&source);
            // The same judgement as a run's binds (policy's), on the path the daemon reports.
            let is_socket = sockets.iter().any(|s| s == path)
                || path.file_name().is_some_and(|n| RUNTIME_SOCKETS.iter().any(|s| n == *s));
            if exposes_runtime_socket(path, path, &sockets) {
                self.push(Finding::new(
                    "5.31",
                    "docker-socket",
                    format!("{source} is bound at {dest} ({writable}), giving the container the daemon's socket"),
                    "the Docker API lets the container start a privileged container, which is root on the host",
                    "recreate it without that bind; give it what it needs from Docker through a narrow proxy",
                ));
            }
            // The socket itself is 5.31's; a system folder around it is both.
            if !is_socket && let Some(sys) = exposed_system_path(path) {
                self.push(Finding::new(
                    "5.5",
                    "host-system-path",
                    format!("{source} is bound at {dest} ({writable})"),
                    format!("it exposes the host's {sys} to the container"),
                    "recreate it binding only the project folder the service needs, or a named volume",
                ));
            }
        }
        let hc = &self.hc;
        let mut devices: Vec<String> = hc
            .devices
            .iter()
            .flatten()
            .map(|d| {
                let host = d.path_on_host.clone().unwrap_or_default();
                let inside = d.path_in_container.clone().unwrap_or_default();
                format!("{host}:{inside}")
            })
            .collect();
        devices.extend(hc.device_cgroup_rules.iter().flatten().map(|r| format!("cgroup rule {r}")));
        if hc.device_requests.as_ref().is_some_and(|r| !r.is_empty()) {
            devices.push("device requests (GPUs)".into());
        }
        if !devices.is_empty() {
            self.push(Finding::new(
                "5.17",
                "host-devices",
                format!("Devices: {}", devices.join(", ")),
                "a host device inside the container bypasses the filesystem isolation (disks, memory, kernel interfaces)",
                "recreate it without --device; expose what the device provides through a service or a file",
            ));
        }
        if self.hc.readonly_rootfs != Some(true) && self.profile.filesystem.read_only {
            self.push(
                Finding::new(
                    "5.12",
                    "writable-root",
                    "ReadonlyRootfs is false".into(),
                    "an attacker can change the container's programs and keep tools in it",
                    "recreate it with --read-only and --tmpfs for the paths the service writes",
                )
                .unless("filesystem.read_only"),
            );
        }
    }

    fn ports(&mut self) {
        let mut bindings: Vec<(String, String, String)> = Vec::new();
        for (port, list) in self.hc.port_bindings.iter().flatten() {
            for b in list.iter().flatten() {
                let ip = b.host_ip.clone().unwrap_or_default();
                bindings.push((port.clone(), ip, b.host_port.clone().unwrap_or_default()));
            }
        }
        bindings.sort();
        let shown = |(port, ip, host): &(String, String, String)| {
            let ip = if ip.is_empty() { "0.0.0.0" } else { ip };
            format!("{port} on {ip}:{}", if host.is_empty() { "*" } else { host })
        };
        let low: Vec<String> = bindings
            .iter()
            .filter(|(_, _, h)| h.parse::<u16>().is_ok_and(|p| (1..1024).contains(&p)))
            .map(shown)
            .collect();
        if !low.is_empty() {
            self.push(Finding::new(
                "5.7",
                "privileged-port",
                format!("publishes {}", low.join(", ")),
                "host ports below 1024 belong to the host's privileged services; a container there can stand in for one",
                "publish on a port of 1024 or above (-p 8080:80), with a proxy in front if the low port is needed",
            ));
        }
        let all_interfaces = |ip: &str| matches!(ip, "" | "0.0.0.0" | "::");
        let mut open: Vec<String> = bindings.iter().filter(|(_, ip, _)| all_interfaces(ip)).map(shown).collect();
        let publish_all = self.hc.publish_all_ports == Some(true);
        if publish_all {
            open.push("every exposed port (PublishAllPorts)".into());
        }
        if !open.is_empty() {
            self.push(Finding::new(
                "5.13",
                "all-interfaces",
                format!("publishes {}", open.join(", ")),
                "the service is reachable from every network the host is on, not only the one it serves",
                "publish on one address: -p 127.0.0.1:PORT:PORT (or the interface that serves it)",
            ));
        }
        if (!bindings.is_empty() || publish_all) && !self.profile.network.publish {
            self.push(
                Finding::new(
                    "5.8",
                    "published-ports",
                    format!("publishes {}", bindings.iter().map(shown).collect::<Vec<_>>().join(", ")),
                    "this profile keeps containers unreachable from outside",
                    "recreate it without -p; reach the service from another container on a user-defined network",
                )
                .unless("network.publish"),
            );
        }
    }

    fn limits(&mut self) {
        let res = &self.profile.resources;
        let hc = &self.hc;
        let mut found = Vec::new();
        let memory = hc.memory.unwrap_or(0);
        if memory <= 0 && !res.memory.allows_unlimited() {
            found.push(
                Finding::new(
                    "5.10",
                    "memory",
                    "Memory is 0 (no limit)".into(),
                    "one container can take all host memory",
                    "recreate it with --memory (hardrun sets the profile's default)",
                )
                .unless("resources.memory.max"),
            );
        } else if memory > 0 && !res.memory.within(memory) {
            let max = format_bytes(res.memory.max.unwrap_or_default());
            found.push(over_ceiling("5.10", "memory", format!("Memory is {}", format_bytes(memory)), &max));
        }
        let period = hc.cpu_period.filter(|p| *p > 0).unwrap_or(100_000);
        let nanos = match (hc.nano_cpus.unwrap_or(0), hc.cpu_quota.unwrap_or(0)) {
            (n, _) if n > 0 => n,
            (_, q) if q > 0 => q.saturating_mul(1_000_000_000) / period,
            _ => 0,
        };
        let shares = hc.cpu_shares.unwrap_or(0);
        if nanos <= 0 && shares <= 0 && !res.cpus.allows_unlimited() {
            found.push(
                Finding::new(
                    "5.11",
                    "cpu",
                    "no NanoCpus, CpuQuota or CpuShares (no CPU limit)".into(),
                    "one container can take every CPU",
                    "recreate it with --cpus (hardrun sets the profile's default)",
                )
                .unless("resources.cpus.max"),
            );
        } else if nanos > 0 && !res.cpus.within(nanos) {
            let max = format_cpus(res.cpus.max.unwrap_or_default());
            found.push(over_ceiling("5.11", "cpu", format!("the CPU limit is {}", format_cpus(nanos)), &max));
        }
        match hc.pids_limit {
            None | Some(..=0) => found.push(Finding::new(
                "5.28",
                "pids",
                format!("PidsLimit is {} (no limit)", hc.pids_limit.map_or("unset".into(), |p| p.to_string())),
                "a fork bomb in the container takes the host down",
                "recreate it with --pids-limit (hardrun sets the profile's default)",
            )),
            Some(p) if !res.pids.within(p) => {
                let max = res.pids.max.unwrap_or_default().to_string();
                found.push(over_ceiling("5.28", "pids", format!("PidsLimit is {p}"), &max));
            }
            Some(_) => {}
        }
        let restart = hc.restart_policy.clone().unwrap_or_default();
        if restart.name.map(|n| n.to_string()).as_deref() == Some("on-failure") {
            let count = restart.maximum_retry_count.unwrap_or(0);
            if count <= 0 || count > 5 {
                let detail = if count <= 0 {
                    "RestartPolicy is on-failure with no retry limit".to_string()
                } else {
                    format!("RestartPolicy is on-failure:{count}")
                };
                found.push(Finding::new(
                    "5.14",
                    "restart",
                    detail,
                    "a container that keeps failing keeps restarting: the failure is hidden and each start is \
                     another try for an attacker",
                    "recreate it with --restart on-failure:5",
                ));
            }
        }
        self.out.extend(found);
    }

    fn health(&mut self) {
        let test = self.c.config.as_ref().and_then(|c| c.healthcheck.as_ref()).and_then(|h| h.test.clone());
        let none = test.as_deref().is_none_or(|t| t.is_empty() || t[0] == "NONE");
        if none {
            let mut f = Finding::new(
                "5.26",
                "health-check",
                "no health check".into(),
                "docker cannot tell a hung service from a working one; whether to add one is the user's choice",
                "add --health-cmd CMD (or HEALTHCHECK in the Dockerfile)",
            );
            f.informational = true;
            self.push(f);
        }
    }

    fn user(&mut self) {
        let user = self.c.config.as_ref().and_then(|c| c.user.clone()).unwrap_or_default();
        let root = user.trim().is_empty() || UserSpec::parse(user.trim()).is_ok_and(|u| u.is_root());
        if !root {
            return;
        }
        let d = &self.daemon.facts;
        let remapped = d.rootless || (d.userns && self.hc.userns_mode.as_deref() != Some("host"));
        if self.profile.user.allow_root && remapped {
            return;
        }
        let detail = if user.trim().is_empty() {
            "Config.User is empty (root)".to_string()
        } else {
            format!("Config.User is {user} (root)")
        };
        self.push(Finding {
            cis: None,
            check: "root",
            detail,
            why: "root in the container is root on the host kernel's terms: one escape and the host is lost".into(),
            fix: "recreate it with --user UID:GID, a non-root user (files the service writes must belong to it)".into(),
            profile_key: Some("user.allow_root (honoured only with a userns-remap or rootless daemon)".into()),
            informational: false,
        });
    }
}

fn over_ceiling(cis: &'static str, check: &'static str, detail: String, max: &str) -> Finding {
    let key = match check {
        "memory" => "resources.memory.max",
        "cpu" => "resources.cpus.max",
        _ => "resources.pids.max",
    };
    Finding::new(
        cis,
        check,
        detail,
        format!("it is above this profile's ceiling ({max}), so one container could starve the host"),
        &format!("recreate it with {max} or less"),
    )
    .unless(key)
}

/// The check name for a namespace mode: the host's, or another container's.
fn namespace_check(kind: NamespaceKind, host: bool) -> &'static str {
    match (kind, host) {
        (NamespaceKind::Pid, true) => "host-pid",
        (NamespaceKind::Pid, false) => "shared-pid",
        (NamespaceKind::Ipc, true) => "host-ipc",
        (NamespaceKind::Ipc, false) => "shared-ipc",
        (NamespaceKind::Uts, true) => "host-uts",
        (NamespaceKind::Uts, false) => "shared-uts",
        (NamespaceKind::User, true) => "host-userns",
        (NamespaceKind::User, false) => "shared-userns",
        (NamespaceKind::Cgroup, true) => "host-cgroupns",
        (NamespaceKind::Cgroup, false) => "shared-cgroupns",
    }
}
