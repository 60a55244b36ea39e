//! `hardrun plan --format docker` prints a line a user may paste into `docker run`: the
//! docker CLI itself must read it as the plan. Each case prints the plan twice, as the
//! Engine API body (`--format json`) and as the docker line; the line, run as `docker
//! create`, must make a container whose `docker inspect` holds every value of the body.

mod common;

use std::path::Path;

use common::{Scope, daemon, docker, hardrun, inspect};
use serde_json::Value;

/// `planned` is within `made`: every value the plan sets is what the daemon holds.
/// Objects may hold more (the daemon fills defaults and the image's own labels);
/// `Config.Env` may hold the image's variables too; seccomp profiles are compared as JSON
/// (the docker CLI compacts the file it reads).
fn within(path: &str, planned: &Value, made: &Value, diffs: &mut Vec<String>) {
    match (planned, made) {
        (Value::Null, _) => {}
        (Value::Object(p), Value::Object(m)) => {
            for (k, v) in p {
                within(&format!("{path}/{k}"), v, m.get(k).unwrap_or(&Value::Null), diffs);
            }
        }
        (Value::Array(p), Value::Array(m)) if path == "/Env" => {
            for v in p.iter().filter(|v| !m.contains(v)) {
                diffs.push(format!("{path}: {v} missing from {m:?}"));
            }
        }
        // The docker CLI sorts these; their order means nothing.
        (Value::Array(p), Value::Array(m)) if ["/CapAdd", "/CapDrop", "/Ulimits"].iter().any(|f| path.ends_with(f)) => {
            let sorted = |v: &Vec<Value>| {
                let mut v: Vec<String> = v.iter().map(Value::to_string).collect();
                v.sort();
                v
            };
            if sorted(p) != sorted(m) {
                diffs.push(format!("{path}: planned {p:?} made {m:?}"));
            }
        }
        // An empty entrypoint resets the image's; the daemon keeps it as none.
        (Value::Array(p), Value::Null) if path == "/Entrypoint" && p == &[Value::from("")] => {}
        (Value::Array(p), Value::Array(m)) if path.ends_with("/SecurityOpt") => {
            let norm = |v: &Value| match v.as_str().and_then(|s| s.strip_prefix("seccomp=")) {
                Some(json) if json.starts_with('{') => serde_json::from_str(json).unwrap_or(Value::Null),
                _ => v.clone(),
            };
            let (p, m): (Vec<Value>, Vec<Value>) = (p.iter().map(norm).collect(), m.iter().map(norm).collect());
            if p != m {
                diffs.push(format!("{path}: planned {} made {}", short(&Value::from(p)), short(&Value::from(m))));
            }
        }
        (Value::Array(p), Value::Array(m)) if p.len() == m.len() => {
            for (i, (a, b)) in p.iter().zip(m).enumerate() {
                within(&format!("{path}/{i}"), a, b, diffs);
            }
        }
        (p, m) if p != m => diffs.push(format!("{path}: planned {} made {}", short(p), short(m))),
        _ => {}
    }
}

/// The words bash makes of the line: what a user who pastes it runs.
fn pasted(line: &str) -> Vec<String> {
    let out = std::process::Command::new("bash").args(["-c", &format!("printf '%s\\0' {line}")]).output().unwrap();
    assert!(out.status.success(), "bash cannot read {line}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().split_terminator('\0').map(str::to_string).collect()
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 400 { format!("{}…", &s[..400]) } else { s }
}

/// Plans `flags IMAGE cmd` both ways, creates the line's container with the docker CLI,
/// and lists where the daemon's container differs from the body.
fn differences(scope: &Scope, cwd: &Path, cache: &Path, global: &[&str], image: &str, flags: &[&str]) -> Vec<String> {
    let cmd = ["true"];
    let args = |format: &str| {
        let mut a = global.to_vec();
        a.extend(["plan", "--format", format, "-l", &scope.label]);
        a.extend_from_slice(flags);
        a.push(image);
        a.extend_from_slice(&cmd);
        a.into_iter().map(str::to_string).collect::<Vec<_>>()
    };
    let json = hardrun(args("json")).current_dir(cwd).env("XDG_CACHE_HOME", cache.to_str().unwrap()).run().success();
    let body = json.json()["create"].clone();
    let line = hardrun(args("docker")).current_dir(cwd).env("XDG_CACHE_HOME", cache.to_str().unwrap()).run().success();
    let mut words = pasted(line.stdout().trim());
    assert_eq!(&words[..2], ["docker", "run"], "{}", line.stdout());
    words[1] = "create".into();
    // A run line's switches `docker create` lacks: they drive the run, not the container.
    words.retain(|w| !matches!(w.as_str(), "-d" | "--sig-proxy=false"));
    let out = std::process::Command::new("docker").args(&words[1..]).current_dir(cwd).output().unwrap();
    assert!(out.status.success(), "{}: {}", line.stdout().trim(), String::from_utf8_lossy(&out.stderr));
    let made = inspect(String::from_utf8_lossy(&out.stdout).trim());

    let mut diffs = Vec::new();
    let mut config = body.clone();
    let config = config.as_object_mut().unwrap();
    let host_config = config.remove("HostConfig").unwrap_or(Value::Null);
    let networking = config.remove("NetworkingConfig").unwrap_or(Value::Null);
    within("", &Value::Object(config.clone()), &made["Config"], &mut diffs);
    within("/HostConfig", &host_config, &made["HostConfig"], &mut diffs);
    // Endpoint settings land in NetworkSettings.Networks, keyed by network name.
    for (net, planned) in networking.pointer("/EndpointsConfig").and_then(Value::as_object).into_iter().flatten() {
        let name = match net.as_str() {
            "default" => "bridge".to_string(),
            id => docker(["network", "inspect", "-f", "{{.Name}}", id]).trim().to_string(),
        };
        let have = &made["NetworkSettings"]["Networks"][&name];
        let mut aliases = planned.clone();
        // The daemon adds the container's short ID to the aliases on user networks.
        if let (Some(Value::Array(p)), Some(Value::Array(m))) =
            (aliases.get_mut("Aliases"), have.get("Aliases").cloned())
        {
            p.retain(|a| !m.contains(a));
            if !p.is_empty() {
                diffs.push(format!("aliases {p:?} on {name} missing from {m:?}"));
            }
        }
        aliases.as_object_mut().map(|o| o.remove("Aliases"));
        within(&format!("/Networks/{name}"), &aliases, have, &mut diffs);
    }
    diffs.into_iter().map(|d| format!("{flags:?}: {d}\n  line: {}", line.stdout().trim())).collect()
}

/// A volume the docker CLI makes from a `--mount` (unlabelled, named within the scope):
/// removed with the containers that use it.
struct MadeVolume(String);

impl Drop for MadeVolume {
    fn drop(&mut self) {
        let run = |args: &[&str]| std::process::Command::new("docker").args(args).output();
        let users = run(&["ps", "-aq", "--filter", &format!("volume={}", self.0)]);
        let ids: Vec<String> = users
            .map(|o| String::from_utf8_lossy(&o.stdout).split_whitespace().map(String::from).collect())
            .unwrap_or_default();
        for id in &ids {
            let _ = run(&["rm", "-f", "-v", id]);
        }
        let _ = run(&["volume", "rm", "-f", &self.0]);
    }
}

#[test]
fn the_docker_line_makes_the_planned_container() {
    let Some(d) = daemon() else { return };
    let s = Scope::new();
    let tvol_name = MadeVolume(s.name("tvol"));
    let dir = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    for sub in ["data", "a b", "we,ird"] {
        std::fs::create_dir(dir.path().join(sub)).unwrap();
    }
    let net = s.network("net");
    let vol = s.volume("vol", &[]);
    let named = format!("{vol}:/cache");
    let tvol = format!(
        "type=volume,src={},dst=/tv,volume-opt=type=tmpfs,volume-opt=device=tmpfs,\"volume-opt=o=size=1m,uid=10001\"",
        tvol_name.0
    );
    let long_net = format!("name={net},alias=db,alias=Cache");

    let cases: Vec<Vec<&str>> = vec![
        vec![],
        vec!["-e", "A=1", "-e", "B=a b,c=d", "-e", "Q='x' \"y\" $HOME", "-e", "MULTI=line1\nline2", "-e", "EQ==="],
        vec!["-l", "team=dev", "-l", "k=v=w", "-l", "sp=a b,c"],
        // Characters a terminal acts on, as an env file or an image can hold them.
        vec!["-e", "CTL=a\x1b]0;title\x07b\rc\td", "-l", "bidi=\u{202e}txt.exe", "-e", "BS=back\\slash 'q'"],
        vec!["-w", "/srv/a b", "-h", "box", "--domainname", "example.org", "--entrypoint", ""],
        vec!["--tmpfs", "/cache:size=1m,mode=1777", "--tmpfs", "/a b:size=2m", "--tmpfs", "/run:rw,noexec"],
        vec!["-v", "./a b:/x y:ro", "-v", &named, "-v", "/anon"],
        vec!["--mount", "type=tmpfs,dst=/t,tmpfs-size=1m,tmpfs-mode=1770", "--mount", &tvol],
        vec!["--mount", "\"type=bind\",\"src=./we,ird\",dst=/w2,readonly", "--mount", "type=volume,dst=/anon2"],
        vec![
            "--ulimit",
            "nofile=2048:8192",
            "--ulimit",
            "nproc=100",
            "--ulimit",
            "core=0",
            "-m",
            "128m",
            "--cpus",
            "0.25",
        ],
        vec!["--pids-limit", "100", "--memory-reservation", "64m", "--shm-size", "1048576", "--cpu-shares", "512"],
        vec!["--cap-add", "NET_BIND_SERVICE", "--cap-add", "chown", "--security-opt", "no-new-privileges=true"],
        vec!["-p", "127.0.0.1:18080:80", "-p", "127.0.0.1:18000-18002:9000-9002/udp", "--expose", "7000-7002/udp"],
        vec!["--network", &long_net, "--dns", "10.0.0.1", "--dns-option", "ndots:2"],
        vec!["--network", &net, "--network-alias", "Api", "--network-alias", "db"],
        vec!["--add-host", "db:10.0.0.2", "--add-host", "gw=10.0.0.254", "--dns-search", "example.com"],
        vec![
            "--log-driver",
            "json-file",
            "--log-opt",
            "max-size=10m",
            "--log-opt",
            "labels=a,b",
            "--log-opt",
            "tag={{.Name}} x",
        ],
        vec!["--restart", "on-failure:3", "--init", "--stop-signal", "SIGINT", "--stop-timeout", "5"],
        vec!["--health-cmd", "echo 'a,b=c' \"q\" || exit 1", "--health-interval", "1m30s", "--health-retries", "3"],
        vec!["--oom-kill-disable=false", "--memory-swappiness", "0", "--ipc", "none", "-t", "-i"],
    ];
    let mut diffs = Vec::new();
    for flags in &cases {
        diffs.extend(differences(&s, dir.path(), cache.path(), &[], &d.image, flags));
    }
    // What only a profile allows: kernel parameters, SELinux labels, another parent cgroup.
    let profile = dir.path().join("open.yaml");
    std::fs::write(
        &profile,
        "extends: default\nsysctls:\n  allow: [net.ipv4.ip_unprivileged_port_start, net.core.somaxconn]\n\
         allow_flags: [cgroup-parent, oom-score-adj, security-opt-label]\nseccomp:\n  allow_custom: true\n",
    )
    .unwrap();
    let global = ["--profile-file", profile.to_str().unwrap()];
    let cases: Vec<Vec<&str>> = vec![
        vec!["--sysctl", "net.ipv4.ip_unprivileged_port_start=0", "--sysctl", "net.core.somaxconn=1024"],
        vec!["--security-opt", "label=level:s0:c100,c200", "--oom-score-adj", "100", "--cgroup-parent", "hr.slice"],
        vec!["--security-opt", "seccomp=builtin", "--runtime", "runc"],
    ];
    for flags in &cases {
        diffs.extend(differences(&s, dir.path(), cache.path(), &global, &d.image, flags));
    }
    assert!(diffs.is_empty(), "{} differences:\n{}", diffs.len(), diffs.join("\n"));
}
