//! The hardening as the kernel and the network enforce it: verification after start,
//! hardrun's isolated default network, and the refusal paths that need a daemon.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

use common::{Scope, daemon, docker, hardrun, inspect};

#[test]
fn verbose_runs_print_what_was_verified() {
    let Some(d) = daemon() else { return };
    let s = Scope::new();
    hardrun(["-v", "run", "--rm", "-l", &s.label, &d.image, "sleep", "0.2"]).run().success().stderr_has(
        "verified (kernel, before the command ran): capabilities effective none, permitted none, bounding none, \
         ambient none; no-new-privileges; seccomp filter; uid 10001, gid 10001, groups 10001; read-only root",
    );
}

#[test]
fn a_user_name_that_is_root_in_the_image_is_refused_before_anything_is_created() {
    let Some(d) = daemon() else { return };
    let s = Scope::new();
    // An image whose /etc/passwd gives the name "svc" uid 0: the gate reads the image's
    // passwd (the post-start verification would catch it too, as its unit tests show).
    let builder = s.name("builder");
    let image = format!("hardrun-test/rootalias:{}", s.name("t"));
    docker([
        "run",
        "--name",
        &builder,
        "-l",
        &s.label,
        &d.image_root,
        "sh",
        "-c",
        "echo svc:x:0:0::/:/bin/sh >> /etc/passwd",
    ]);
    docker(["commit", &builder, &image]);
    let o = hardrun(["-q", "run", "--rm", "-l", &s.label, "--user", "svc", &image, "sleep", "5"]).run();
    let _ = Command::new("docker").args(["image", "rm", "-f", &image]).output();
    o.fails().stderr_has("svc").stderr_has("nothing was created");
    let left: Vec<String> = s.containers().into_iter().filter(|id| !id.is_empty()).collect();
    assert_eq!(left.len(), 1, "only the builder container remains: {left:?}");
}

#[test]
fn no_verify_skips_the_check() {
    let Some(d) = daemon() else { return };
    let s = Scope::new();
    hardrun(["-v", "run", "--rm", "--no-verify", "-l", &s.label, &d.image, "true"])
        .run()
        .success()
        .stderr_lacks("verified");
}

fn ip_of(id: &str) -> String {
    let v = inspect(id);
    let nets = v["NetworkSettings"]["Networks"].as_object().unwrap();
    nets.values().next().unwrap()["IPAddress"].as_str().unwrap().to_string()
}

/// Whether the daemon's default bridge has inter-container traffic off, as docker shows it.
fn bridge_keeps_containers_apart() -> bool {
    docker(["network", "inspect", "bridge", "-f", "{{json .Options}}"])
        .contains("\"com.docker.network.bridge.enable_icc\":\"false\"")
}

#[test]
fn verbose_names_the_network_chosen_and_why() {
    let Some(d) = daemon() else { return };
    let s = Scope::new();
    let o = hardrun(["-v", "run", "--rm", "-l", &s.label, &d.image, "true"]).run().success();
    let line = o.stderr().lines().find(|l| l.starts_with("hardrun: network: ")).map(str::to_string);
    let line = line.unwrap_or_else(|| panic!("no network line in {}", o.stderr()));
    match bridge_keeps_containers_apart() {
        true => assert!(line.contains("network: bridge: ") && line.contains("icc"), "{line}"),
        false => assert!(line.contains("network: hardrun: ") && line.contains("\"icc\": false"), "{line}"),
    }
    hardrun(["plan", &d.image]).run().success().stdout_has("icc");
}

#[test]
fn the_default_network_isolates_containers_from_each_other() {
    let Some(d) = daemon() else { return };
    let s = Scope::new();
    let server =
        hardrun(["-q", "run", "-d", "-l", &s.label, &d.image, "sh", "-c", "while :; do echo hi | nc -l -p 8080; done"])
            .run()
            .success()
            .stdout()
            .trim()
            .to_string();
    let v = inspect(&server);
    let net = v["NetworkSettings"]["Networks"].as_object().unwrap().keys().next().unwrap().clone();
    if bridge_keeps_containers_apart() {
        assert_eq!(net, "bridge", "the default bridge already isolates: no network of hardrun's own");
    } else {
        assert_eq!(v["HostConfig"]["NetworkMode"].as_str().unwrap().len(), 64, "joined by ID");
        assert_eq!(net, "hardrun");
    }
    let ip = ip_of(&server);
    // A neighbour on the same network cannot reach it...
    hardrun(["-q", "run", "--rm", "-l", &s.label, &d.image, "sh", "-c", &format!("nc -w 2 {ip} 8080 </dev/null")])
        .run()
        .stdout_is("");
    // ...while on a user network that allows it, the same connection works (the control).
    let open = s.network("open");
    docker(["network", "connect", &open, &server]);
    let open_ip = inspect(&server)["NetworkSettings"]["Networks"][&open]["IPAddress"].as_str().unwrap().to_string();
    let o = hardrun([
        "-q",
        "run",
        "--rm",
        "--network",
        &open,
        "-l",
        &s.label,
        &d.image,
        "sh",
        "-c",
        &format!("nc -w 2 {open_ip} 8080 </dev/null"),
    ])
    .run();
    drop(s);
    assert_eq!(o.stdout(), "hi\n");
}

#[test]
fn publishing_still_works_on_the_isolated_network() {
    let Some(d) = daemon() else { return };
    let s = Scope::new();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    hardrun([
        "-q",
        "run",
        "-d",
        "-l",
        &s.label,
        "-p",
        &format!("127.0.0.1:{port}:8080"),
        &d.image,
        "sh",
        "-c",
        "while :; do echo published | nc -l -p 8080; done",
    ])
    .run()
    .success();
    let mut got = String::new();
    for _ in 0..50 {
        if let Ok(mut c) = TcpStream::connect(("127.0.0.1", port)) {
            let _ = c.set_read_timeout(Some(Duration::from_secs(2)));
            let _ = c.write_all(b"");
            let _ = c.read_to_string(&mut got);
            if !got.is_empty() {
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(got, "published\n");
}

#[test]
fn none_and_bridge_networks_keep_working() {
    let Some(d) = daemon() else { return };
    let s = Scope::new();
    hardrun(["-q", "run", "--rm", "--network", "none", "-l", &s.label, &d.image, "sh", "-c", "ls /sys/class/net"])
        .run()
        .success()
        .stdout_is("lo\n");
    let id =
        hardrun(["-q", "create", "--network", "bridge", "-l", &s.label, &d.image, "true"]).run().success().stdout();
    assert_eq!(inspect(id.trim())["HostConfig"]["NetworkMode"], "bridge");
}

#[test]
fn volumes_whose_options_are_binds_are_refused_once_the_daemon_is_asked() {
    let Some(d) = daemon() else { return };
    let s = Scope::new();
    let vol = s.volume("sneaky", &["-o", "type=none", "-o", "o=bind", "-o", "device=/etc"]);
    let o = hardrun(["-q", "run", "--rm", "-l", &s.label, "-v", &format!("{vol}:/x"), &d.image, "true"]).run();
    o.fails().stderr_has("/etc");
}

#[test]
fn volumes_from_is_judged_by_what_it_brings() {
    let Some(d) = daemon() else { return };
    let s = Scope::new();
    let donor = s.name("donor");
    docker(["create", "--name", &donor, "-l", &s.label, "-v", "/etc:/host-etc:ro", &d.image, "true"]);
    let dir = tempfile::tempdir().unwrap();
    let share = dir.path().join("share.yaml");
    std::fs::write(&share, "extends: default\nallow_flags: [volumes-from]\n").unwrap();
    let share = share.to_str().unwrap();
    hardrun(["-q", "--profile-file", share, "run", "--rm", "--volumes-from", &donor, &d.image, "true"])
        .current_dir(dir.path())
        .run()
        .fails()
        .stderr_has("/etc");
}

/// A profile extending `base` that accepts the test image's `:1` tag.
fn profile_file(dir: &std::path::Path, base: &str) -> String {
    let p = dir.join(format!("{base}-test.yaml"));
    std::fs::write(&p, format!("extends: {base}\nimage: {{tags: fixed}}\n")).unwrap();
    p.display().to_string()
}

#[test]
fn bundled_seccomp_profiles_load_and_deny_what_they_should() {
    let Some(d) = daemon() else { return };
    let s = Scope::new();
    let dir = tempfile::tempdir().unwrap();
    let session = "ls / >/dev/null && echo hi | cat && date >/dev/null && ps >/dev/null && sleep 0.1 && echo shell-ok; \
                   unshare -U true 2>&1; unshare -n true 2>&1; mount -t tmpfs none /tmp 2>&1; \
                   grep Seccomp: /proc/self/status";
    for base in ["default", "strict"] {
        let file = profile_file(dir.path(), base);
        let o = hardrun(["-q", "--profile-file", &file, "run", "--rm", "-l", &s.label, &d.image, "sh", "-c", session])
            .run()
            .success();
        let out = o.stdout();
        assert!(out.contains("shell-ok"), "{base}: {out}");
        assert_eq!(out.matches("Operation not permitted").count(), 2, "{base}: unshare -U and -n refused: {out}");
        assert!(out.contains("mount: permission denied"), "{base}: {out}");
        assert!(out.contains("Seccomp:\t2"), "{base}: {out}");
    }
    // The control: without a seccomp filter the same user may create a user namespace,
    // so the refusal above is seccomp's.
    let out = docker([
        "run",
        "--rm",
        "-l",
        &s.label,
        "--security-opt",
        "seccomp=unconfined",
        "--user",
        "65532",
        &d.image,
        "sh",
        "-c",
        "unshare -U true && echo userns-ok",
    ]);
    assert!(out.contains("userns-ok"), "{out}");
}
