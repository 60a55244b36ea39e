//! The image gate against the real daemon: secrets, named users, minimal images, the
//! `image check` report, digests through the local registry, and a stand-in scanner.
//! Each test imports its own throw-away images (so it does not depend on, or disturb,
//! the shared test images) and removes them, and every container, even on failure.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::{Scope, Test, daemon, docker, hardrun, inspect};

static N: AtomicUsize = AtomicUsize::new(0);

/// Secret-looking test values, put together at run time so no scanner flags this file.
fn aws_key() -> String {
    format!("AKIA{}", "IOSFODNN7EXAMPLE")
}

fn github_token() -> String {
    format!("ghp_{}", "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8")
}

/// An image made by the test; removed (by ID, so every tag and digest goes) on drop.
/// Declare images before the `Scope`, so containers are removed first.
struct Image {
    name: String,
    id: String,
}

impl Drop for Image {
    fn drop(&mut self) {
        let _ = Command::new("docker").args(["image", "rm", "-f", &self.id]).output();
    }
}

fn unique(base: &str) -> String {
    format!("hardrun-test/gate-{base}-{}-{}:1", std::process::id(), N.fetch_add(1, Ordering::SeqCst))
}

/// What goes into a test image's root filesystem.
#[derive(Default)]
struct Rootfs {
    /// /bin/busybox with /bin/sh and /bin/id (else busybox is stored as /app/server).
    shell: bool,
    passwd: Option<&'static str>,
    group: Option<&'static str>,
    /// Further executable files (a copy of busybox under another name).
    executables: &'static [&'static str],
    /// Symlinks (path, target), e.g. a merged /usr: ("/sbin", "usr/sbin").
    symlinks: &'static [(&'static str, &'static str)],
}

const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\napp:x:10001:10001::/home/app:/bin/sh\ntoor:x:0:0::/:/bin/sh\n";
const GROUP: &str = "root:x:0:\napp:x:10001:\nwheel:x:0:\n";

/// `docker import` of a tiny root filesystem, with Dockerfile `changes` (ENV, LABEL, USER).
fn import(base: &str, fs: Rootfs, changes: &[String]) -> Image {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let busybox = Path::new("/bin/busybox");
    for d in ["bin", "etc", "tmp", "app"] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    if fs.shell {
        std::fs::copy(busybox, root.join("bin/busybox")).unwrap();
        for applet in ["sh", "id", "true", "sleep"] {
            std::os::unix::fs::symlink("busybox", root.join("bin").join(applet)).unwrap();
        }
    } else {
        std::fs::copy(busybox, root.join("app/server")).unwrap();
    }
    for exe in fs.executables {
        let path = root.join(exe.trim_start_matches('/'));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::copy(busybox, &path).unwrap();
    }
    for (path, target) in fs.symlinks {
        std::os::unix::fs::symlink(target, root.join(path.trim_start_matches('/'))).unwrap();
    }
    if let Some(p) = fs.passwd {
        std::fs::write(root.join("etc/passwd"), p).unwrap();
    }
    if let Some(g) = fs.group {
        std::fs::write(root.join("etc/group"), g).unwrap();
    }
    let tar = dir.path().join("root.tar");
    let ok = Command::new("tar").arg("-C").arg(&root).arg("-cf").arg(&tar).arg(".").status().unwrap();
    assert!(ok.success());
    let name = unique(base);
    let mut args = vec!["import".to_string()];
    // The test's own changes come last, so they win.
    for c in ["ENV PATH=/bin", "LABEL org.hardrun.test=1"].into_iter().chain(changes.iter().map(String::as_str)) {
        args.extend(["-c".to_string(), c.to_string()]);
    }
    args.extend([tar.display().to_string(), name.clone()]);
    let id = docker(&args).trim().to_string();
    Image { name, id }
}

/// A child of `parent` whose history entry holds `command` (as `docker commit` records a
/// container's command); the container is made in `scope`.
fn commit(parent: &Image, scope: &Scope, command: &str) -> Image {
    let name = unique("commit");
    let c = docker(["create", "-l", &scope.label, &parent.name, "sh", "-c", command]).trim().to_string();
    let id = docker(["commit", &c, &name]).trim().to_string();
    docker(["rm", &c]);
    Image { name, id }
}

/// A profile file extending the default one.
fn profile(dir: &Path, yaml: &str) -> String {
    let path = dir.join(format!("p{}.yaml", N.fetch_add(1, Ordering::SeqCst)));
    std::fs::write(&path, format!("extends: default\n{yaml}")).unwrap();
    path.display().to_string()
}

/// hardrun with its own cache folder (the test's, not the developer's).
fn hr<I: IntoIterator<Item = S>, S: AsRef<str>>(cache: &Path, args: I) -> Test {
    hardrun(args).env("XDG_CACHE_HOME", cache.to_str().unwrap())
}

fn run_args(scope: &Scope, profile: Option<&str>, image: &str, cmd: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = Vec::new();
    if let Some(p) = profile {
        v.extend(["--profile-file".into(), p.into()]);
    }
    v.extend(["run", "--rm", "-l", &scope.label].map(String::from));
    v.push(image.into());
    v.extend(cmd.iter().map(|s| s.to_string()));
    v
}

fn probes_of(image: &Image) -> String {
    docker(["ps", "-aq", "--filter", "label=org.hardrun.probe", "--filter", &format!("ancestor={}", image.id)])
}

#[test]
fn secrets_in_env_labels_and_history_are_refused_and_masked() {
    let Some(_d) = daemon() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let leaky = import(
        "leaky",
        Rootfs { shell: true, ..Rootfs::default() },
        &[format!("ENV AWS_ACCESS_KEY_ID={}", aws_key()), format!("LABEL com.example.deploy-token={}", github_token())],
    );
    let s = Scope::new();
    let child = commit(&leaky, &s, "NPM_TOKEN=s3cr3t-npm-value true");
    let o = hr(tmp.path(), run_args(&s, None, &child.name, &["true"])).run().fails();
    let err = o.stderr();
    for place in ["(env AWS_ACCESS_KEY_ID)", "(label com.example.deploy-token)", "(layer 2)"] {
        assert!(err.lines().any(|l| l.starts_with("hardrun: refused image") && l.contains(place)), "{place}: {err}");
    }
    assert!(err.contains("AKIA****** (20 chars)") && err.contains("ghp_****** (40 chars)"), "{err}");
    assert!(err.contains("profile key image.secrets"), "{err}");
    for raw in [aws_key(), github_token(), "s3cr3t-npm-value".to_string()] {
        assert!(!err.contains(&raw), "the value is shown: {err}");
    }
    assert!(s.containers().is_empty(), "nothing was created: {:?}", s.containers());

    // The same gate alone, as JSON: places and masked values, and exit 1.
    let o = hr(tmp.path(), ["image", "check", "--format", "json", &child.name]).run().status(1);
    let report = o.json();
    assert_eq!(report["refused"], true);
    let places: Vec<&str> =
        report["secrets"].as_array().unwrap().iter().map(|s| s["place"].as_str().unwrap()).collect();
    assert_eq!(places, ["env AWS_ACCESS_KEY_ID", "label com.example.deploy-token", "layer 2"]);
    assert!(!o.stdout().contains(&aws_key()));

    // warn lets it run with the warning; off says nothing.
    let warn = profile(tmp.path(), "image:\n  secrets: warn\n");
    hr(tmp.path(), run_args(&s, Some(&warn), &child.name, &["true"]))
        .run()
        .success()
        .stderr_has("hardrun: note: warning: image")
        .stderr_has("(profile key image.secrets)");
    let off = profile(tmp.path(), "image:\n  secrets: off\n");
    hr(tmp.path(), run_args(&s, Some(&off), &child.name, &["true"])).run().success().stderr_lacks("secret");
}

#[test]
fn image_check_reports_every_check_with_its_key() {
    let Some(_d) = daemon() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let img = import(
        "clean",
        Rootfs { shell: true, passwd: Some(PASSWD), group: Some(GROUP), ..Rootfs::default() },
        &["USER 10001:10001".into()],
    );
    let o = hr(tmp.path(), ["image", "check", "--format", "json", &img.name]).run().success();
    let r = o.json();
    assert_eq!(r["refused"], false);
    assert_eq!(r["id"], img.id.as_str());
    assert_eq!(r["user"], "10001:10001");
    assert_eq!(r["layers"], 1);
    assert!(r["size"].as_u64().unwrap() > 1_000_000);
    assert_eq!(r["shells"], serde_json::json!(["busybox", "sh"]));
    assert_eq!(r["package_managers"], serde_json::json!([]));
    let checks: Vec<(String, String)> = r["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["check"].as_str().unwrap().to_string(), c["key"].as_str().unwrap().to_string()))
        .collect();
    let expected = [
        ("tag", "image.tags"),
        ("registry", "image.registries"),
        ("digest", "image.require_digest"),
        ("user", "user.default"),
        ("writable", "filesystem.image_tmpfs"),
        ("secrets", "image.secrets"),
        ("minimal", "image.minimal"),
        ("scan", "image.scan"),
    ];
    assert_eq!(checks, expected.map(|(c, k)| (c.to_string(), k.to_string())));
    let table = hr(tmp.path(), ["image", "check", &img.name]).run().success();
    table.stdout_has("PROFILE KEY").stdout_has("image.minimal").stdout_has("shell: busybox, sh");
    assert!(probes_of(&img).trim().is_empty(), "the look inside left a container");
}

#[test]
fn minimal_images_are_found_by_their_files() {
    let Some(_d) = daemon() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let bare = import("bare", Rootfs::default(), &["USER 10001:10001".into(), r#"CMD ["/app/server"]"#.into()]);
    let packaged = import(
        "packaged",
        Rootfs {
            executables: &["/usr/bin/apt-get", "/opt/venv/bin/pip", "/usr/sbin/apk"],
            symlinks: &[("/sbin", "usr/sbin")],
            ..Rootfs::default()
        },
        &["USER 10001:10001".into(), "ENV PATH=/opt/venv/bin:/usr/bin".into()],
    );
    let minimal = profile(tmp.path(), "image:\n  minimal: true\n");
    hr(tmp.path(), ["--profile-file", &minimal, "image", "check", &bare.name])
        .run()
        .success()
        .stdout_has("no shell; no package manager");
    let o = hr(tmp.path(), ["--profile-file", &minimal, "image", "check", "--format", "json", &packaged.name])
        .run()
        .status(1);
    assert_eq!(o.json()["package_managers"], serde_json::json!(["apk", "apt", "pip"]));
    let found = &o.json()["executables"];
    assert_eq!(found, &serde_json::json!(["/opt/venv/bin/pip", "/usr/bin/apt-get", "/usr/sbin/apk"]), "/sbin once");
    assert_eq!(o.json()["shells"], serde_json::json!([]));
    let s = Scope::new();
    hr(tmp.path(), ["--profile-file", &minimal, "create", "-l", &s.label, &packaged.name])
        .run()
        .fails()
        .stderr_has("a package manager (apk, apt, pip)")
        .stderr_has("image.minimal");
    assert!(s.containers().is_empty());
    hr(tmp.path(), ["--profile-file", &minimal, "-q", "create", "-l", &s.label, &bare.name]).run().success();
    assert_eq!(s.containers().len(), 1);
}

#[test]
fn named_users_are_resolved_in_the_images_passwd() {
    let Some(_d) = daemon() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let fs = || Rootfs { shell: true, passwd: Some(PASSWD), group: Some(GROUP), ..Rootfs::default() };
    let app = import("named", fs(), &["USER app".into()]);
    let toor = import("toor", fs(), &["USER toor".into()]);
    let ghost = import("ghost", fs(), &["USER ghost".into()]);
    let no_passwd = import("nopasswd", Rootfs { shell: true, ..Rootfs::default() }, &["USER app".into()]);
    let s = Scope::new();
    let image_user = profile(tmp.path(), "user:\n  default: image\n");
    let run = |image: &str, extra: &[&str]| {
        let mut args = vec!["--profile-file".to_string(), image_user.clone(), "run".into(), "--rm".into()];
        args.extend(["-l".to_string(), s.label.clone()]);
        args.extend(extra.iter().map(|a| a.to_string()));
        args.extend([image.to_string(), "id".into()]);
        hr(tmp.path(), args).run()
    };
    run(&app.name, &[]).success().stdout_has("uid=10001(app) gid=10001(app)");
    run(&toor.name, &[]).fails().stderr_has("make toor uid 0 gid 0: root").stderr_has("user.default");
    run(&ghost.name, &[]).fails().stderr_has("no user \"ghost\"").stderr_has("--user 10001:10001");
    run(&no_passwd.name, &[]).fails().stderr_has("the image has no /etc/passwd");
    run(&app.name, &["--user", "toor"]).fails().stderr_has("refused --user toor");
    run(&app.name, &["--group-add", "wheel"]).fails().stderr_has("wheel gid 0, the root group");
    // A group the image lacks grants nothing: created as docker would (runc refuses it at start).
    let create =
        ["--profile-file", &image_user, "-q", "create", "-l", &s.label, "--group-add", "nosuch", &app.name, "id"];
    hr(tmp.path(), create).run().success();
    run(&no_passwd.name, &["--user", "10001:10001"]).success().stdout_has("uid=10001 gid=10001");
    assert_eq!(s.containers().len(), 1, "only the one created");
}

/// Writes a stand-in scanner: it logs each call and prints `fixture` (Trivy or Grype JSON).
fn scanner(dir: &Path, name: &str, fixture: &str) -> (String, PathBuf) {
    let log = dir.join(format!("{name}.log"));
    let script = dir.join(name);
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(fixture);
    std::fs::write(&script, format!("#!/bin/sh\necho \"$@\" >> '{}'\ncat '{}'\n", log.display(), fixture.display()))
        .unwrap();
    Command::new("chmod").arg("755").arg(&script).status().unwrap();
    (script.display().to_string(), log)
}

fn calls(log: &Path) -> usize {
    std::fs::read_to_string(log).map(|t| t.lines().count()).unwrap_or(0)
}

#[test]
fn scanners_refuse_at_the_threshold_and_are_cached_per_image() {
    let Some(_d) = daemon() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let img = import("scan", Rootfs { shell: true, ..Rootfs::default() }, &["USER 10001:10001".into()]);
    let s = Scope::new();
    let scan = |scanner: &str, fail_on: &str, required: bool| {
        profile(
            tmp.path(),
            &format!("image:\n  scan:\n    scanner: \"{scanner}\"\n    fail_on: {fail_on}\n    required: {required}\n"),
        )
    };
    let (trivy, trivy_log) = scanner(tmp.path(), "trivy-stand-in", "trivy-alpine.json");
    let high = scan(&trivy, "HIGH", true);
    for _ in 0..2 {
        hr(tmp.path(), run_args(&s, Some(&high), &img.name, &["true"]))
            .run()
            .fails()
            .stderr_has("found 2 vulnerabilities at or above HIGH (1 CRITICAL, 1 HIGH)")
            .stderr_has("CVE-2022-37434 in zlib 1.2.12-r0 (CRITICAL, fixed in 1.2.12-r2)")
            .stderr_has("image.scan.fail_on");
    }
    assert_eq!(calls(&trivy_log), 1, "the second run used the cached findings");
    assert!(std::fs::read_to_string(&trivy_log).unwrap().trim_end().ends_with(&img.name), "the reference comes last");
    hr(tmp.path(), run_args(&s, Some(&scan(&trivy, "CRITICAL", true)), &img.name, &["true"]))
        .run()
        .fails()
        .stderr_has("1 vulnerability at or above CRITICAL");
    assert_eq!(calls(&trivy_log), 1, "one scan serves every threshold");

    let (grype, _) = scanner(tmp.path(), "grype-stand-in", "grype-debian.json");
    hr(tmp.path(), run_args(&s, Some(&scan(&grype, "CRITICAL", true)), &img.name, &["true"]))
        .run()
        .fails()
        .stderr_has("CVE-2023-38545 in libcurl4");
    let (clean, _) = scanner(tmp.path(), "clean-stand-in", "trivy-clean.json");
    hr(tmp.path(), run_args(&s, Some(&scan(&clean, "LOW", true)), &img.name, &["true"])).run().success();

    // A scanner that is not there: refused when required, a warning otherwise.
    hr(tmp.path(), run_args(&s, Some(&scan("/nonexistent/trivy", "HIGH", true)), &img.name, &["true"]))
        .run()
        .fails()
        .stderr_has("/nonexistent/trivy does not exist")
        .stderr_has("image.scan.required");
    hr(tmp.path(), run_args(&s, Some(&scan("/nonexistent/trivy", "HIGH", false)), &img.name, &["true"]))
        .run()
        .success()
        .stderr_has("not scanned: /nonexistent/trivy does not exist");
    let (garbage, _) = scanner(tmp.path(), "garbage-stand-in", "../../Cargo.toml");
    hr(tmp.path(), run_args(&s, Some(&scan(&garbage, "HIGH", true)), &img.name, &["true"]))
        .run()
        .fails()
        .stderr_has("printed no Trivy- or Grype-shaped JSON");
    assert!(s.containers().is_empty());
}

#[test]
fn a_checked_image_is_read_once_then_served_from_the_cache() {
    let Some(_d) = daemon() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let img = import(
        "cached",
        Rootfs { shell: true, passwd: Some(PASSWD), group: Some(GROUP), ..Rootfs::default() },
        &["USER app".into()],
    );
    let s = Scope::new();
    let image_user = profile(tmp.path(), "user:\n  default: image\n");
    hr(tmp.path(), run_args(&s, Some(&image_user), &img.name, &["true"])).run().success();
    let entry = tmp.path().join("hardrun/image").join(format!("{}.json", img.id.trim_start_matches("sha256:")));
    let cached: serde_json::Value = serde_json::from_slice(&std::fs::read(&entry).unwrap()).unwrap();
    assert!(cached["history"].is_array() && cached["contents"]["passwd"].is_string(), "{cached}");
    let written = std::fs::metadata(&entry).unwrap().modified().unwrap();
    hr(tmp.path(), run_args(&s, Some(&image_user), &img.name, &["id", "-u"])).run().success().stdout_is("10001\n");
    assert_eq!(std::fs::metadata(&entry).unwrap().modified().unwrap(), written, "nothing was gathered again");
    assert!(probes_of(&img).trim().is_empty());
}

#[test]
fn require_digest_runs_by_digest_from_the_local_registry() {
    let Some(d) = daemon() else { return };
    let Some(registry) = d.registry.clone() else {
        eprintln!("SKIPPED (no registry): run tests/run to start the local registry");
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let img = import("pin", Rootfs { shell: true, ..Rootfs::default() }, &["USER 10001:10001".into()]);
    let remote = format!("{registry}/{}", img.name);
    docker(["tag", &img.name, &remote]);
    docker(["push", "-q", &remote]);
    docker(["image", "rm", &remote]);
    let s = Scope::new();

    // Not local under that name: --pin asks the registry (through the daemon).
    let pinned = hr(tmp.path(), ["plan", "--pin", &remote]).run().success().stdout();
    let pinned = pinned.trim();
    assert!(pinned.starts_with(&format!("{remote}@sha256:")), "{pinned}");

    let required = profile(tmp.path(), "image:\n  require_digest: true\n");
    let o = hr(tmp.path(), ["--profile-file", &required, "run", "-d", "-l", &s.label, &remote, "sleep", "30"])
        .run()
        .success()
        .stderr_has(&format!("pinned {remote} to {pinned} (image.require_digest)"));
    let id = o.stdout().trim().to_string();
    assert_eq!(inspect(&id)["Config"]["Image"], pinned, "the container was created from the digest");

    // The pinned reference runs as it is (as the image's USER), and --pin gives it again.
    hr(tmp.path(), ["plan", "--pin", &remote]).run().success().stdout_is(&format!("{pinned}\n"));
    hr(tmp.path(), ["--profile-file", &required, "-q", "run", "--rm", "-l", &s.label, pinned, "id", "-u"])
        .run()
        .success()
        .stdout_is("10001\n");

    // An image that never was in a registry has no digest to pin.
    hr(tmp.path(), ["--profile-file", &required, "run", "--rm", "-l", &s.label, &img.name, "true"])
        .run()
        .fails()
        .stderr_has("no registry digest")
        .stderr_has("image.require_digest");
    hr(tmp.path(), ["plan", "--pin", &img.name]).run().fails().stderr_has("local without a digest");
}

#[test]
fn pin_and_check_need_the_daemon_and_say_so() {
    for args in [vec!["plan", "--pin", "app:1"], vec!["image", "check", "app:1"]] {
        hardrun(args).env("DOCKER_HOST", "unix:///nonexistent/docker.sock").run().fails().stderr_has("cannot reach");
    }
    // Without a daemon, plan judges the reference and says what waits for the image.
    let tmp = tempfile::tempdir().unwrap();
    let required = profile(tmp.path(), "image:\n  require_digest: true\n");
    hardrun(["--profile-file", &required, "plan", "app:1"])
        .run()
        .success()
        .stdout_has("image.require_digest: resolved through the daemon");
    hardrun(["plan", "app"]).run().fails().stderr_has("hardrun plan --pin");
}
