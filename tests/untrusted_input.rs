//! Input hardrun does not control, used as an attacker would: devices, FIFOs and huge
//! files where a file is expected, profiles nested 100,000 deep, a cloned repository's
//! ./.hardrun/profiles/default.yaml that loosens everything, and an image whose label
//! key drives the terminal. Each is refused or passed over in one line, quickly.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::{Scope, daemon, docker, hardrun};

const QUICK: Duration = Duration::from_secs(10);

fn fifo(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    assert!(Command::new("mkfifo").arg(&path).status().unwrap().success());
    path
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn env_and_label_files_must_be_small_regular_files() {
    let d = tempfile::tempdir().unwrap();
    let pipe = fifo(d.path(), "env.fifo");
    let huge = d.path().join("huge.env");
    std::fs::write(&huge, "A=1\n".repeat(600_000)).unwrap();
    for (flag, file, says) in [
        ("--env-file", "/dev/zero", "--env-file /dev/zero: a character device, not a regular file"),
        ("--label-file", "/dev/urandom", "--label-file /dev/urandom: a character device, not a regular file"),
        ("--env-file", s(&pipe), "a FIFO, not a regular file"),
        ("--label-file", s(&pipe), "a FIFO, not a regular file"),
        ("--env-file", s(&huge), "larger than 1 MiB"),
    ] {
        for cmd in ["plan", "run"] {
            let o = hardrun([cmd, flag, file, "img:1"])
                .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
                .timeout(QUICK)
                .run()
                .fails()
                .stderr_has(says);
            assert_eq!(o.stderr().lines().count(), 1, "{}", o.stderr());
        }
    }
}

#[test]
fn seccomp_and_apparmor_checks_read_bounded_regular_files() {
    let d = tempfile::tempdir().unwrap();
    let pipe = fifo(d.path(), "profile.fifo");
    let huge = d.path().join("huge.json");
    std::fs::write(&huge, format!("{{\"comment\":\"{}\"}}", "x".repeat(5 << 20))).unwrap();
    let deep = d.path().join("deep.json");
    std::fs::write(&deep, "[".repeat(100_000)).unwrap();
    for (kind, file, says) in [
        ("seccomp", "/dev/zero", "a character device, not a regular file"),
        ("seccomp", s(&pipe), "a FIFO"),
        ("seccomp", s(&huge), "larger than 4 MiB"),
        ("seccomp", s(&deep), "not a seccomp profile"),
        ("apparmor", "/dev/zero", "a character device"),
        ("apparmor", s(&pipe), "a FIFO"),
    ] {
        hardrun([kind, "check", file]).timeout(QUICK).run().fails().stderr_has(says);
    }
}

#[test]
fn hostile_profile_files_fail_fast() {
    let d = tempfile::tempdir().unwrap();
    let pipe = fifo(d.path(), "p.yaml");
    hardrun(["--profile-file", s(&pipe), "plan", "img:1"]).timeout(QUICK).run().fails().stderr_has("a FIFO");
    let deep = d.path().join("deep.yaml");
    std::fs::write(&deep, format!("description: {}\n", "[".repeat(100_000))).unwrap();
    let o = hardrun(["--profile-file", s(&deep), "plan", "img:1"])
        .timeout(QUICK)
        .run()
        .fails()
        .stderr_has("deep.yaml line 1: nested more than 32 levels deep");
    assert!(o.elapsed < Duration::from_secs(3), "{:?}", o.elapsed);
    let map = d.path().join("map.yaml");
    std::fs::write(&map, format!("description: {}1{}\n", "{a: ".repeat(100_000), "}".repeat(100_000))).unwrap();
    hardrun(["profile", "validate", s(&map)]).timeout(QUICK).run().fails().stderr_has("nested more than 32");
    let compose_pipe = fifo(d.path(), "compose.yaml");
    hardrun(["compose", "-f", s(&compose_pipe), "config"]).timeout(QUICK).run().fails().stderr_has("a FIFO");
    let compose_deep = d.path().join("deep-compose.yaml");
    std::fs::write(&compose_deep, format!("services: {}\n", "{a: ".repeat(100_000))).unwrap();
    hardrun(["compose", "-f", s(&compose_deep), "config"])
        .timeout(QUICK)
        .run()
        .fails()
        .stderr_has("nested more than 32");
    let big = d.path().join("big.yaml");
    std::fs::write(&big, "#".repeat(2 << 20)).unwrap();
    hardrun(["--profile-file", s(&big), "plan", "img:1"]).timeout(QUICK).run().fails().stderr_has("larger than 1 MiB");
    // In the project folder, a FIFO is passed over like any untrusted file.
    let project = tempfile::tempdir().unwrap();
    let dir = project.path().join(".hardrun/profiles");
    std::fs::create_dir_all(&dir).unwrap();
    fifo(&dir, "default.yaml");
    hardrun(["plan", "img:1"])
        .current_dir(project.path())
        .timeout(QUICK)
        .run()
        .success()
        .stderr_has("default.yaml in the project folder cannot be used: a FIFO");
}

/// A seccomp profile that opens the ways out of a container: the bundled default plus
/// unshare, mount, keyctl, bpf and ptrace.
fn escape_seccomp() -> String {
    let text = hardrun(["seccomp", "export", "hardrun-default"]).run().success().stdout();
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["syscalls"].as_array_mut().unwrap().push(serde_json::json!({
        "names": ["unshare", "mount", "keyctl", "bpf", "ptrace"],
        "action": "SCMP_ACT_ALLOW"
    }));
    v.to_string()
}

const LOOSE: &str = "extends: default
description: the project's settings
capabilities:
  add: [NET_RAW, CHOWN, SETUID, SETGID]
filesystem:
  read_only: false
resources:
  memory: {default: unlimited, max: unlimited}
seccomp:
  profile: escape.json
  allow_escape_routes: [unshare, mount, keyctl, bpf, ptrace]
";

/// A repository as cloned: its ./.hardrun/profiles/default.yaml loosens everything.
fn cloned_repository() -> (tempfile::TempDir, String) {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("repo/.hardrun/profiles");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("default.yaml"), LOOSE).unwrap();
    std::fs::write(dir.join("escape.json"), escape_seccomp()).unwrap();
    let config = d.path().join("config").to_str().unwrap().to_string();
    (d, config)
}

#[test]
fn a_cloned_projects_profile_takes_effect_only_once_trusted() {
    let (d, config) = cloned_repository();
    let repo = d.path().join("repo");
    let plan =
        || hardrun(["plan", "--format", "json", "img:1.2"]).current_dir(&repo).env("XDG_CONFIG_HOME", &config).run();
    let o = plan()
        .success()
        .stderr_has("passed over")
        .stderr_has(".hardrun/profiles/default.yaml comes with the project folder")
        .stderr_has("hardrun profile trust");
    let hc = &o.json()["create"]["HostConfig"];
    assert_eq!(hc["ReadonlyRootfs"], true, "the bundled default is in force");
    assert!(hc["CapAdd"].is_null(), "{}", hc["CapAdd"]);
    assert_eq!(hc["Memory"], 512 << 20);

    hardrun(["profile", "trust", ".hardrun/profiles/default.yaml"])
        .current_dir(&repo)
        .env("XDG_CONFIG_HOME", &config)
        .run()
        .success()
        .stderr_has("trusted ")
        .stderr_has("escape.json, the seccomp profile it names");
    let o = plan().success().stderr_has("default.yaml (trusted project file), then bundled:default");
    let hc = &o.json()["create"]["HostConfig"];
    assert_eq!(hc["ReadonlyRootfs"], false, "trusted, the project's profile is in force");
    assert!(hc["CapAdd"].as_array().unwrap().iter().any(|c| c == "CAP_NET_RAW"), "{}", hc["CapAdd"]);

    // A change after the review (a pull, a checkout) untrusts it; so does a changed seccomp file.
    std::fs::write(repo.join(".hardrun/profiles/default.yaml"), format!("{LOOSE}# one more line\n")).unwrap();
    let o = plan().success().stderr_has("passed over");
    assert_eq!(o.json()["create"]["HostConfig"]["ReadonlyRootfs"], true);
    hardrun(["profile", "trust", ".hardrun/profiles/default.yaml"])
        .current_dir(&repo)
        .env("XDG_CONFIG_HOME", &config)
        .run()
        .success();
    std::fs::write(repo.join(".hardrun/profiles/escape.json"), escape_seccomp().replace("\"bpf\",", "")).unwrap();
    plan().fails().stderr_has("escape.json is named by a project profile and is not trusted");

    hardrun(["profile", "untrust", ".hardrun/profiles/default.yaml"])
        .current_dir(&repo)
        .env("XDG_CONFIG_HOME", &config)
        .run()
        .success()
        .stderr_has("no longer trusted");
    plan().success().stderr_has("passed over");
}

#[test]
fn seccomp_escape_routes_need_the_profiles_explicit_key() {
    let (d, config) = cloned_repository();
    let repo = d.path().join("repo");
    let chosen = d.path().join("chosen.yaml");
    std::fs::write(&chosen, "extends: default\nseccomp:\n  profile: repo/.hardrun/profiles/escape.json\n").unwrap();
    hardrun(["--profile-file", s(&chosen), "plan", "img:1.2"])
        .run()
        .fails()
        .stderr_has("lets unshare, mount, bpf, ptrace, keyctl run")
        .stderr_has("seccomp.allow_escape_routes");
    let o = hardrun(["--profile-file", s(&repo.join(".hardrun/profiles/default.yaml")), "plan", "img:1.2"])
        .env("XDG_CONFIG_HOME", &config)
        .run()
        .success();
    o.stderr_has("default.yaml (--profile-file), then bundled:default");
}

#[test]
fn an_image_label_that_drives_the_terminal_is_printed_escaped() {
    let Some(d) = daemon() else { return };
    let scope = Scope::new();
    let key = "com.example.\x1b]0;pwned\x07\x1b[2Jdeploy-token";
    let token = format!("ghp_{}", "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8");
    let name = format!("hardrun-test/hostile-label-{}:1", scope.name("x").replace(['=', '/'], "-"));
    let maker = docker(["create", "-l", &scope.label, &d.image, "true"]).trim().to_string();
    docker(["commit", "-c", &format!("LABEL \"{key}\"=\"{token}\""), &maker, &name]);
    docker(["rm", &maker]);
    let _image = ImageGuard(name.clone());
    let o = hardrun(["run", "--rm", "-l", &scope.label, &name, "true"]).run().fails();
    let err = o.stderr();
    assert!(!err.contains('\x1b') && !err.contains('\x07'), "raw escapes reached the terminal: {err:?}");
    assert!(err.contains("label com.example.\\x1b]0;pwned\\x07\\x1b[2Jdeploy-token holds a GitHub token"), "{err}");
    assert!(!err.contains(&token[4..]), "the secret itself is never shown");
    assert!(scope.containers().is_empty(), "nothing was created");
    let o = hardrun(["image", "check", &name]).run().status(1);
    assert!(!o.stdout().contains('\x1b') && !o.stdout().contains('\x07'), "{:?}", o.stdout());
    assert!(o.stdout().contains("\\x1b]0;pwned\\x07"), "{}", o.stdout());
}

/// Removes the test's image, even when the test fails.
struct ImageGuard(String);

impl Drop for ImageGuard {
    fn drop(&mut self) {
        let _ = Command::new("docker").args(["image", "rm", "-f", &self.0]).output();
    }
}
