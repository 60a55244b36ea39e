//! The user's intent survives: for everyday invocations, what `docker inspect` shows of a
//! container made by `hardrun create` equals what it shows after `docker create` with
//! the same flags, for every field that is not a hardening decision.

mod common;

use std::path::Path;

use common::{Scope, daemon, hardrun, inspect};
use serde_json::Value;

/// Fields that carry only what the user asked for.
const INTENT: &[&str] = &[
    "/Path",
    "/Args",
    "/Config/Cmd",
    "/Config/Entrypoint",
    "/Config/Env",
    "/Config/WorkingDir",
    "/Config/Domainname",
    "/Config/ExposedPorts",
    "/Config/StopSignal",
    "/Config/StopTimeout",
    "/Config/Healthcheck",
    "/Config/Tty",
    "/Config/OpenStdin",
    "/Config/StdinOnce",
    "/Config/AttachStdin",
    "/Config/AttachStdout",
    "/Config/AttachStderr",
    "/Config/Volumes",
    "/Config/Image",
    "/Image",
    "/Platform",
    "/HostConfig/Binds",
    "/HostConfig/PortBindings",
    "/HostConfig/PublishAllPorts",
    "/HostConfig/RestartPolicy",
    "/HostConfig/AutoRemove",
    "/HostConfig/LogConfig",
    "/HostConfig/Dns",
    "/HostConfig/DnsOptions",
    "/HostConfig/DnsSearch",
    "/HostConfig/ExtraHosts",
    "/HostConfig/Init",
    "/HostConfig/Mounts",
    "/HostConfig/ShmSize",
    "/HostConfig/GroupAdd",
    "/HostConfig/CpuShares",
    "/HostConfig/MemoryReservation",
    "/HostConfig/OomScoreAdj",
    "/HostConfig/VolumeDriver",
];

/// Lists whose order docker does not keep from one `docker create` to the next (the CLI
/// gathers binds through a Go map; env was seen reordered too): compared sorted.
const ORDER_FREE: &[&str] = &["/HostConfig/Binds", "/Config/Env"];

/// A user network by its ID: hardrun sends the ID it resolved and judged, where the
/// docker CLI sends the name as typed.
fn network_id(name: &str) -> Value {
    let out =
        std::process::Command::new("docker").args(["network", "inspect", "-f", "{{.Id}}", name]).output().unwrap();
    match out.status.success() && !matches!(name, "bridge" | "none" | "host" | "default") {
        true => Value::String(String::from_utf8_lossy(&out.stdout).trim().to_string()),
        false => Value::String(name.to_string()),
    }
}

fn field(v: &Value, pointer: &str) -> Option<Value> {
    let mut value = v.pointer(pointer).cloned();
    if pointer == "/HostConfig/NetworkMode" {
        value = value.and_then(|n| n.as_str().map(network_id));
    }
    if ORDER_FREE.contains(&pointer)
        && let Some(Value::Array(items)) = &mut value
    {
        items.sort_by_key(|i| i.to_string());
    }
    value
}

/// Fields compared only when the invocation sets them (hardrun sets its own otherwise).
const WHEN_ASKED: &[(&str, &str)] = &[
    ("-h", "/Config/Hostname"),
    ("-u", "/Config/User"),
    ("--tmpfs", "/HostConfig/Tmpfs"),
    ("--network", "/HostConfig/NetworkMode"),
    ("-m", "/HostConfig/Memory"),
    ("--cpus", "/HostConfig/NanoCpus"),
    ("--pids-limit", "/HostConfig/PidsLimit"),
    ("--ulimit", "/HostConfig/Ulimits"),
];

/// hardrun's inspect as docker's would read without hardrun-init in front: the init's
/// path, expectations and `--` taken off the entrypoint (and so off Path and Args), and
/// its folder's mount taken off the mounts. What remains is what the init execs.
fn without_init(mut v: Value) -> Value {
    let init = |x: &Value| x.as_str() == Some("/.hardrun/init");
    if let Some(Value::Array(ep)) = v.pointer("/Config/Entrypoint").cloned()
        && ep.first().is_some_and(init)
        && ep.get(2).and_then(Value::as_str) == Some("--")
    {
        let rest: Vec<Value> = ep[3..].to_vec();
        v["Config"]["Entrypoint"] = if rest.is_empty() { Value::Null } else { Value::Array(rest) };
        let mut args: Vec<Value> = v["Args"].as_array().cloned().unwrap_or_default();
        assert!(v["Path"].as_str() == Some("/.hardrun/init") && args.len() >= 2, "{v:#}");
        args.drain(..2);
        v["Path"] = args.first().cloned().unwrap_or(Value::Null);
        v["Args"] = Value::Array(args.into_iter().skip(1).collect());
    }
    if let Some(Value::Array(mounts)) = v.pointer_mut("/HostConfig/Mounts") {
        mounts.retain(|m| m["Target"] != "/.hardrun");
        if mounts.is_empty()
            && let Some(hc) = v["HostConfig"].as_object_mut()
        {
            // docker leaves the key out when there are none.
            hc.remove("Mounts");
        }
    }
    v
}

fn labels_without_hardrun(v: &Value) -> Value {
    let mut labels = v.pointer("/Config/Labels").cloned().unwrap_or(Value::Null);
    if let Value::Object(m) = &mut labels {
        m.retain(|k, _| !k.starts_with("org.hardrun."));
    }
    labels
}

fn compare(scope: &Scope, cwd: &Path, image: &str, flags: &[&str], cmd: &[&str]) -> Vec<String> {
    let mut diffs = Vec::new();
    let mut docker_args = vec!["create", "-l", &scope.label];
    docker_args.extend_from_slice(flags);
    docker_args.push(image);
    docker_args.extend_from_slice(cmd);
    let out = std::process::Command::new("docker").args(&docker_args).current_dir(cwd).output().unwrap();
    assert!(out.status.success(), "docker {docker_args:?}: {}", String::from_utf8_lossy(&out.stderr));
    let theirs = inspect(String::from_utf8_lossy(&out.stdout).trim());

    let mut ours_args = vec!["-q", "create", "-l", &scope.label];
    ours_args.extend_from_slice(flags);
    ours_args.push(image);
    ours_args.extend_from_slice(cmd);
    let o = hardrun(&ours_args).current_dir(cwd).run().success();
    let ours = without_init(inspect(o.stdout().trim()));

    let mut fields: Vec<&str> = INTENT.to_vec();
    for (flag, field) in WHEN_ASKED {
        if flags.contains(flag) {
            fields.push(field);
        }
    }
    for f in fields {
        if field(&ours, f) != field(&theirs, f) {
            diffs.push(format!(
                "{f} for {flags:?} {cmd:?}: hardrun {:?} docker {:?}",
                ours.pointer(f),
                theirs.pointer(f)
            ));
        }
    }
    if labels_without_hardrun(&ours) != labels_without_hardrun(&theirs) {
        diffs.push(format!("labels for {flags:?}"));
    }
    if let Some(net) = flags.iter().position(|f| *f == "--network").map(|i| flags[i + 1]) {
        let aliases = |v: &Value| v.pointer(&format!("/NetworkSettings/Networks/{net}/Aliases")).cloned();
        if aliases(&ours) != aliases(&theirs) {
            diffs.push(format!("aliases for {flags:?}: hardrun {:?} docker {:?}", aliases(&ours), aliases(&theirs)));
        }
    }
    diffs
}

#[test]
fn everyday_invocations_keep_their_intent() {
    let Some(d) = daemon() else { return };
    let s = Scope::new();
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("data")).unwrap();
    std::fs::write(dir.path().join("env"), "# comment\nFROM_FILE=1\nSPACED=a b\n").unwrap();
    std::fs::write(dir.path().join("labels"), "tier=web\n").unwrap();
    let vol = s.volume("vol", &[]);
    let net = s.network("net");
    let bind_ro = "./data:/data:ro".to_string();
    let named = format!("{vol}:/cache");
    let mount_bind = "type=bind,src=./data,dst=/d,readonly".to_string();
    let mount_plain_vol = format!("type=volume,source={vol},target=/v2,readonly");
    let mount_vol = format!("type=volume,src={vol},dst=/v,volume-nocopy");

    let cases: Vec<(Vec<&str>, Vec<&str>)> = vec![
        (vec![], vec!["true"]),
        (vec![], vec![]),
        (vec!["-e", "A=1", "-e", "B=two words", "--env-file", "env"], vec!["env"]),
        (vec!["-l", "team=dev", "--label-file", "labels", "-l", "bare"], vec!["true"]),
        (vec!["-w", "/tmp", "-h", "box", "--domainname", "example.org"], vec!["true"]),
        (vec!["--entrypoint", "/bin/echo"], vec!["hi", "there"]),
        (vec!["--entrypoint", ""], vec!["echo", "hi"]),
        (vec!["-p", "127.0.0.1:8080:80", "-p", "53:53/udp", "--expose", "9000"], vec!["true"]),
        (vec!["-P", "--expose", "7000-7001", "-p", "8000-8001:80-81"], vec!["true"]),
        (vec!["--restart", "on-failure:3"], vec!["true"]),
        (vec!["--restart", "unless-stopped"], vec!["true"]),
        (vec!["--rm"], vec!["true"]),
        (vec!["--log-driver", "json-file", "--log-opt", "max-size=10m", "--log-opt", "max-file=2"], vec!["true"]),
        (
            vec![
                "--dns",
                "10.0.0.1",
                "--dns-search",
                "example.org",
                "--dns-option",
                "ndots:2",
                "--add-host",
                "db:10.0.0.2",
            ],
            vec![],
        ),
        (vec!["--stop-signal", "SIGINT", "--stop-timeout", "5"], vec!["true"]),
        (
            vec![
                "--health-cmd",
                "true",
                "--health-interval",
                "30s",
                "--health-retries",
                "3",
                "--health-timeout",
                "5s",
                "--health-start-period",
                "10s",
            ],
            vec!["true"],
        ),
        (vec!["--no-healthcheck"], vec!["true"]),
        (vec!["-i", "-t"], vec!["sh"]),
        (vec!["-i"], vec!["cat"]),
        (vec!["-t"], vec!["true"]),
        (vec!["-a", "stderr"], vec!["true"]),
        (vec!["-a", "stdin", "-a", "stdout"], vec!["true"]),
        (vec!["--init"], vec!["true"]),
        (vec!["-v", &bind_ro, "-v", &named, "-v", "/anon"], vec!["true"]),
        (vec!["--mount", &mount_bind], vec!["true"]),
        (vec!["--mount", "type=tmpfs,dst=/t,tmpfs-size=1m"], vec!["true"]),
        (vec!["--mount", &mount_vol], vec!["true"]),
        (
            vec!["--mount", &mount_plain_vol, "--mount", "type=bind,source=./data,target=/b,bind-propagation=rslave"],
            vec!["true"],
        ),
        (vec!["--tmpfs", "/cache:rw,size=64m"], vec!["true"]),
        (vec!["-u", "1000:1000", "--group-add", "audio"], vec!["id"]),
        (vec!["-m", "128m", "--cpus", "0.5", "--pids-limit", "100", "--ulimit", "nofile=512:1024"], vec!["true"]),
        (
            vec!["--shm-size", "128m", "--cpu-shares", "512", "--memory-reservation", "64m", "--oom-score-adj", "100"],
            vec!["true"],
        ),
        (vec!["--network", &net, "--network-alias", "api"], vec!["true"]),
        (vec!["--platform", "linux/amd64"], vec!["true"]),
    ];
    let diffs: Vec<String> =
        cases.iter().flat_map(|(flags, cmd)| compare(&s, dir.path(), &d.image, flags, cmd)).collect();
    drop(s);
    assert!(diffs.is_empty(), "{} differences:\n{}", diffs.len(), diffs.join("\n"));
}
