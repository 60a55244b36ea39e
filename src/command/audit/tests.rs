//! The audit rules on real `docker inspect` output (tests/fixtures, captured from Docker
//! 20.10), without a daemon.

use bollard::models::HostConfig;

use super::rules::security_opt;
use super::*;
use crate::capability::Capability;
use crate::engine::DaemonFacts;
use crate::profile::load::{Loader, Location};

fn profile(name: &str) -> Profile {
    Loader { locations: vec![Location::Bundled] }.load(name).unwrap()
}

/// `docker inspect` prints an array; the fixtures are that output, unchanged.
fn fixture(text: &str) -> ContainerInspectResponse {
    let v: Vec<ContainerInspectResponse> = serde_json::from_str(text).expect("the fixture parses as bollard's model");
    v.into_iter().next().unwrap()
}

fn privileged() -> ContainerInspectResponse {
    fixture(include_str!("../../../tests/fixtures/inspect-privileged.json"))
}
fn plain() -> ContainerInspectResponse {
    fixture(include_str!("../../../tests/fixtures/inspect-plain.json"))
}
fn loose() -> ContainerInspectResponse {
    fixture(include_str!("../../../tests/fixtures/inspect-loose.json"))
}
fn hardrun() -> ContainerInspectResponse {
    fixture(include_str!("../../../tests/fixtures/inspect-hardrun.json"))
}

/// The daemon the fixtures came from: root, seccomp, no AppArmor, no userns-remap.
fn daemon() -> DaemonSetup {
    DaemonSetup {
        host: "unix:///var/run/docker.sock".into(),
        facts: DaemonFacts { seccomp: true, cgroup_version: "1".into(), ..DaemonFacts::default() },
        no_new_privileges: Some(false),
        icc: Some(true),
        ..DaemonSetup::default()
    }
}

/// The benchmark numbers found (hardrun's own as their check name), informational ones marked `i`.
fn ids(c: &ContainerInspectResponse, profile: &Profile, daemon: &DaemonSetup) -> Vec<String> {
    let mut v: Vec<String> = findings(c, profile, daemon)
        .iter()
        .map(|f| format!("{}{}", f.cis.unwrap_or(f.check), if f.informational { "i" } else { "" }))
        .collect();
    v.dedup();
    v
}

#[test]
fn privileged_host_network_and_the_docker_socket() {
    let found = ids(&privileged(), &profile("default"), &daemon());
    assert_eq!(
        found,
        ["5.3", "5.4", "5.9", "5.10", "5.11", "5.12", "5.25", "5.26i", "5.28", "5.31", "host-cgroupns", "root"]
    );
    let all = findings(&privileged(), &profile("default"), &daemon());
    let socket = all.iter().find(|f| f.cis == Some("5.31")).unwrap();
    assert!(socket.detail.starts_with("/var/run/docker.sock is bound at /s"), "{}", socket.detail);
    // The socket is 5.31's, not also 5.5's.
    assert!(all.iter().all(|f| f.cis != Some("5.5")));
}

#[test]
fn a_plain_docker_run() {
    let found = ids(&plain(), &profile("default"), &daemon());
    // On a cgroup v1 host docker's default cgroup namespace is the host's: policy refuses
    // that mode, so audit reports it (hardrun's own finding).
    assert_eq!(found, ["5.3", "5.10", "5.11", "5.12", "5.25", "5.26i", "5.28", "5.29", "host-cgroupns", "root"]);
}

#[test]
fn every_loosening_flag_is_named() {
    let found = ids(&loose(), &profile("default"), &daemon());
    assert_eq!(
        found,
        [
            "5.3",
            "5.5",
            "5.7",
            "5.10",
            "5.11",
            "5.12",
            "5.13",
            "5.14",
            "5.15",
            "5.16",
            "5.17",
            "5.20",
            "5.21",
            "5.24",
            "5.25",
            "5.28",
            "5.29",
            "5.30",
            "host-cgroupns",
            "root"
        ]
    );
    let all = findings(&loose(), &profile("default"), &daemon());
    let detail = |id: &str| -> Vec<String> {
        all.iter().filter(|f| f.cis.unwrap_or(f.check) == id).map(|f| f.detail.clone()).collect()
    };
    let caps = detail("5.3");
    assert!(caps.contains(&"CapAdd has SYS_ADMIN".to_string()), "{caps:?}");
    assert!(caps.contains(&"CapAdd has NET_ADMIN".to_string()), "{caps:?}");
    // Only the port on every interface is 5.13; 127.0.0.1:8080 is fine.
    assert_eq!(detail("5.13"), ["publishes 80/tcp on 0.0.0.0:80"]);
    assert_eq!(detail("5.7"), ["publishes 80/tcp on 0.0.0.0:80"]);
    assert_eq!(detail("5.14"), ["RestartPolicy is on-failure:10"]);
    assert_eq!(detail("5.25"), ["SecurityOpt has no-new-privileges=false"]);
    assert_eq!(detail("5.5"), ["/etc is bound at /host-etc (read-only)"]);
    assert_eq!(detail("root"), ["Config.User is 0 (root)"]);
}

#[test]
fn a_hardrun_container_breaks_nothing_hardrun_controls() {
    // 5.29 is the network's (hardrun's default network on this branch is docker0).
    let found = ids(&hardrun(), &profile("default"), &daemon());
    assert_eq!(found, ["5.26i", "5.29"]);
}

#[test]
fn the_health_check_is_informational_only() {
    let all = findings(&hardrun(), &profile("default"), &daemon());
    let health = all.iter().find(|f| f.cis == Some("5.26")).unwrap();
    assert!(health.informational);
    let report = Report { id: "x".into(), name: "x".into(), image: "x".into(), findings: vec![health.clone()] };
    assert_eq!(report.failing(), 0);
    // A health check from the image or the flags clears it.
    assert!(ids(&loose(), &profile("default"), &daemon()).iter().all(|i| i != "5.26i"));
}

#[test]
fn apparmor_is_judged_only_where_the_host_has_it() {
    let mut d = daemon();
    assert!(!ids(&plain(), &profile("default"), &d).contains(&"5.1".to_string()));
    d.facts.apparmor = true;
    assert!(ids(&plain(), &profile("default"), &d).contains(&"5.1".to_string()));
    let mut confined = plain();
    confined.app_armor_profile = Some("docker-default".into());
    assert!(!ids(&confined, &profile("default"), &d).contains(&"5.1".to_string()));
}

#[test]
fn the_profile_decides_what_it_may_loosen() {
    let mut p = profile("default");
    p.filesystem.read_only = false;
    p.no_new_privileges = false;
    p.resources.memory.max = Some(crate::profile::schema::UNLIMITED);
    p.resources.cpus.max = Some(crate::profile::schema::UNLIMITED);
    p.allow_flags.push("cgroup-parent".into());
    p.capabilities.allow.push(Capability::parse("NET_ADMIN").unwrap());
    let found = ids(&loose(), &p, &daemon());
    for gone in ["5.10", "5.11", "5.12", "5.24", "5.25"] {
        assert!(!found.contains(&gone.to_string()), "{gone}: {found:?}");
    }
    let caps: Vec<String> =
        findings(&loose(), &p, &daemon()).into_iter().filter(|f| f.cis == Some("5.3")).map(|f| f.detail).collect();
    // SYS_ADMIN stays: no profile can grant it.
    assert!(caps.contains(&"CapAdd has SYS_ADMIN".to_string()) && !caps.iter().any(|c| c.contains("NET_ADMIN")));
    // Pids stay limited whatever the profile says.
    assert!(found.contains(&"5.28".to_string()));
}

#[test]
fn ceilings_of_the_profile() {
    let mut c = hardrun();
    let hc = c.host_config.as_mut().unwrap();
    hc.memory = Some(16 << 30);
    hc.nano_cpus = Some(8_000_000_000);
    hc.pids_limit = Some(100_000);
    let all = findings(&c, &profile("default"), &daemon());
    let detail =
        |cis: &str| all.iter().find(|f| f.cis == Some(cis)).map(|f| (f.detail.clone(), f.why.clone())).unwrap();
    assert_eq!(detail("5.10").0, "Memory is 16g");
    assert!(detail("5.10").1.contains("8g"), "{:?}", detail("5.10"));
    assert_eq!(detail("5.11").0, "the CPU limit is 8");
    assert_eq!(detail("5.28").0, "PidsLimit is 100000");
}

#[test]
fn cpu_shares_or_quota_count_as_a_cpu_limit() {
    for set in [|hc: &mut HostConfig| hc.cpu_shares = Some(512), |hc: &mut HostConfig| hc.cpu_quota = Some(50_000)] {
        let mut c = plain();
        set(c.host_config.as_mut().unwrap());
        assert!(!ids(&c, &profile("default"), &daemon()).contains(&"5.11".to_string()));
    }
}

#[test]
fn shared_propagation_and_socket_folders() {
    let mut c = loose();
    let m = &mut c.mounts.as_mut().unwrap()[0];
    m.propagation = Some("rshared".into());
    m.source = Some("/var/run".into());
    let all = findings(&c, &profile("default"), &daemon());
    let cis: Vec<&str> = all.iter().filter_map(|f| f.cis).collect();
    // A folder holding the socket is both a system path and the socket.
    assert!(cis.contains(&"5.19") && cis.contains(&"5.31") && cis.contains(&"5.5"), "{cis:?}");
    let mut p = profile("default");
    p.filesystem.binds_propagation = true;
    assert!(!ids(&c, &p, &daemon()).contains(&"5.19".to_string()));
}

#[test]
fn the_daemons_socket_wherever_it_is() {
    let mut c = plain();
    c.mounts = Some(vec![bollard::models::MountPoint {
        typ: Some("bind".into()),
        source: Some("/srv/dockerd/api.sock".into()),
        destination: Some("/api.sock".into()),
        rw: Some(true),
        ..Default::default()
    }]);
    let mut d = daemon();
    assert!(!ids(&c, &profile("default"), &d).contains(&"5.31".to_string()));
    d.host = "unix:///srv/dockerd/api.sock".into();
    assert!(ids(&c, &profile("default"), &d).contains(&"5.31".to_string()));
}

#[test]
fn root_with_user_namespaces() {
    let mut p = profile("default");
    let mut d = daemon();
    d.facts.userns = true;
    // The profile still refuses root.
    assert!(ids(&plain(), &p, &d).contains(&"root".to_string()));
    p.user.allow_root = true;
    assert!(!ids(&plain(), &p, &d).contains(&"root".to_string()));
    // --userns host opts out of the remap: root is real root again.
    assert!(ids(&loose(), &p, &d).contains(&"root".to_string()));
    // Without userns-remap or rootless, allow_root is not honoured.
    assert!(ids(&plain(), &p, &daemon()).contains(&"root".to_string()));
}

#[test]
fn no_new_privileges_from_the_daemon_default() {
    let mut d = daemon();
    d.no_new_privileges = Some(true);
    assert!(!ids(&plain(), &profile("default"), &d).contains(&"5.25".to_string()));
    // An explicit no-new-privileges=false beats the daemon's default.
    assert!(ids(&loose(), &profile("default"), &d).contains(&"5.25".to_string()));
    d.no_new_privileges = None;
    let all = findings(&plain(), &profile("default"), &d);
    assert!(all.iter().any(|f| f.cis == Some("5.25") && f.detail.contains("unknown")));
}

#[test]
fn restart_on_failure_without_a_limit() {
    let mut c = plain();
    c.host_config.as_mut().unwrap().restart_policy = Some(bollard::models::RestartPolicy {
        name: Some(bollard::models::RestartPolicyNameEnum::ON_FAILURE),
        maximum_retry_count: Some(0),
    });
    assert!(ids(&c, &profile("default"), &daemon()).contains(&"5.14".to_string()));
    c.host_config.as_mut().unwrap().restart_policy.as_mut().unwrap().maximum_retry_count = Some(5);
    assert!(!ids(&c, &profile("default"), &daemon()).contains(&"5.14".to_string()));
}

#[test]
fn publishing_under_a_profile_that_forbids_it() {
    let found = ids(&loose(), &profile("strict"), &daemon());
    assert!(found.contains(&"5.8".to_string()), "{found:?}");
    assert!(!ids(&loose(), &profile("default"), &daemon()).contains(&"5.8".to_string()));
}

#[test]
fn security_opt_spellings() {
    assert_eq!(security_opt("no-new-privileges"), ("no-new-privileges", None));
    assert_eq!(security_opt("no-new-privileges:true"), ("no-new-privileges", Some("true")));
    assert_eq!(security_opt("seccomp=unconfined"), ("seccomp", Some("unconfined")));
    assert_eq!(security_opt(r#"seccomp={"a":1}"#), ("seccomp", Some(r#"{"a":1}"#)));
}

#[test]
fn the_table_marks_informational_findings() {
    let p = profile("default");
    let reports = vec![Report::of(&hardrun(), &p, &daemon()), Report::of(&privileged(), &p, &daemon())];
    let text = table(&reports, "default");
    assert!(text.contains("audit-fx-hardrun ("), "{text}");
    assert!(!text.contains("  5.26 "), "no informational line per container: {text}");
    let info: Vec<&str> = text.lines().filter(|l| l.starts_with("info: ")).collect();
    assert_eq!(info.len(), 1, "one line for every container without a health check: {text}");
    assert!(info[0].starts_with("info: 2 container(s) (5.26), no health check: audit-fx-hardrun, "), "{text}");
    assert!(text.contains("  5.4   HostConfig.Privileged is true"), "{text}");
    assert!(text.ends_with("audited 2 container(s) against profile default: 12 finding(s)\n"), "{text}");
}
