//! Attacks on hardrun itself, against the real daemon: each trick that once got a weaker
//! container out of `hardrun run` is refused with the usual one-line message (exit 125,
//! nothing created), or shown harmless in the kernel state of the container.
//!
//! Classes: names resolved inside crafted images, duplicate keys in map-valued flags,
//! container paths the daemon cleans, side channels (log drivers, links, annotations,
//! ulimits, published ports), networks named by ID prefix or of a dangerous kind, and
//! the working directory taken as "the project".

mod common;

use std::io::Read;
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{Daemon, Scope, daemon, docker, hardrun};

/// An image made for one test, removed with it.
struct Crafted {
    tag: String,
}

impl Drop for Crafted {
    fn drop(&mut self) {
        let _ = Command::new("docker").args(["image", "rm", "-f", &self.tag]).output();
    }
}

/// The root test image with `files` (path in the image → content) replaced and the
/// Dockerfile-style `changes` applied (`EXPOSE 8000-8100`).
fn craft(d: &Daemon, s: &Scope, files: &[(&str, &str)], changes: &[&str]) -> Crafted {
    let tag = format!("hardrun-test/adversarial:{}", s.name("img"));
    let builder = docker(["create", "-l", &s.label, &d.image_root, "true"]).trim().to_string();
    let dir = tempfile::tempdir().unwrap();
    for (i, (path, content)) in files.iter().enumerate() {
        let local = dir.path().join(i.to_string());
        std::fs::write(&local, content).unwrap();
        docker(["cp", local.to_str().unwrap(), &format!("{builder}:{path}")]);
    }
    let mut commit = vec!["commit".to_string()];
    for c in changes {
        commit.extend(["--change".to_string(), c.to_string()]);
    }
    commit.extend([builder.clone(), tag.clone()]);
    docker(commit);
    docker(["rm", "-f", &builder]);
    Crafted { tag }
}

/// `hardrun run ARGS` is refused: exit 125, one line per problem naming `needle`, and no
/// container of the scope exists afterwards.
fn refused(s: &Scope, dir: Option<&Path>, args: &[&str], needle: &str) {
    let mut full = vec!["run", "--rm", "-l", &s.label];
    full.extend_from_slice(args);
    let mut t = hardrun(&full);
    if let Some(dir) = dir {
        t = t.current_dir(dir);
    }
    t.run().fails().stderr_has("refused").stderr_has(needle).stderr_has("nothing was created");
    assert_eq!(s.containers(), Vec::<String>::new(), "{args:?} left a container behind");
}

const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/nonexistent:/bin/false\n";
const GROUP: &str = "root:x:0:\nnogroup:x:65534:\n";

/// An image with an ordinary user `app` (10001:10001) and `group` as its /etc/group.
fn with_app(d: &Daemon, s: &Scope, group: &str) -> Crafted {
    let passwd = format!("{PASSWD}app:x:10001:10001::/:/bin/sh\n");
    craft(d, s, &[("/etc/passwd", &passwd), ("/etc/group", group)], &[])
}

#[test]
fn a_name_that_runc_reads_as_root_is_refused() {
    let Some(d) = daemon() else { return };
    let s = Scope::new();
    // runc trims each passwd line and takes the first match: the tab line is uid 0.
    let tab = craft(
        &d,
        &s,
        &[("/etc/passwd", &format!("{PASSWD}\tapp:x:0:0::/:/bin/sh\napp:x:10001:10001::/:/bin/sh\n"))],
        &[],
    );
    refused(&s, None, &["--user", "app", &tab.tag, "id"], "app");
    // An id runc cannot parse is read as 0, before a decoy with a real id.
    let zero = craft(
        &d,
        &s,
        &[("/etc/passwd", &format!("{PASSWD}app:x:zero:zero::/:/bin/sh\napp:x:10001:10001::/:/bin/sh\n"))],
        &[],
    );
    refused(&s, None, &["--user", "app", &zero.tag, "id"], "app");
    refused(&s, None, &["--user", "app:app", &zero.tag, "id"], "app");
}

#[test]
fn a_group_that_runc_reads_as_gid_0_is_refused() {
    let Some(d) = daemon() else { return };
    let s = Scope::new();
    let img = with_app(&d, &s, &format!("{GROUP}staff:x:zero:\napp:x:10001:\n"));
    refused(&s, None, &["--user", "10001:staff", &img.tag, "id"], "staff");
    refused(&s, None, &["--user", "10001:10001", "--group-add", "staff", &img.tag, "id"], "staff");
}

#[test]
fn a_membership_in_the_root_group_is_refused() {
    let Some(d) = daemon() else { return };
    let s = Scope::new();
    // runc gives a named user the groups that list it: here the root group.
    let img = with_app(&d, &s, "root:x:0:app\napp:x:10001:\n");
    refused(&s, None, &["--user", "app", &img.tag, "id"], "root group");
    refused(&s, None, &["--user", "10001", &img.tag, "id"], "root group");
}

#[test]
fn names_are_sent_as_the_numbers_they_were_judged_as() {
    let Some(d) = daemon() else { return };
    let s = Scope::new();
    let img = with_app(&d, &s, &format!("{GROUP}app:x:10001:\nextra:x:2000:app\ntools:x:3000:\n"));
    let out = hardrun([
        "-q",
        "run",
        "--rm",
        "-l",
        &s.label,
        "--user",
        "app",
        "--group-add",
        "tools",
        &img.tag,
        "grep",
        "-E",
        "^(Uid|Gid|Groups):",
        "/proc/self/status",
    ])
    .run()
    .success()
    .stdout();
    assert!(out.contains("Uid:\t10001\t10001\t10001\t10001"), "{out}");
    assert!(out.contains("Gid:\t10001\t10001\t10001\t10001"), "{out}");
    // The primary group (docker lists it too), the membership runc adds (extra) and the
    // asked group (tools), and nothing else.
    let groups: Vec<&str> =
        out.lines().find(|l| l.starts_with("Groups:")).unwrap().split_whitespace().skip(1).collect();
    let mut groups = groups.clone();
    groups.sort();
    assert_eq!(groups, ["10001", "2000", "3000"], "{out}");
    let id = hardrun(["-q", "create", "-l", &s.label, "--user", "app", "--group-add", "tools", &img.tag, "id"])
        .run()
        .success()
        .stdout();
    let v = common::inspect(id.trim());
    assert_eq!(v["Config"]["User"], "10001:10001");
    let mut sent: Vec<String> =
        v["HostConfig"]["GroupAdd"].as_array().unwrap().iter().map(|g| g.as_str().unwrap().to_string()).collect();
    sent.sort();
    assert_eq!(sent, ["2000", "3000"]);
}

#[test]
fn duplicate_volume_options_are_refused() {
    let Some(d) = daemon() else { return };
    let s = Scope::new();
    let vol = s.name("dup");
    let nfs_then_bind = format!(
        "type=volume,src={vol},dst=/h,volume-opt=type=nfs,volume-opt=device=:/x,volume-opt=type=none,\
         volume-opt=o=bind,volume-opt=device=/,volume-label={}",
        s.label
    );
    refused(&s, None, &["--mount", &nfs_then_bind, &d.image, "ls", "/h"], "volume-opt");
    let proc = format!(
        "type=volume,src={vol},dst=/h,volume-opt=type=tmpfs,volume-opt=device=tmpfs,volume-opt=type=proc,\
         volume-opt=device=proc,volume-label={}",
        s.label
    );
    refused(&s, None, &["--mount", &proc, &d.image, "ls", "/h"], "volume-opt");
    // Without duplicates, a filesystem that is the host's kernel is refused as such.
    let plain_proc = format!("type=volume,src={vol},dst=/h,volume-opt=type=proc,volume-opt=device=proc");
    refused(&s, None, &["--mount", &plain_proc, &d.image, "ls", "/h"], "proc");
    let repeated_target = "type=tmpfs,dst=/a,target=/proc/sys".to_string();
    refused(&s, None, &["--mount", &repeated_target, &d.image, "true"], "target");
    refused(&s, None, &["--log-opt", "max-size=1m", "--log-opt", "max-size=-1", &d.image, "true"], "max-size");
    refused(&s, None, &["--storage-opt", "size=1g", "--storage-opt", "size=0", &d.image, "true"], "size");
}

#[test]
fn paths_are_judged_as_the_daemon_cleans_them() {
    let Some(d) = daemon() else { return };
    let s = Scope::new();
    for args in [
        &["-w", "//proc/self/fd/7", &d.image, "true"][..],
        &["-w", "/bin/../proc/self/fd/7", &d.image, "true"],
        &["-w", "/./proc/self/cwd", &d.image, "true"],
        &["--entrypoint", "//proc/self/exe", &d.image],
        &["--entrypoint", "/bin/../proc/self/exe", &d.image],
        &["-w", "/bin", "--entrypoint", "../proc/self/exe", &d.image],
        &[&d.image, "/./proc/self/exe"],
        &["--tmpfs", "//proc/sys", &d.image, "true"],
    ] {
        refused(&s, None, args, "/proc");
    }
    // A clean spelling of an ordinary path still works and is sent cleaned.
    let id = hardrun(["-q", "create", "-l", &s.label, "-w", "//tmp/./x/..", &d.image, "pwd"]).run().success().stdout();
    assert_eq!(common::inspect(id.trim())["Config"]["WorkingDir"], "/tmp");
}

/// A TCP listener on the host's loopback; returns its port and a reader of what it got
/// within `wait`.
fn listener(wait: Duration) -> (u16, std::thread::JoinHandle<Vec<u8>>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    l.set_nonblocking(true).unwrap();
    let got = std::thread::spawn(move || {
        let deadline = Instant::now() + wait;
        let mut all = Vec::new();
        while Instant::now() < deadline {
            if let Ok((mut c, _)) = l.accept() {
                c.set_read_timeout(Some(Duration::from_millis(500))).unwrap();
                let mut buf = Vec::new();
                let _ = c.read_to_end(&mut buf);
                all.extend(buf);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        all
    });
    (port, got)
}

#[test]
fn log_drivers_that_send_from_the_host_are_refused() {
    let Some(d) = daemon() else { return };
    let s = Scope::new();
    let (port, got) = listener(Duration::from_secs(3));
    let address = format!("syslog-address=tcp://127.0.0.1:{port}");
    refused(
        &s,
        None,
        &[
            "--network",
            "none",
            "--log-driver",
            "syslog",
            "--log-opt",
            &address,
            &d.image,
            "echo",
            "secret-from-a-network-none-container",
        ],
        "syslog",
    );
    assert_eq!(String::from_utf8_lossy(&got.join().unwrap()), "", "nothing reached the host's loopback");
    refused(&s, None, &["--log-opt", "max-size=100g", &d.image, "true"], "max-size");
    refused(&s, None, &["--log-opt", "max-file=0", &d.image, "true"], "max-file");
    // The ordinary bounded json-file logging keeps working.
    hardrun([
        "-q",
        "run",
        "--rm",
        "-l",
        &s.label,
        "--log-driver",
        "json-file",
        "--log-opt",
        "max-size=10m",
        "--log-opt",
        "max-file=3",
        &d.image,
        "echo",
        "ok",
    ])
    .run()
    .success()
    .stdout_is("ok\n");
}

#[test]
fn links_annotations_and_unceilinged_ulimits_are_refused() {
    let Some(d) = daemon() else { return };
    let s = Scope::new();
    let db = s.name("db");
    docker(["run", "-d", "--name", &db, "-l", &s.label, "-e", "PASSWORD=hunter2", &d.image, "sleep", "60"]);
    let link = format!("{db}:db");
    let before = s.containers();
    let o = hardrun(["run", "--rm", "-l", &s.label, "--network", "bridge", "--link", &link, &d.image, "env"]).run();
    assert!(!o.stdout().contains("hunter2"), "the link handed over the password: {}", o.stdout());
    o.fails().stderr_has("--link");
    assert_eq!(s.containers(), before, "nothing was created");
    docker(["rm", "-f", &db]);
    refused(&s, None, &["--annotation", "run.oci.hooks=x", &d.image, "true"], "--annotation");
    refused(&s, None, &["--ulimit", "rtprio=99", &d.image, "true"], "rtprio");
    refused(&s, None, &["--ulimit", "core=-1", &d.image, "true"], "core");
    refused(&s, None, &["-l", "org.hardrun.probe=1", &d.image, "true"], "org.hardrun.");
}

#[test]
fn published_ports_have_a_ceiling() {
    let Some(d) = daemon() else { return };
    let s = Scope::new();
    refused(&s, None, &["-p", "127.0.0.1:41000-41299:41000-41299", &d.image, "true"], "64");
    refused(&s, None, &["-p", "1-65535:1-65535", &d.image, "true"], "64");
    refused(&s, None, &["-P", "--expose", "20000-20100", &d.image, "true"], "64");
    let exposing = craft(&d, &s, &[], &["EXPOSE 30000-30100"]);
    refused(&s, None, &["-P", &exposing.tag, "true"], "64");
    // A handful of ports is ordinary use.
    hardrun(["-q", "run", "--rm", "-l", &s.label, "-p", "127.0.0.1::8080-8083", &d.image, "true"]).run().success();
}

#[test]
fn networks_are_judged_by_what_the_daemon_resolves() {
    let Some(d) = daemon() else { return };
    let s = Scope::new();
    let host_id = docker(["network", "inspect", "-f", "{{.Id}}", "host"]).trim().to_string();
    refused(&s, None, &["--network", &host_id[..12], &d.image, "true"], "host");
    refused(&s, None, &["--network", &host_id, &d.image, "true"], "host");
    let none_id = docker(["network", "inspect", "-f", "{{.Id}}", "none"]).trim().to_string();
    // (A macvlan or ipvlan network would be judged by its driver too, as the unit tests
    // show; this kernel cannot create one.)
    // A user network given by an ID prefix is sent as its full ID.
    let net = s.network("user");
    let net_id = docker(["network", "inspect", "-f", "{{.Id}}", &net]).trim().to_string();
    let id = hardrun(["-q", "create", "-l", &s.label, "--network", &net_id[..12], &d.image, "true"])
        .run()
        .success()
        .stdout();
    assert_eq!(common::inspect(id.trim())["HostConfig"]["NetworkMode"], net_id.as_str());
    // `none` by ID is none.
    let id = hardrun(["-q", "create", "-l", &s.label, "--network", &none_id[..12], &d.image, "true"])
        .run()
        .success()
        .stdout();
    let v = common::inspect(id.trim());
    assert!(v["NetworkSettings"]["Networks"].as_object().unwrap().contains_key("none"), "{v}");
}

#[test]
fn the_root_folder_and_home_are_not_a_project() {
    let Some(d) = daemon() else { return };
    let s = Scope::new();
    let secrets = tempfile::tempdir().unwrap();
    let src = format!("{}:/d", secrets.path().display());
    refused(&s, Some(Path::new("/")), &["-v", &src, &d.image, "true"], "project");
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir(home.path().join("data")).unwrap();
    let mut full = vec!["run", "--rm", "-l", &s.label, "-v", "./data:/d", &d.image, "true"];
    hardrun(&full)
        .env("HOME", home.path().to_str().unwrap())
        .current_dir(home.path())
        .run()
        .fails()
        .stderr_has("home folder");
    assert!(s.containers().is_empty());
    // From a project folder inside home, the same bind is ordinary use.
    let project = home.path().join("project");
    std::fs::create_dir_all(project.join("data")).unwrap();
    full[0] = "run";
    hardrun(&full).env("HOME", home.path().to_str().unwrap()).current_dir(&project).run().success();
}
