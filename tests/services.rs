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
    assert_eq!(owner(&dir.path().join("pgdata")), (999, 999), "the data folder was made for postgres");
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
