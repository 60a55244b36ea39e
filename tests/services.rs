//! Real services under the default profile with only the flags from their own docs
//! (`-d`, `-p`, `-e`, `-v ./data:/path`): each serves a real request, stores its data,
//! and still runs hardened (as `docker inspect` and the kernel's /proc/1/status say).
//! The images come from Debian's packages, shaped like the official ones
//! (tests/support/services.sh).

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::{Scope, docker, eventually, hardrun, inspect, published_port, services};

/// How long a service may take to answer its first request.
const READY: Duration = Duration::from_secs(60);

/// `hardrun -q run -d -l LABEL ARGS...` in `dir`: the container ID.
fn start(s: &Scope, dir: &Path, args: &[&str]) -> String {
    let mut all = vec!["-q", "run", "-d", "-l", &s.label];
    all.extend_from_slice(args);
    hardrun(all).current_dir(dir).timeout(Duration::from_secs(120)).run().success().stdout().trim().to_string()
}

/// The image runs non-root, read-only, without capabilities, no-new-privileges and
/// seccomp, as configured and as the kernel enforces it. Returns the uid.
fn assert_hardened(id: &str) -> u32 {
    let v = inspect(id);
    let hc = &v["HostConfig"];
    assert_eq!(hc["CapDrop"], serde_json::json!(["ALL"]), "CapDrop");
    assert_eq!(hc["ReadonlyRootfs"], true, "read-only root");
    let opts: Vec<&str> = hc["SecurityOpt"].as_array().unwrap().iter().map(|o| o.as_str().unwrap()).collect();
    assert!(opts.contains(&"no-new-privileges"), "{opts:?}");
    assert!(opts.iter().any(|o| o.starts_with("seccomp=")), "{opts:?}");
    let status = docker(["exec", id, "cat", "/proc/1/status"]);
    let field = |name: &str| -> String {
        let line = status.lines().find(|l| l.starts_with(name)).unwrap_or_else(|| panic!("{name} in {status}"));
        line[name.len()..].trim().to_string()
    };
    let uid: u32 = field("Uid:").split_whitespace().next().unwrap().parse().unwrap();
    assert_ne!(uid, 0, "runs as root: {status}");
    assert_eq!(field("CapEff:"), "0000000000000000");
    assert_eq!(field("CapBnd:"), "0000000000000000");
    assert_eq!(field("NoNewPrivs:"), "1");
    assert_eq!(field("Seccomp:"), "2");
    uid
}

fn running(id: &str) -> bool {
    inspect(id)["State"]["Running"] == true
}

fn logs(id: &str) -> String {
    let out = Command::new("docker").args(["logs", "--tail", "30", id]).output().unwrap();
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// An HTTP request from the host to the published loopback port (curl).
fn http(method: &str, port: u16, path: &str, body: Option<&str>) -> Option<String> {
    let url = format!("http://127.0.0.1:{port}{path}");
    let mut cmd = Command::new("curl");
    cmd.args(["-fsS", "--max-time", "5", "-X", method, &url]);
    if let Some(b) = body {
        cmd.args(["--data-binary", b]);
    }
    let out = cmd.output().unwrap();
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Plain text protocol exchange (Redis inline commands, memcached): writes `request`,
/// reads until `done` says the answer is complete.
fn exchange(port: u16, request: &str, done: impl Fn(&str) -> bool) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(request.as_bytes()).ok()?;
    let mut answer = String::new();
    let mut buf = [0u8; 4096];
    while !done(&answer) {
        let n = s.read(&mut buf).ok()?;
        if n == 0 {
            break;
        }
        answer.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    done(&answer).then_some(answer)
}

fn psql(port: u16, sql: &str) -> Option<String> {
    let out = Command::new("psql")
        .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-U", "postgres", "-tAc", sql])
        .env("PGPASSWORD", "s3cret")
        .env("PGCONNECT_TIMEOUT", "5")
        .output()
        .unwrap();
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn owner(path: &Path) -> (u32, u32) {
    let m = std::fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    (m.uid(), m.gid())
}

#[test]
fn nginx_serves_a_page() {
    let Some(svc) = services() else { return };
    let s = Scope::new();
    let dir = tempfile::tempdir().unwrap();
    let id = start(&s, dir.path(), &["-p", "127.0.0.1::8080", &svc.image("nginx")]);
    let port = published_port(&id, "8080/tcp");
    let page = eventually(READY, || http("GET", port, "/", None));
    assert_eq!(page.as_deref(), Some("hello from nginx\n"), "{}", logs(&id));
    assert_eq!(assert_hardened(&id), 33, "the image's USER www-data");
}

#[test]
fn postgres_answers_sql_and_keeps_its_data_across_a_restart() {
    let Some(svc) = services() else { return };
    let s = Scope::new();
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "-e",
        "POSTGRES_PASSWORD=s3cret",
        "-p",
        "127.0.0.1::5432",
        "-v",
        "./pgdata:/var/lib/postgresql/data",
        &svc.image("postgres"),
    ];
    let id = start(&s, dir.path(), &args);
    let port = published_port(&id, "5432/tcp");
    let ready = eventually(READY, || psql(port, "CREATE TABLE fruit (name text); INSERT INTO fruit VALUES ('apple')"));
    assert!(ready.is_some(), "{}", logs(&id));
    assert_eq!(assert_hardened(&id), 999, "postgres, the user the entrypoint switches to");
    // Its group is 999 too, unless the host gives gid 999 rights (then nogroup).
    let (uid, gid) = owner(&dir.path().join("pgdata"));
    assert_eq!(uid, 999, "the data folder was made for postgres");
    assert_eq!(inspect(&id)["Config"]["User"], format!("{uid}:{gid}"), "for the very ids it runs as");
    assert!(dir.path().join("pgdata/PG_VERSION").exists());

    docker(["stop", &id]);
    docker(["rm", &id]);
    let again = start(&s, dir.path(), &args);
    let port = published_port(&again, "5432/tcp");
    let rows = eventually(READY, || psql(port, "SELECT name FROM fruit"));
    assert_eq!(rows.as_deref(), Some("apple"), "{}", logs(&again));
    assert_hardened(&again);
}

#[test]
fn redis_answers_and_saves_into_the_bound_folder() {
    let Some(svc) = services() else { return };
    let s = Scope::new();
    let dir = tempfile::tempdir().unwrap();
    let id = start(&s, dir.path(), &["-p", "127.0.0.1::6379", "-v", "./data:/data", &svc.image("redis")]);
    let port = published_port(&id, "6379/tcp");
    let pong = eventually(READY, || exchange(port, "PING\r\n", |a| a.ends_with("\r\n")));
    assert_eq!(pong.as_deref(), Some("+PONG\r\n"), "{}", logs(&id));
    let saved = exchange(port, "SET fruit apple\r\nSAVE\r\n", |a| a.matches("\r\n").count() >= 2);
    assert_eq!(saved.as_deref(), Some("+OK\r\n+OK\r\n"), "SAVE succeeds: {}", logs(&id));
    assert!(dir.path().join("data/dump.rdb").is_file(), "the dump is in ./data");
    assert_eq!(assert_hardened(&id), 998, "redis, the VOLUME's owner and the entrypoint's gosu target");
}

#[test]
fn the_flask_app_stores_items_in_sqlite() {
    let Some(svc) = services() else { return };
    let s = Scope::new();
    let dir = tempfile::tempdir().unwrap();
    let id = start(&s, dir.path(), &["-p", "127.0.0.1::8000", "-v", "./data:/app/instance", &svc.image("flask")]);
    let port = published_port(&id, "8000/tcp");
    let added = eventually(READY, || http("POST", port, "/items", Some("apple")));
    assert!(added.is_some_and(|a| a.contains("apple")), "{}", logs(&id));
    assert_eq!(http("GET", port, "/items", None).as_deref().map(str::trim), Some(r#"["apple"]"#));
    assert!(dir.path().join("data/items.db").is_file(), "the database is in ./data");
    assert_eq!(assert_hardened(&id), 10001, "the image's USER app");
}

#[test]
fn memcached_stores_and_returns_a_value() {
    let Some(svc) = services() else { return };
    let s = Scope::new();
    let dir = tempfile::tempdir().unwrap();
    let id = start(&s, dir.path(), &["-p", "127.0.0.1::11211", &svc.image("memcached")]);
    let port = published_port(&id, "11211/tcp");
    let got =
        eventually(READY, || exchange(port, "set fruit 0 0 5\r\napple\r\nget fruit\r\n", |a| a.ends_with("END\r\n")));
    assert_eq!(got.as_deref(), Some("STORED\r\nVALUE fruit 0 5\r\napple\r\nEND\r\n"), "{}", logs(&id));
    assert_hardened(&id);
}

#[test]
fn prometheus_answers_queries_from_its_volume() {
    let Some(svc) = services() else { return };
    let s = Scope::new();
    let dir = tempfile::tempdir().unwrap();
    let id = start(&s, dir.path(), &["-p", "127.0.0.1::9090", &svc.image("prometheus")]);
    let port = published_port(&id, "9090/tcp");
    let ready = eventually(READY, || http("GET", port, "/-/ready", None));
    assert!(ready.is_some(), "{}", logs(&id));
    let answer = http("GET", port, "/api/v1/query?query=up", None).unwrap_or_default();
    assert!(answer.contains(r#""status":"success""#), "{answer}");
    assert!(running(&id));
    assert_eq!(assert_hardened(&id), 65534, "the image's USER nobody, owner of its VOLUME");
}

/// `hardrun run ARGS...` (with the scope's label) in `dir`, as a user types it.
fn hr(s: &Scope, dir: &Path, args: &[&str]) -> common::Outcome {
    let mut all = vec!["run", "-l", &s.label];
    all.extend_from_slice(args);
    hardrun(all).current_dir(dir).timeout(Duration::from_secs(120)).run()
}

#[test]
fn a_service_that_dies_at_start_is_reported_with_its_output_and_nothing_is_left() {
    let Some(svc) = services() else { return };
    let s = Scope::new();
    let dir = tempfile::tempdir().unwrap();
    // The docs' first example forgot the password: plain `docker run -d` prints an ID
    // and exits 0 for a container that is already gone.
    let o = hr(&s, dir.path(), &["-d", &svc.image("postgres")]).status(1);
    assert!(o.stdout().is_empty(), "no ID for a dead container: {}", o.stdout());
    let err = o.stderr();
    assert!(err.contains("the container exited with code 1"), "{err}");
    assert!(err.contains("|") && err.contains("POSTGRES_PASSWORD is not set"), "its own last words: {err}");
    assert!(err.lines().all(|l| l.starts_with("hardrun: ")), "{err}");
    assert!(s.containers().is_empty(), "removed: {:?}", s.containers());

    // A restart policy does not hide it either.
    let o = hr(&s, dir.path(), &["-d", "--restart", "always", &svc.image("postgres")]);
    assert_ne!(o.code(), 0, "{}", o.stderr());
    assert!(o.stderr().contains("restarted") && o.stdout().is_empty(), "{}", o.stderr());
    assert!(s.containers().is_empty());

    // --watch 0 is docker's behaviour: the ID, exit 0.
    let o = hr(&s, dir.path(), &["-d", "--watch", "0", &svc.image("postgres")]).success();
    assert_eq!(o.stdout().trim().len(), 64);
}

#[test]
fn a_read_only_root_failure_is_diagnosed_with_the_flag_that_fixes_it() {
    let Some(svc) = services() else { return };
    let s = Scope::new();
    let dir = tempfile::tempdir().unwrap();
    // As another user than the image's, nginx cannot write its temp folder.
    let args = ["--user", "65532:65532", &svc.image("nginx")];
    let detached = [&["-d"][..], &args].concat();
    let o = hr(&s, dir.path(), &detached).status(1);
    o.stderr_has("Read-only file system").stderr_has("diagnosis: /var/lib/nginx/body is on the read-only root");
    let o = hr(&s, dir.path(), &["--rm"].iter().chain(&args).copied().collect::<Vec<_>>()).status(1);
    // In the foreground its output was on screen; the diagnosis follows it.
    let err = o.stderr();
    assert!(err.contains("--tmpfs /var/lib/nginx:uid=65532,gid=65532"), "{err}");
    assert!(err.contains("filesystem.tmpfs"), "{err}");
    // -v: verified before the command ran, and the death that followed still reported.
    let o = hardrun(["-v", "run", "-d", "-l", &s.label, &svc.image("postgres")]).run().status(1);
    let err = o.stderr();
    let verified = err.find("verified (kernel, before the command ran)").unwrap_or_else(|| panic!("{err}"));
    assert!(err[verified..].contains("the container exited with code 1"), "{err}");
    let o = hardrun(["-v", "run", "-d", "-l", &s.label, &svc.image("memcached")]).run().success();
    o.stderr_has("hardrun: verified (kernel, before the command ran)");
}

#[test]
fn an_owner_the_service_cannot_write_is_reported_before_start_and_diagnosed_after() {
    let Some(svc) = services() else { return };
    let s = Scope::new();
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("prom")).unwrap();
    std::os::unix::fs::chown(dir.path().join("prom"), Some(0), Some(0)).unwrap();
    let o = hr(&s, dir.path(), &["-d", "-v", "./prom:/prometheus", &svc.image("prometheus")]).status(2);
    let err = o.stderr();
    let warned = err.find("prom:/prometheus: ").unwrap_or_else(|| panic!("{err}"));
    assert!(err.contains("hardrun: warning: -v "), "{err}");
    let died = err.find("exited with code 2").unwrap_or_else(|| panic!("{err}"));
    assert!(warned < died, "said before it started: {err}");
    assert!(err.contains("belongs to 0:0 (mode 755), so the container's user 65534:65534 cannot write it"), "{err}");
    assert!(
        err.contains("diagnosis: the container's user 65534:65534 may not use /prometheus/queries.active"),
        "{err}"
    );
    assert!(s.containers().is_empty());
}

#[test]
fn plan_shows_what_run_will_do_with_the_images_facts() {
    let Some(svc) = services() else { return };
    let dir = tempfile::tempdir().unwrap();
    let o = hardrun(["plan", "-p", "127.0.0.1::6379", "-v", "./data:/data", &svc.image("redis")])
        .current_dir(dir.path())
        .run()
        .success();
    let out = o.stdout();
    assert!(out.contains("998:998") && out.contains("the entrypoint switches to redis (gosu)"), "{out}");
    assert!(out.contains("writable paths (the container runs as 998:998)"), "{out}");
    let data = out.lines().find(|l| l.starts_with("/data ")).unwrap_or_else(|| panic!("{out}"));
    assert!(data.contains("bind") && data.contains("created by hardrun for the run user"), "{data}");
    assert!(out.lines().any(|l| l.starts_with("/tmp ") && l.contains("tmpfs")), "{out}");
    assert!(!dir.path().join("data").exists(), "plan creates nothing");
    // Every mount is listed, the user's too.
    assert!(out.contains("mount ") && out.contains(":/data"), "{out}");

    // What run refuses, plan refuses: the image gate runs on the local image.
    let p = dir.path().join("minimal.yaml");
    std::fs::write(&p, "image:\n  minimal: true\n").unwrap();
    let profile = p.to_str().unwrap();
    hardrun(["--profile-file", profile, "plan", &svc.image("redis")]).run().fails().stderr_has("image.minimal");
    hardrun(["--profile-file", profile, "plan", "--offline", &svc.image("redis")]).run().success();
}

#[test]
fn image_check_warns_when_the_run_user_cannot_write_the_images_volume() {
    let Some(svc) = services() else { return };
    let dir = tempfile::tempdir().unwrap();
    hardrun(["image", "check", &svc.image("prometheus")])
        .run()
        .success()
        .stdout_has("runs as 65534:65534 (nobody)")
        .stdout_lacks_line_with("writable", "warn");
    let p = dir.path().join("fixed.yaml");
    std::fs::write(&p, "user:\n  from_image: false\n").unwrap();
    hardrun(["--profile-file", p.to_str().unwrap(), "image", "check", &svc.image("prometheus")])
        .run()
        .success()
        .stdout_has(
            "VOLUME /prometheus belongs to 65534:65534 (mode 755), so the container's user 65532:65532 cannot write it",
        );
}

#[test]
fn strict_reaches_services_over_a_user_network_and_diagnoses_what_it_refuses() {
    let Some(svc) = services() else { return };
    let s = Scope::new();
    let dir = tempfile::tempdir().unwrap();
    // strict, but for the test images' tags (the run's id, not a version).
    let p = dir.path().join("strict.yaml");
    std::fs::write(&p, "extends: strict\nimage:\n  tags: fixed\n").unwrap();
    let strict = p.to_str().unwrap();
    // Its advice for -p is one it accepts.
    let o = hr(&s, dir.path(), &["--profile-file", strict, "-d", "-p", "6379:6379", &svc.image("redis")]).fails();
    o.stderr_has("--network NET");
    let net = s.network("strict");
    let alias = s.name("cache");
    hr(
        &s,
        dir.path(),
        &["--profile-file", strict, "-d", "--network", &net, "--network-alias", &alias, &svc.image("redis")],
    )
    .success();
    let pong = eventually(READY, || {
        let o = hr(
            &s,
            dir.path(),
            &[
                "--profile-file",
                strict,
                "--rm",
                "--network",
                &net,
                &svc.image("redis"),
                "redis-cli",
                "-h",
                &alias,
                "ping",
            ],
        );
        (o.code() == 0).then(|| o.stdout())
    });
    assert_eq!(pong.as_deref(), Some("PONG\n"));
    // PostgreSQL needs System V shared memory, which the strict seccomp profile refuses;
    // initdb gets there after a few seconds, so the watch is longer than its default.
    let o = hr(
        &s,
        dir.path(),
        &["--profile-file", strict, "-d", "--watch", "60s", "-e", "POSTGRES_PASSWORD=x", &svc.image("postgres")],
    );
    assert_ne!(o.code(), 0, "{}", o.stderr());
    o.stderr_has("shared memory").stderr_has("seccomp.profile: hardrun-default");
}

#[test]
fn quiet_runs_say_nothing_but_warnings() {
    let Some(svc) = services() else { return };
    let s = Scope::new();
    let dir = tempfile::tempdir().unwrap();
    // docker's own -q (after `run`) silences hardrun's notes as well.
    let o = hr(&s, dir.path(), &["-q", "-d", &svc.image("memcached")]).success();
    assert_eq!(o.stderr(), "", "no notes with run -q");
    let o = hardrun(["-q", "run", "-d", "-l", &s.label, &svc.image("memcached")]).run().success();
    assert_eq!(o.stderr(), "");
}
