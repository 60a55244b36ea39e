//! `hardrun doctor`: one screen on the daemon hardrun talks to — what protects the host
//! beyond hardrun's own controls, what is missing, and how to turn it on. It reports; it
//! is not a gate (exit 0 unless the daemon cannot be reached).
//!
//! The engine gathers a `DaemonSetup`; `checks` judges it without I/O.

use anyhow::Result;
use serde::Serialize;

use crate::cli::{DoctorCommand, Global, ReportFormat};
use crate::command::env;
use crate::engine::inspect::{DaemonSetup, SocketFile};
use crate::engine::{Engine, endpoint};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Warn,
    Missing,
}

impl Status {
    fn label(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warn => "warn",
            Status::Missing => "missing",
        }
    }
}

/// One line of the report: what was checked, how it stands, and how to improve it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    pub check: &'static str,
    pub status: Status,
    pub finding: String,
    pub fix: Option<String>,
}

fn check(name: &'static str, status: Status, finding: impl Into<String>, fix: Option<String>) -> Check {
    Check { check: name, status, finding: finding.into(), fix }
}

fn ok(name: &'static str, finding: impl Into<String>) -> Check {
    check(name, Status::Ok, finding, None)
}

/// Groups that take in ordinary users wholesale: a socket group-writable for them is
/// open to every local account.
const BROAD_GROUPS: [&str; 6] = ["users", "staff", "everyone", "nogroup", "nobody", "domain users"];
/// Past this many members a group is too broad to hold what amounts to root.
const BROAD_MEMBERS: usize = 10;

/// Every check, in a fixed order.
pub fn checks(s: &DaemonSetup) -> Vec<Check> {
    let f = &s.facts;
    vec![
        ok("daemon", format!("Docker {}, Engine API {}.{}, at {}", or_unknown(&s.version), s.api.0, s.api.1, s.host)),
        rootless(s),
        userns(s),
        root_in_containers(s),
        seccomp(s),
        apparmor(s),
        selinux(s),
        cgroup(&f.cgroup_version),
        no_new_privileges(s),
        live_restore(f.live_restore),
        icc(s.icc),
        socket(s),
    ]
}

fn or_none(members: &str) -> &str {
    if members.is_empty() { "no listed members" } else { members }
}

fn or_unknown(s: &str) -> &str {
    if s.is_empty() { "(version unknown)" } else { s }
}

fn rootless(s: &DaemonSetup) -> Check {
    if s.facts.rootless {
        ok("rootless", "yes: the daemon runs as an unprivileged user, so an escape lands in that user, not root")
    } else if s.facts.userns {
        ok("rootless", "no, but userns-remap maps root in containers to an unprivileged host user")
    } else {
        check(
            "rootless",
            Status::Missing,
            "no: the daemon runs as root, so a container escape lands as root on the host",
            Some("run a rootless daemon (dockerd-rootless-setuptool.sh install), or turn on userns-remap".into()),
        )
    }
}

fn userns(s: &DaemonSetup) -> Check {
    if s.facts.userns {
        ok("userns-remap", "on: uid 0 in a container is an unprivileged uid on the host")
    } else if s.facts.rootless {
        ok("userns-remap", "not needed: a rootless daemon already runs containers in a user namespace")
    } else {
        check(
            "userns-remap",
            Status::Missing,
            "off: uid 0 in a container is uid 0 on the host",
            Some(
                "start dockerd with --userns-remap=default, or set \"userns-remap\": \"default\" in \
                 /etc/docker/daemon.json and restart dockerd (images and containers made before are kept apart)"
                    .into(),
            ),
        )
    }
}

fn root_in_containers(s: &DaemonSetup) -> Check {
    if s.facts.userns || s.facts.rootless {
        ok("root in containers", "a profile may set `user: {allow_root: true}`: root inside is not root on the host")
    } else {
        ok(
            "root in containers",
            "refused whatever the profile says; `user: {allow_root: true}` is honoured only with userns-remap or \
             a rootless daemon",
        )
    }
}

/// The daemon's default seccomp profile, from `name=seccomp,profile=NAME`.
fn seccomp_default(options: &[String]) -> Option<&str> {
    options
        .iter()
        .find(|o| o.split(',').any(|kv| kv == "name=seccomp"))
        .and_then(|o| o.split(',').find_map(|kv| kv.strip_prefix("profile=")))
}

fn seccomp(s: &DaemonSetup) -> Check {
    if !s.facts.seccomp {
        return check(
            "seccomp",
            Status::Missing,
            "off: the kernel or dockerd lacks seccomp, so no container has a syscall filter, hardrun's included",
            Some("use a kernel with CONFIG_SECCOMP=y and a dockerd built with seccomp support".into()),
        );
    }
    match seccomp_default(&s.facts.security_options) {
        Some("unconfined") => check(
            "seccomp",
            Status::Warn,
            "on, but the daemon's default profile is unconfined: containers started without hardrun have no \
             syscall filter",
            Some(
                "drop \"seccomp-profile\": \"unconfined\" from daemon.json (or --seccomp-profile from dockerd's \
                  flags) and restart dockerd"
                    .into(),
            ),
        ),
        default => ok(
            "seccomp",
            format!(
                "on (daemon default: {}); hardrun sends its own profile with every container",
                default.unwrap_or("builtin")
            ),
        ),
    }
}

fn apparmor(s: &DaemonSetup) -> Check {
    if s.facts.apparmor {
        ok("apparmor", "on: hardrun confines containers with its AppArmor profile")
    } else if s.facts.selinux {
        ok("apparmor", "not on this host; SELinux confines containers instead")
    } else {
        check(
            "apparmor",
            Status::Missing,
            "not on this host: docker accepts apparmor= and enforces nothing; hardrun says so and applies the \
             other controls",
            Some(
                "enable AppArmor in the kernel (apparmor=1 security=apparmor on its command line), apt-get install \
                 apparmor, and restart dockerd"
                    .into(),
            ),
        )
    }
}

fn selinux(s: &DaemonSetup) -> Check {
    if s.facts.selinux {
        ok("selinux", "on: containers run in their own SELinux labels")
    } else if s.facts.apparmor {
        ok("selinux", "off; AppArmor confines containers instead")
    } else {
        check(
            "selinux",
            Status::Missing,
            "off, and no AppArmor either: no mandatory access control confines containers",
            Some(
                "on an SELinux distribution install container-selinux and set \"selinux-enabled\": true in \
                 daemon.json; elsewhere enable AppArmor"
                    .into(),
            ),
        )
    }
}

fn cgroup(version: &str) -> Check {
    match version {
        "2" => ok("cgroup", "v2: limits are enforced per container and cgroup namespaces are private by default"),
        "1" => check(
            "cgroup",
            Status::Warn,
            "v1: docker's default cgroup namespace is the host's (hardrun asks for a private one), and limits are \
             accounted less strictly",
            Some("boot the host with systemd.unified_cgroup_hierarchy=1 for cgroup v2".into()),
        ),
        other => check("cgroup", Status::Warn, format!("the daemon reports no known cgroup version ({other:?})"), None),
    }
}

fn no_new_privileges(s: &DaemonSetup) -> Check {
    let file = s.daemon_json.as_ref().map(|p| p.display().to_string());
    let name = "no-new-privileges";
    match (s.no_new_privileges, &file) {
        (Some(true), _) => ok(name, "on by default for every container (daemon.json)"),
        (Some(false), Some(path)) => check(
            name,
            Status::Warn,
            "off by default: containers started without hardrun can regain privileges through setuid programs \
             (hardrun turns it on for its own)",
            Some(format!("set \"no-new-privileges\": true in {path} and restart dockerd")),
        ),
        (_, Some(path)) => check(
            name,
            Status::Warn,
            format!("unknown: {path} cannot be read or is not valid JSON"),
            Some(format!("read {path} as root and look for \"no-new-privileges\": true")),
        ),
        (_, None) => check(
            name,
            Status::Warn,
            "unknown: the daemon is remote, so its daemon.json cannot be read from here",
            Some("look for \"no-new-privileges\": true in the daemon's daemon.json".into()),
        ),
    }
}

fn live_restore(on: bool) -> Check {
    if on {
        ok("live-restore", "on: containers keep running while dockerd restarts or is upgraded")
    } else {
        check(
            "live-restore",
            Status::Warn,
            "off: every container stops when dockerd restarts, which makes security upgrades of docker costly",
            Some("set \"live-restore\": true in daemon.json and reload dockerd (kill -HUP)".into()),
        )
    }
}

fn icc(icc: Option<bool>) -> Check {
    let name = "icc (default bridge)";
    match icc {
        None => ok(name, "the daemon has no default bridge network"),
        Some(false) => ok(
            name,
            "off: containers on the default bridge cannot reach each other, so hardrun runs on it (no network of \
             its own to attach to: faster starts)",
        ),
        Some(true) => check(
            name,
            Status::Warn,
            "on: every container on the default bridge (docker0) can reach every other on every port",
            Some(
                "set \"icc\": false in daemon.json and restart dockerd; put services that must talk on a \
                 user-defined network. It also makes hardrun faster: it then runs containers on the default bridge \
                 instead of attaching them to a network of its own"
                    .into(),
            ),
        ),
    }
}

fn socket(s: &DaemonSetup) -> Check {
    let name = "socket access";
    if let Some(addr) = s.host.strip_prefix("tcp://") {
        return if s.tls {
            ok(name, format!("TLS to {addr}: only clients with a certificate the daemon trusts get in"))
        } else {
            check(
                name,
                Status::Warn,
                format!("plain TCP to {addr}: anyone who reaches that port controls the daemon, and so the host"),
                Some("use the unix socket, or dockerd --tlsverify with client certificates".into()),
            )
        };
    }
    let Some(sock) = &s.socket else {
        let path = s.host.strip_prefix("unix://").unwrap_or(&s.host);
        return check(name, Status::Warn, format!("cannot read the owner and mode of {path}"), None);
    };
    let shown = describe_socket(sock);
    if sock.mode & 0o002 != 0 {
        return check(
            name,
            Status::Warn,
            format!("{shown} is world-writable: every local user controls the daemon, and so the host"),
            Some(format!("chmod 660 {} and give it a dedicated group (dockerd -G/daemon.json \"group\")", path(sock))),
        );
    }
    let group = sock.group.clone().unwrap_or_else(|| sock.gid.to_string());
    let members = sock.group_members.join(", ");
    let broad = BROAD_GROUPS.contains(&group.as_str())
        || sock.gid == 100
        || sock.gid == 65534
        || sock.group_members.len() > BROAD_MEMBERS;
    if sock.mode & 0o020 != 0 && broad {
        return check(
            name,
            Status::Warn,
            format!("{shown}: group {group} is broad ({}), and every member controls the daemon", or_none(&members)),
            Some(format!(
                "give {} a dedicated group with only trusted members (dockerd -G/daemon.json \"group\": \"docker\")",
                path(sock)
            )),
        );
    }
    if sock.mode & 0o020 != 0 && members.is_empty() {
        ok(name, format!("{shown}; group {group} has no members, so only {} can use it", owner(sock)))
    } else if sock.mode & 0o020 != 0 {
        ok(name, format!("{shown}; members of {group} ({members}) can use it, which is root on the host"))
    } else {
        ok(name, format!("{shown}: only its owner can use it"))
    }
}

fn path(sock: &SocketFile) -> String {
    sock.path.display().to_string()
}

fn owner(sock: &SocketFile) -> String {
    sock.owner.clone().unwrap_or_else(|| sock.uid.to_string())
}

fn describe_socket(sock: &SocketFile) -> String {
    let group = sock.group.clone().unwrap_or_else(|| sock.gid.to_string());
    format!("{} is {}:{group} {:04o}", path(sock), owner(sock), sock.mode)
}

pub async fn run(cmd: &DoctorCommand, global: &Global) -> Result<i32> {
    let engine = Engine::connect(endpoint::resolve(global, &env)?).await?;
    let setup = engine.setup().await?;
    let checks = checks(&setup);
    match cmd.format {
        ReportFormat::Table => print!("{}", table(&checks)),
        ReportFormat::Json => {
            let doc = serde_json::json!({
                "host": setup.host,
                "version": setup.version,
                "api": format!("{}.{}", setup.api.0, setup.api.1),
                "checks": checks,
            });
            println!("{}", serde_json::to_string_pretty(&doc)?);
        }
    }
    Ok(0)
}

/// One line per check: status, check, finding and, when there is one, the fix.
fn table(checks: &[Check]) -> String {
    let width = checks.iter().map(|c| c.check.len()).max().unwrap_or(0);
    let mut out = String::new();
    for c in checks {
        let fix = c.fix.as_ref().map(|f| format!("; fix: {f}")).unwrap_or_default();
        out.push_str(&format!("{:<7} {:<width$}  {}{fix}\n", c.status.label(), c.check, c.finding));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::DaemonFacts;
    use std::path::PathBuf;

    /// This machine's kind of daemon: root, cgroup v1, seccomp, no AppArmor.
    fn plain() -> DaemonSetup {
        DaemonSetup {
            host: "unix:///var/run/docker.sock".into(),
            version: "20.10.24".into(),
            api: (1, 41),
            facts: DaemonFacts {
                seccomp: true,
                cgroup_version: "1".into(),
                security_options: vec!["name=seccomp,profile=default".into()],
                ..DaemonFacts::default()
            },
            no_new_privileges: Some(false),
            daemon_json: Some(PathBuf::from("/etc/docker/daemon.json")),
            icc: Some(true),
            socket: Some(SocketFile {
                path: "/var/run/docker.sock".into(),
                uid: 0,
                gid: 998,
                owner: Some("root".into()),
                group: Some("docker".into()),
                mode: 0o660,
                group_members: vec!["alice".into()],
            }),
            ..DaemonSetup::default()
        }
    }

    fn get<'a>(checks: &'a [Check], name: &str) -> &'a Check {
        checks.iter().find(|c| c.check == name).unwrap_or_else(|| panic!("no check {name}"))
    }

    #[test]
    fn a_default_root_daemon() {
        let c = checks(&plain());
        assert_eq!(c.len(), 12);
        assert_eq!(get(&c, "daemon").finding, "Docker 20.10.24, Engine API 1.41, at unix:///var/run/docker.sock");
        assert_eq!(get(&c, "rootless").status, Status::Missing);
        let userns = get(&c, "userns-remap");
        assert_eq!(userns.status, Status::Missing);
        let fix = userns.fix.as_deref().unwrap();
        assert!(fix.contains("--userns-remap=default") && fix.contains("\"userns-remap\": \"default\""), "{fix}");
        assert!(get(&c, "root in containers").finding.starts_with("refused"));
        assert_eq!(get(&c, "seccomp").status, Status::Ok);
        assert!(get(&c, "seccomp").finding.contains("daemon default: default"));
        assert_eq!(get(&c, "apparmor").status, Status::Missing);
        assert_eq!(get(&c, "selinux").status, Status::Missing);
        assert_eq!(get(&c, "cgroup").status, Status::Warn);
        let nnp = get(&c, "no-new-privileges");
        assert_eq!(nnp.status, Status::Warn);
        assert!(nnp.fix.as_deref().unwrap().contains("/etc/docker/daemon.json"));
        assert_eq!(get(&c, "live-restore").status, Status::Warn);
        let icc = get(&c, "icc (default bridge)");
        assert_eq!(icc.status, Status::Warn);
        let fix = icc.fix.as_deref().unwrap();
        assert!(fix.contains("\"icc\": false") && fix.contains("makes hardrun faster"), "{fix}");
        let sock = get(&c, "socket access");
        assert_eq!(sock.status, Status::Ok);
        assert!(sock.finding.contains("root:docker 0660") && sock.finding.contains("alice"), "{}", sock.finding);
    }

    #[test]
    fn a_hardened_daemon_is_all_ok() {
        let mut s = plain();
        s.facts.userns = true;
        s.facts.apparmor = true;
        s.facts.cgroup_version = "2".into();
        s.facts.live_restore = true;
        s.no_new_privileges = Some(true);
        s.icc = Some(false);
        let c = checks(&s);
        // SELinux is not needed when AppArmor confines containers.
        assert!(c.iter().all(|c| c.status == Status::Ok), "{c:#?}");
        assert!(get(&c, "root in containers").finding.contains("allow_root: true"));
    }

    #[test]
    fn rootless_needs_no_remap() {
        let mut s = plain();
        s.facts.rootless = true;
        let c = checks(&s);
        assert_eq!(get(&c, "rootless").status, Status::Ok);
        assert_eq!(get(&c, "userns-remap").status, Status::Ok);
        assert!(get(&c, "userns-remap").finding.contains("not needed"));
    }

    #[test]
    fn unconfined_seccomp_default_and_missing_seccomp() {
        let mut s = plain();
        s.facts.security_options = vec!["name=seccomp,profile=unconfined".into()];
        assert_eq!(get(&checks(&s), "seccomp").status, Status::Warn);
        s.facts.seccomp = false;
        assert_eq!(get(&checks(&s), "seccomp").status, Status::Missing);
    }

    #[test]
    fn socket_permissions() {
        let mut s = plain();
        s.socket.as_mut().unwrap().mode = 0o666;
        let c = checks(&s);
        assert_eq!(get(&c, "socket access").status, Status::Warn);
        assert!(get(&c, "socket access").finding.contains("world-writable"));

        let mut s = plain();
        let sock = s.socket.as_mut().unwrap();
        (sock.gid, sock.group) = (100, Some("users".into()));
        assert_eq!(get(&checks(&s), "socket access").status, Status::Warn);
        // A broad group that cannot write cannot connect.
        s.socket.as_mut().unwrap().mode = 0o600;
        assert_eq!(get(&checks(&s), "socket access").status, Status::Ok);

        let mut s = plain();
        s.socket.as_mut().unwrap().group_members = (0..=BROAD_MEMBERS).map(|i| format!("u{i}")).collect();
        assert_eq!(get(&checks(&s), "socket access").status, Status::Warn);
    }

    #[test]
    fn remote_daemons() {
        let mut s = plain();
        s.host = "tcp://127.0.0.1:2375".into();
        s.socket = None;
        s.daemon_json = None;
        s.no_new_privileges = None;
        let c = checks(&s);
        assert_eq!(get(&c, "socket access").status, Status::Warn);
        assert!(get(&c, "socket access").finding.contains("plain TCP"));
        assert!(get(&c, "no-new-privileges").finding.starts_with("unknown: the daemon is remote"));
        s.tls = true;
        assert_eq!(get(&checks(&s), "socket access").status, Status::Ok);
    }

    #[test]
    fn table_has_a_line_per_check() {
        let c = checks(&plain());
        let text = table(&c);
        assert_eq!(text.lines().count(), c.len());
        assert!(text.lines().any(|l| l.starts_with("missing userns-remap") && l.contains("; fix: start dockerd")));
    }
}
