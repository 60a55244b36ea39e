//! hardrun as a docker CLI plugin, driven by the real docker CLI. Every docker call gets a
//! throw-away HOME and DOCKER_CONFIG, so the user's own config is neither read nor changed.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::{Scope, bin, daemon, hardrun};

/// `docker ARGS` with the temporary config, and without the caller's DOCKER_HOST/CONTEXT.
fn docker_in(home: &Path, args: &[&str]) -> Output {
    Command::new("docker")
        .args(args)
        .env("HOME", home)
        .env("DOCKER_CONFIG", home.join(".docker"))
        .env_remove("DOCKER_HOST")
        .env_remove("DOCKER_CONTEXT")
        .env_remove("HARDRUN_PROFILE")
        .env("XDG_CONFIG_HOME", "/nonexistent-hardrun-test")
        .output()
        .expect("docker runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A HOME with hardrun installed as its docker CLI plugin by `hardrun install-plugin`.
fn installed() -> tempfile::TempDir {
    let home = tempfile::tempdir().unwrap();
    let config = home.path().join(".docker");
    hardrun(["install-plugin"])
        .env("HOME", home.path().to_str().unwrap())
        .env("DOCKER_CONFIG", config.to_str().unwrap())
        .run()
        .success()
        .stderr_has("docker hardrun run");
    let link = config.join("cli-plugins/docker-hardrun");
    assert_eq!(std::fs::read_link(&link).unwrap(), bin(), "a link to this binary");
    home
}

#[test]
fn the_docker_cli_lists_the_plugin_from_its_metadata() {
    let Some(_) = daemon() else { return };
    let home = installed();
    let meta = Command::new(bin()).arg("docker-cli-plugin-metadata").output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&meta.stdout).unwrap();
    assert_eq!(v["SchemaVersion"], "0.1.0");
    let help = docker_in(home.path(), &["--help"]);
    let listed = text(&help.stdout).lines().any(|l| l.trim_start().starts_with("hardrun*"));
    assert!(listed, "docker --help lists the plugin:\n{}", text(&help.stdout));
    let o = docker_in(home.path(), &["hardrun", "plan", "--offline", "--format", "json", "img:1"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let plan: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(plan["create"]["HostConfig"]["CapDrop"][0], "ALL");
}

#[test]
fn docker_hardrun_run_behaves_as_hardrun_run() {
    let Some(d) = daemon() else { return };
    let s = Scope::new();
    let home = installed();
    let args =
        ["run", "--rm", "-l", &s.label, &d.image, "sh", "-c", "id -u; grep -c . /proc/self/status >/dev/null; exit 3"];
    let direct = hardrun(["-q"].iter().chain(args.iter())).run().status(3);
    let mut via = vec!["hardrun", "-q"];
    via.extend(args);
    let o = docker_in(home.path(), &via);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), direct.stdout(), "the same container, the same output");
    // A refusal is hardrun's, exit 125, with nothing created.
    let o = docker_in(home.path(), &["hardrun", "run", "--rm", "-l", &s.label, "--privileged", &d.image, "true"]);
    assert_eq!(o.status.code(), Some(125));
    assert!(text(&o.stderr).contains("--privileged"), "{}", text(&o.stderr));
    assert!(s.containers().is_empty());
}

#[test]
fn the_daemon_is_the_one_the_docker_cli_was_pointed_at() {
    let Some(d) = daemon() else { return };
    let s = Scope::new();
    let home = installed();
    let h = home.path();
    let real = common::docker(["context", "inspect", "-f", "{{.Endpoints.docker.Host}}"]);
    let real = real.trim();
    // Contexts of the temporary config: one to the real daemon, one to nowhere.
    for (name, host) in [("real", real), ("nowhere", "unix:///nonexistent/ctx.sock")] {
        let o = docker_in(h, &["context", "create", name, "--docker", &format!("host={host}")]);
        assert!(o.status.success(), "{}", text(&o.stderr));
    }
    let run = ["hardrun", "-q", "run", "--rm", "-l", &s.label, &d.image, "true"];
    let with = |pre: &[&str]| -> Output {
        let args: Vec<&str> = pre.iter().chain(run.iter()).copied().collect();
        docker_in(h, &args)
    };
    let o = with(&["--context", "real"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    for (pre, shown) in [
        (&["--context", "nowhere"][..], "/nonexistent/ctx.sock"),
        (&["-c", "nowhere"][..], "/nonexistent/ctx.sock"),
        (&["-H", "unix:///nonexistent/flag.sock"][..], "/nonexistent/flag.sock"),
        (&["--tlsverify", "-H", "tcp://127.0.0.1:1", "--tlscacert", "/nonexistent/ca.pem"][..], "127.0.0.1:1"),
    ] {
        let o = with(pre);
        assert_eq!(o.status.code(), Some(125), "{pre:?}: {}", text(&o.stderr));
        assert!(text(&o.stderr).contains(shown), "{pre:?}: {}", text(&o.stderr));
    }
    // docker's environment reaches the plugin too.
    let o = Command::new("docker")
        .args(run)
        .env("HOME", h)
        .env("DOCKER_CONFIG", h.join(".docker"))
        .env("DOCKER_HOST", "unix:///nonexistent/env.sock")
        .output()
        .unwrap();
    assert!(text(&o.stderr).contains("/nonexistent/env.sock"), "{}", text(&o.stderr));
    // --config names another config folder, with its own contexts (and plugins).
    let other = tempfile::tempdir().unwrap();
    let other_cfg = other.path().to_str().unwrap();
    let plugins = other.path().join("cli-plugins");
    hardrun(["install-plugin", "--dir", plugins.to_str().unwrap()]).run().success();
    let o = docker_in(
        h,
        &["--config", other_cfg, "context", "create", "elsewhere", "--docker", "host=unix:///nonexistent/cfg.sock"],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    let o = with(&["--config", other_cfg, "--context", "elsewhere"]);
    assert!(text(&o.stderr).contains("/nonexistent/cfg.sock"), "{}", text(&o.stderr));
    assert!(s.containers().is_empty());
}
