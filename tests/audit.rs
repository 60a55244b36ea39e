//! `hardrun audit` and `hardrun doctor` against the real daemon: containers made with
//! the docker CLI and with hardrun, judged by their CIS numbers; the doctor's report in
//! both formats. Every test removes what it made (Scope).

mod common;

use std::process::Command;

use common::{Scope, daemon, docker, hardrun};

/// The CIS numbers (or check names) of the non-informational findings for one container.
fn found(report: &serde_json::Value) -> Vec<String> {
    let containers = report["containers"].as_array().expect("containers");
    assert_eq!(containers.len(), 1, "{report:#}");
    containers[0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["informational"] == false)
        .map(|f| f["cis"].as_str().or(f["check"].as_str()).unwrap().to_string())
        .collect()
}

#[test]
fn a_privileged_host_network_socket_container_is_reported() {
    let Some(d) = daemon() else { return };
    let s = Scope::new();
    let name = s.name("audit-priv");
    docker([
        "create",
        "--name",
        &name,
        "-l",
        &s.label,
        "--privileged",
        "--network",
        "host",
        "-v",
        "/var/run/docker.sock:/s",
        &d.image_root,
        "sleep",
        "30",
    ]);
    // A daemon without every capability in its own bounding set cannot start a
    // privileged container; its configuration is what audit judges either way.
    let _ = Command::new("docker").args(["start", &name]).output();

    let o = hardrun(["audit", &name, "--format", "json"]).run().status(1);
    let ids = found(&o.json());
    for cis in ["5.4", "5.9", "5.31"] {
        assert!(ids.contains(&cis.to_string()), "{cis} missing from {ids:?}");
    }
    let table = hardrun(["audit", &name]).run().status(1);
    let table = table.stdout_has(&format!("{name} (")).stdout_has("  5.4   ").stdout_has("  5.9   ");
    table.stdout_has("  5.31  /var/run/docker.sock is bound at /s");
}

#[test]
fn a_hardrun_container_passes_the_cis_checks_in_its_power() {
    let Some(d) = daemon() else { return };
    let s = Scope::new();
    let o = hardrun(["-q", "run", "-d", "-l", &s.label, &d.image, "sleep", "30"]).run().success();
    let id = o.stdout().trim().to_string();
    assert!(!id.is_empty(), "no container id");
    // CIS v1.6 section 5 as far as a container can comply (5.1 needs a host with
    // AppArmor; a health check, 5.26, is the user's choice and only noted).
    let o = hardrun(["audit", &id, "--format", "json"]).run().success();
    let ids = found(&o.json());
    assert!(ids.is_empty(), "a default hardrun container is reported: {ids:?}");
}

#[test]
fn by_default_every_running_container_is_audited() {
    let Some(d) = daemon() else { return };
    let s = Scope::new();
    let name = s.name("audit-plain");
    docker(["run", "-d", "--name", &name, "-l", &s.label, &d.image_root, "sleep", "30"]);
    // Other containers may come and go meanwhile; this one must be there, with findings.
    let o = hardrun(["audit", "--format", "json"]).run().status(1);
    let report = o.json();
    let mine = report["containers"].as_array().unwrap().iter().find(|c| c["name"] == name.as_str());
    let mine = mine.unwrap_or_else(|| panic!("{name} not audited: {report:#}"));
    let ids: Vec<&str> = mine["findings"].as_array().unwrap().iter().filter_map(|f| f["cis"].as_str()).collect();
    for cis in ["5.3", "5.10", "5.12", "5.28", "5.29"] {
        assert!(ids.contains(&cis), "{cis} missing from {ids:?}");
    }
    // The health check is the user's choice: reported, marked informational.
    let health = mine["findings"].as_array().unwrap().iter().find(|f| f["cis"] == "5.26").unwrap();
    assert_eq!(health["informational"], true);
}

#[test]
fn auditing_a_missing_container_fails() {
    let Some(_) = daemon() else { return };
    let s = Scope::new();
    hardrun(["audit", &s.name("no-such-container")]).run().fails().stderr_has("no such container");
}

#[test]
fn doctor_prints_a_line_per_check() {
    let Some(_) = daemon() else { return };
    let o = hardrun(["doctor"]).run().success();
    let out = o.stdout();
    let lines: Vec<&str> = out.lines().collect();
    let json = hardrun(["doctor", "--format", "json"]).run().success().json();
    let checks = json["checks"].as_array().expect("checks");
    assert_eq!(lines.len(), checks.len(), "{out}");
    for (line, check) in lines.iter().zip(checks) {
        let status = check["status"].as_str().unwrap();
        assert!(["ok", "warn", "missing"].contains(&status), "{check}");
        assert!(line.starts_with(status), "{line}");
        assert!(line.contains(check["check"].as_str().unwrap()), "{line}");
        assert!(!check["finding"].as_str().unwrap().is_empty(), "{check}");
    }
    for name in ["daemon", "rootless", "userns-remap", "seccomp", "apparmor", "selinux", "cgroup"] {
        assert!(checks.iter().any(|c| c["check"] == name), "no {name} check: {json:#}");
    }
    for name in ["no-new-privileges", "live-restore", "icc (default bridge)", "socket access"] {
        assert!(checks.iter().any(|c| c["check"] == name), "no {name} check: {json:#}");
    }
    let api = docker(["version", "--format", "{{.Server.APIVersion}}"]);
    assert_eq!(json["api"], api.trim());
}

#[test]
fn an_unreachable_daemon_is_one_line_and_125() {
    for cmd in ["doctor", "audit"] {
        let o = hardrun(["-H", "unix:///nonexistent/hardrun-test.sock", cmd]).run().fails();
        assert_eq!(o.stderr().lines().count(), 1, "{}", o.stderr());
        assert!(o.stdout().is_empty());
    }
}

#[test]
fn informational_findings_are_one_line_for_all_containers() {
    let Some(d) = daemon() else { return };
    let s = Scope::new();
    let names: Vec<String> = (0..3).map(|i| s.name(&format!("audit-info{i}"))).collect();
    for n in &names {
        docker(["create", "--name", n, "-l", &s.label, &d.image_root, "sleep", "30"]);
    }
    let mut args = vec!["audit"];
    args.extend(names.iter().map(String::as_str));
    let o = hardrun(args).run().status(1);
    let out = o.stdout();
    let info: Vec<&str> = out.lines().filter(|l| l.starts_with("info: ")).collect();
    assert_eq!(info.len(), 1, "{out}");
    assert!(info[0].starts_with("info: 3 container(s) (5.26), no health check: "), "{out}");
    assert!(!out.lines().any(|l| l.starts_with("  5.26")), "{out}");
    // The real findings keep their line under each container (root, no limits...).
    for n in &names {
        let header = out.lines().position(|l| l.starts_with(&format!("{n} ("))).unwrap();
        assert!(out.lines().nth(header + 1).is_some_and(|l| l.starts_with("  5.")), "{out}");
    }
}
