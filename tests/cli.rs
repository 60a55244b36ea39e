//! hardrun's command line without a daemon: parsing, refusals, plans and profiles.

mod common;

use common::hardrun;

#[test]
fn refusals_exit_125_with_one_line_each_and_nothing_else() {
    let o = hardrun(["plan", "--privileged", "--net=host", "-u", "0", "-v", "/:/host", "img"]).run().fails();
    let lines: Vec<String> = o.stderr().lines().map(str::to_string).collect();
    assert_eq!(lines.len(), 6, "five refusals and the summary: {lines:?}");
    assert!(lines.iter().take(5).all(|l| l.starts_with("hardrun: refused ")));
    assert_eq!(o.stdout(), "");
}

#[test]
fn run_refuses_before_touching_the_daemon() {
    // An unreachable daemon proves the refusal came first.
    hardrun(["run", "--privileged", "img:1"])
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .run()
        .fails()
        .stderr_has("refused --privileged");
}

#[test]
fn unknown_flags_are_errors_never_passed_through() {
    hardrun(["run", "--frobnicate", "img:1"]).run().fails().stderr_has("unknown flag: --frobnicate");
    hardrun(["run", "-Z", "img:1"]).run().fails().stderr_has("-Z");
}

#[test]
fn bad_values_name_the_flag() {
    hardrun(["plan", "-m", "lots", "img:1"]).run().fails().stderr_has("--memory");
    hardrun(["plan", "-p", "99999:80", "img:1"]).run().fails().stderr_has("-p 99999:80");
    hardrun(["plan", "--cpus", "1e9", "img:1"]).run().fails().stderr_has("--cpus");
    hardrun(["plan", "--ulimit", "nofile=99999999999999999999", "img:1"]).run().fails().stderr_has("ulimit");
    hardrun(["plan", "--env-file", "/nonexistent/env", "img:1"]).run().fails().stderr_has("/nonexistent/env");
    hardrun(["plan"]).run().fails().stderr_has("IMAGE");
}

#[test]
fn huge_values_are_refused_not_overflowed() {
    hardrun(["plan", "-m", "99999999999999p", "img:1"]).run().fails().stderr_has("--memory");
    hardrun(["plan", "--pids-limit", "9223372036854775807", "img:1"]).run().fails().stderr_has("resources.pids.max");
    hardrun(["plan", "--cpus", "99999999999", "img:1"]).run().fails();
}

#[test]
fn plan_table_explains_each_control() {
    hardrun(["plan", "--memory", "128m", "img:1.2"])
        .run()
        .success()
        .stdout_has("flag --memory 128m")
        .stdout_has("profile resources.cpus.default (bundled:default)")
        .stdout_has("drop ALL");
}

#[test]
fn plan_json_carries_the_engine_api_body() {
    let o =
        hardrun(["plan", "--format", "json", "--name", "web", "-p", "127.0.0.1:8080:80", "img:1.2"]).run().success();
    let v = o.json();
    let hc = &v["create"]["HostConfig"];
    assert_eq!(hc["CapDrop"], serde_json::json!(["ALL"]));
    assert_eq!(hc["ReadonlyRootfs"], true);
    assert_eq!(hc["PortBindings"]["80/tcp"][0]["HostIp"], "127.0.0.1");
    assert!(hc["SecurityOpt"].as_array().unwrap().iter().any(|o| o.as_str().unwrap().starts_with("seccomp={")));
    assert_eq!(v["name"], "web");
    assert!(v["decisions"].as_array().unwrap().len() > 5);
    assert_eq!(v["create"]["Image"], "img:1.2");
}

#[test]
fn plan_docker_is_a_pastable_command_line() {
    let o =
        hardrun(["plan", "--format", "docker", "-e", "GREETING=hello world", "img:1.2", "sh", "-c", "echo $GREETING"])
            .env("XDG_CACHE_HOME", std::env::temp_dir().join("hardrun-test-cache").to_str().unwrap())
            .run()
            .success();
    let words = shell_words::split(o.stdout().trim()).unwrap();
    assert_eq!(&words[..2], ["docker", "run"]);
    assert!(words.windows(2).any(|w| w == ["-e", "GREETING=hello world"]));
    assert!(words.windows(2).any(|w| w == ["--cap-drop", "ALL"]));
    let seccomp = words.iter().find(|w| w.starts_with("seccomp=")).unwrap();
    let path = seccomp.trim_start_matches("seccomp=");
    assert!(std::path::Path::new(path).is_file(), "the seccomp profile is written where the command points");
    assert_eq!(&words[words.len() - 4..], ["img:1.2", "sh", "-c", "echo $GREETING"]);
}

#[test]
fn profiles_list_show_validate() {
    hardrun(["profile", "list"]).run().success().stdout_has("default").stdout_has("web").stdout_has("strict");
    hardrun(["profile", "show", "web", "--resolved"]).run().success().stdout_has("# from bundled:web");
    hardrun(["profile", "show", "nope"]).run().fails().stderr_has("not found");
    let d = tempfile::tempdir().unwrap();
    let good = d.path().join("good.yaml");
    std::fs::write(&good, "extends: web\nresources:\n  memory: {default: 256m}\n").unwrap();
    let bad = d.path().join("bad.yaml");
    std::fs::write(&bad, "extends: default\ncapabilites:\n  add: []\n").unwrap();
    hardrun(["profile", "validate", good.to_str().unwrap()]).run().success();
    hardrun(["profile", "validate", bad.to_str().unwrap()])
        .run()
        .fails()
        .stderr_has("line 2")
        .stderr_has("capabilites");
}

#[test]
fn malformed_profiles_are_one_line_errors() {
    let d = tempfile::tempdir().unwrap();
    for (name, text, expect) in [
        ("tabs.yaml", "user:\n\tdefault: 1\n", "tabs.yaml"),
        ("type.yaml", "no_new_privileges: maybe\n", "no_new_privileges"),
        ("cycle.yaml", "extends: cycle\n", "not on the search path"),
        ("huge.yaml", "resources:\n  memory: {max: 999999999999999999999999g}\n", "line 2"),
    ] {
        let p = d.path().join(name);
        std::fs::write(&p, text).unwrap();
        hardrun(["--profile-file", p.to_str().unwrap(), "plan", "img:1"]).run().fails().stderr_has(expect);
    }
}

#[test]
fn project_profiles_are_found_in_the_working_directory_once_trusted() {
    let d = tempfile::tempdir().unwrap();
    let config = d.path().join("config");
    let dir = d.path().join(".hardrun/profiles");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("api.yaml"), "extends: web\ncapabilities:\n  allow: [NET_BIND_SERVICE, NET_RAW]\n")
        .unwrap();
    let config = config.to_str().unwrap();
    hardrun(["plan", "--profile", "api", "--cap-add", "NET_RAW", "img:1"])
        .current_dir(d.path())
        .env("XDG_CONFIG_HOME", config)
        .run()
        .fails()
        .stderr_has("hardrun profile trust");
    hardrun(["profile", "trust", ".hardrun/profiles/api.yaml"])
        .current_dir(d.path())
        .env("XDG_CONFIG_HOME", config)
        .run()
        .success();
    hardrun(["plan", "--profile", "api", "--cap-add", "NET_RAW", "img:1"])
        .current_dir(d.path())
        .env("XDG_CONFIG_HOME", config)
        .run()
        .success()
        .stdout_has("add NET_RAW")
        .stderr_has("api.yaml (trusted project file), then bundled:web");
    hardrun(["plan", "--cap-add", "NET_RAW", "img:1"])
        .current_dir(d.path())
        .run()
        .fails()
        .stderr_has("capabilities.allow");
}

#[test]
fn unreachable_daemon_is_one_line_within_seconds() {
    for host in ["unix:///nonexistent/docker.sock", "tcp://127.0.0.1:1"] {
        let o = hardrun(["-H", host, "run", "img:1"])
            .run()
            .fails()
            .stderr_has("cannot reach the Docker daemon")
            .stderr_has(host);
        assert!(o.elapsed.as_secs() < 6, "{:?}", o.elapsed);
        assert_eq!(o.stderr().lines().count(), 1, "{}", o.stderr());
    }
}

#[test]
fn help_and_completions_come_from_the_flag_table() {
    hardrun(["run", "--help"]).run().success().stdout_has("--memory").stdout_has("Security").stdout_has("--cap-add");
    hardrun(["completions", "bash"]).run().success().stdout_has("--security-opt");
}

#[test]
fn kernel_profiles_can_be_exported_and_checked() {
    let d = tempfile::tempdir().unwrap();
    let exported = hardrun(["seccomp", "export", "hardrun-strict"]).run().success().stdout();
    let strict = d.path().join("strict.json");
    std::fs::write(&strict, exported).unwrap();
    hardrun(["seccomp", "check", strict.to_str().unwrap()]).run().success().stderr_lacks("warning");
    let loose = d.path().join("loose.json");
    std::fs::write(
        &loose,
        r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read","unshare"],"action":"SCMP_ACT_ALLOW"}]}"#,
    )
    .unwrap();
    hardrun(["seccomp", "check", loose.to_str().unwrap()]).run().success().stderr_has("allows unshare unconditionally");
    let broken = d.path().join("broken.json");
    std::fs::write(&broken, "{nope").unwrap();
    hardrun(["seccomp", "check", broken.to_str().unwrap()]).run().fails();
    hardrun(["apparmor", "export", "hardrun-default"]).run().success().stdout_has("profile hardrun-default");
    hardrun(["seccomp", "export", "nope"]).run().fails().stderr_has("hardrun-default");
}

#[test]
fn the_minor_tag_rule_suggests_no_invented_version() {
    hardrun(["--profile", "strict", "plan", "--offline", "rw-postgres:15"])
        .run()
        .fails()
        .stderr_has("rw-postgres:15.MINOR")
        .stderr_has("hardrun plan --pin rw-postgres:15")
        .stderr_lacks("1.25");
}

#[test]
fn invalid_image_references_are_one_line_at_once() {
    // Each of these once spun at 100% CPU forever (and ignored Ctrl-C under `run`).
    for bad in ["a=b", "ok/a*b:1", "my image:1", "aéb:1", "a\x1b]0;pwned\x07:1"] {
        for cmd in ["plan", "run", "create"] {
            let o = hardrun([cmd, bad])
                .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
                .timeout(std::time::Duration::from_secs(10))
                .run()
                .fails()
                .stderr_has("invalid image reference")
                .stderr_lacks("\x1b");
            assert_eq!(o.stderr().lines().count(), 1, "{}", o.stderr());
        }
    }
    hardrun(["image", "check", "a=b"]).run().fails().stderr_has("'=' cannot appear");
}
