//! `hardrun learn` on real services: what it observes (writes, syscalls, ports, the
//! user), the profile it proposes, and `learn --check` of that profile. The observation
//! containers are removed and the run that follows is as hardened as ever.

mod common;

use std::path::Path;
use std::time::Duration;

use common::{Scope, hardrun, services};

/// `hardrun [PRE...] learn -l LABEL ARGS...` in `dir`.
fn learn(s: &Scope, dir: &Path, pre: &[&str], args: &[&str]) -> common::Outcome {
    let mut all: Vec<&str> = pre.to_vec();
    all.extend(["learn", "-l", &s.label]);
    all.extend_from_slice(args);
    hardrun(all).current_dir(dir).env("XDG_CONFIG_HOME", &config(dir)).timeout(Duration::from_secs(180)).run()
}

/// The user's config folder for these tests (their trust list), inside the temporary dir.
fn config(dir: &Path) -> String {
    dir.join("config").to_str().unwrap().to_string()
}

/// A free port on the loopback, for the probe to reach the published service.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[test]
fn learn_proposes_the_folders_a_service_writes_and_check_proves_it_works() {
    let Some(svc) = services() else { return };
    let s = Scope::new();
    let dir = tempfile::tempdir().unwrap();
    // A base that gives the image's folders nothing, so nginx's needs show.
    std::fs::create_dir_all(dir.path().join(".hardrun/profiles")).unwrap();
    std::fs::write(
        dir.path().join(".hardrun/profiles/bare.yaml"),
        "extends: default\nfilesystem:\n  image_tmpfs: {max: 0}\n",
    )
    .unwrap();
    // The learned profile extends it by name, found in the project's folder: trusted, as a
    // user would after reading it.
    hardrun(["profile", "trust", ".hardrun/profiles/bare.yaml"])
        .current_dir(dir.path())
        .env("XDG_CONFIG_HOME", &config(dir.path()))
        .run()
        .success();
    let port = free_port();
    let publish = format!("127.0.0.1:{port}:8080");
    let probe = format!("curl -fsS http://127.0.0.1:{port}/");
    let flags = ["-p", &publish, "--probe", &probe, &svc.image("nginx")];
    let o = learn(
        &s,
        dir.path(),
        &["--profile-file", ".hardrun/profiles/bare.yaml"],
        &[&["--duration", "8s"][..], &flags].concat(),
    )
    .success();
    let yaml = o.stdout();
    assert!(yaml.contains(&format!("# Probe `{probe}` succeeded.")), "{yaml}");
    assert!(yaml.contains("extends: bare"), "{yaml}");
    assert!(yaml.contains("    /var/lib/nginx: size=64m") && yaml.contains("    /run/nginx: size=64m"), "{yaml}");
    assert!(yaml.contains("It listened on TCP 8080"), "{yaml}");
    assert!(yaml.contains("It ran as 33:33"), "{yaml}");
    let parsed: serde_yaml::Value = serde_yaml::from_str(&yaml).unwrap();
    assert!(parsed["filesystem"]["tmpfs"]["/var/lib/nginx"].is_string(), "{yaml}");
    assert!(s.containers().is_empty(), "the observation container is gone: {:?}", s.containers());

    let learned = dir.path().join("learned.yaml");
    std::fs::write(&learned, &yaml).unwrap();
    let check =
        |profile: &str| learn(&s, dir.path(), &[], &[&["--check", profile, "--duration", "4s"][..], &flags].concat());
    check(learned.to_str().unwrap()).success().stderr_has("works under").stderr_has("the probe succeeded");
    check(".hardrun/profiles/bare.yaml")
        .status(1)
        .stderr_has("does not work under")
        .stderr_has("diagnosis: /var/lib/nginx/body is on the read-only root");
    assert!(s.containers().is_empty(), "{:?}", s.containers());
}

#[test]
fn learn_sees_syscalls_outside_the_profile_and_proposes_one_that_allows_them() {
    let Some(svc) = services() else { return };
    let s = Scope::new();
    let dir = tempfile::tempdir().unwrap();
    let strict = dir.path().join("strict.yaml");
    std::fs::write(&strict, "extends: strict\nimage:\n  tags: fixed\n").unwrap();
    let o = learn(
        &s,
        dir.path(),
        &["--profile-file", strict.to_str().unwrap()],
        &["--duration", "20s", "-e", "POSTGRES_PASSWORD=x", &svc.image("postgres")],
    )
    .success();
    let yaml = o.stdout();
    // Root next to the daemon reads the kernel log; elsewhere learn says it cannot.
    if yaml.contains("cannot be read here") || yaml.contains("does not log seccomp") {
        assert!(std::env::var("HARDRUN_REQUIRE_DOCKER").is_err(), "the test machine lets root read /dev/kmsg: {yaml}");
        return;
    }
    assert!(yaml.contains("shmget"), "PostgreSQL's System V shared memory is seen: {yaml}");
    assert!(
        yaml.contains("seccomp:\n  # hardrun-default allows every one of them.\n  profile: hardrun-default"),
        "{yaml}"
    );
    assert!(yaml.contains("It ran as 999:"), "{yaml}");
    assert!(s.containers().is_empty());
}
