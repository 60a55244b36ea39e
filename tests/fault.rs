//! hardrun against a daemon that answers badly on purpose: for every request a real
//! `hardrun run` makes, garbage, truncated, huge, endless, slow-drip and never-answering
//! replies (tests/support/fake_daemon.rs), malformed wait answers and corrupt attach
//! streams. Each scenario runs the hardrun binary and asserts its exit code, exactly one
//! line on stderr, no panic, a time bound and a peak-memory bound (the child's max RSS,
//! from wait4). The daemon calls not under test pass through to the real daemon.

mod common;
#[path = "support/fake_daemon.rs"]
mod fake_daemon;

use std::io::Read;
use std::os::unix::process::CommandExt as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Daemon, Scope, daemon};
use fake_daemon::{FakeDaemon, Fault};

/// The call deadline the scenarios set (HARDRUN_DAEMON_TIMEOUT), so a hang costs seconds
/// and the calls passed through still have time on a loaded machine.
const DEADLINE_SECS: u64 = 5;
/// Connecting and the version probe keep their fixed 5 s.
const CONNECT_SECS: u64 = 5;
/// The memory bound: whatever the daemon sends.
const MAX_RSS_KIB: i64 = 50 << 10;

/// Every request a `hardrun run` makes, as the fake names them; each is a target below.
const RUN_REQUESTS: [&str; 12] = [
    "GET /version",
    "GET /containers/json",
    "GET /networks",
    "GET /networks/bridge",
    "GET /info",
    "GET /images/{name}/json",
    "POST /containers/create",
    "POST /containers/{id}/attach",
    "POST /containers/{id}/wait",
    "POST /containers/{id}/start",
    "GET /containers/{id}/logs",
    "GET /containers/{id}/json",
];

/// What a finished hardrun did.
struct Ran {
    code: i32,
    stdout: String,
    stderr: String,
    elapsed: Duration,
    max_rss_kib: i64,
}

impl Ran {
    fn context(&self, what: &str) -> String {
        format!(
            "{what}: exit {} after {:?}, max RSS {} KiB\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.elapsed, self.max_rss_kib, self.stdout, self.stderr
        )
    }
}

/// Runs hardrun against `fake` with `args`, killing it after `limit`. The peak memory
/// is GNU time's (`%M`, the max RSS of hardrun alone: a child forked from the test
/// process would count the test's own pages from before its exec).
fn run(fake: &FakeDaemon, args: &[&str], limit: Duration) -> Ran {
    let state = tempfile::tempdir().unwrap();
    let rss_file = state.path().join("rss");
    let mut child = Command::new("/usr/bin/time")
        .arg("-f")
        .arg("%M")
        .arg("-o")
        .arg(&rss_file)
        // bench/faults.sh measures the release binary the same way.
        .arg(std::env::var_os("HARDRUN_FAULT_BIN").map_or_else(common::bin, std::path::PathBuf::from))
        .args(args)
        .env("DOCKER_HOST", fake.host())
        .env("HARDRUN_DAEMON_TIMEOUT", DEADLINE_SECS.to_string())
        .env("XDG_RUNTIME_DIR", state.path())
        .env("DOCKER_CONFIG", state.path())
        .env("XDG_CONFIG_HOME", "/nonexistent-hardrun-test")
        .env_remove("HARDRUN_PROFILE")
        .env("NO_COLOR", "1")
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("/usr/bin/time (Debian package time) runs hardrun");
    let start = Instant::now();
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = r.read_to_end(&mut v);
            String::from_utf8_lossy(&v).into_owned()
        })
    };
    let out = drain(Box::new(child.stdout.take().unwrap()));
    let err = drain(Box::new(child.stderr.take().unwrap()));
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > limit {
            // SAFETY: kill(2) on the process group of our own child.
            unsafe { libc::kill(-(child.id() as libc::pid_t), libc::SIGKILL) };
            panic!("hardrun {args:?} did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let elapsed = start.elapsed();
    let rss = std::fs::read_to_string(&rss_file).unwrap_or_default();
    // GNU time notes a signal on a line of its own before the figure.
    let max_rss_kib = rss.lines().last().and_then(|l| l.trim().parse().ok()).expect("GNU time wrote the max RSS");
    Ran {
        code: status.code().unwrap_or(-1),
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
        elapsed,
        max_rss_kib,
    }
}

/// The run every scenario makes: a container that prints and exits 3.
fn run_args<'a>(d: &'a Daemon, scope: &'a Scope) -> Vec<&'a str> {
    vec!["-q", "run", "--label", &scope.label, &d.image, "sh", "-c", "echo out; exit 3"]
}

/// The bound on a scenario's wall time: its deadline and a margin for the calls passed
/// through to the real daemon on a loaded machine.
fn bound(target: &str) -> Duration {
    let deadline = if target == "GET /version" { CONNECT_SECS } else { DEADLINE_SECS };
    Duration::from_secs(deadline + 10)
}

/// The figures of a scenario (shown with --nocapture; the README's come from them).
fn measured(r: &Ran, what: &str) {
    eprintln!(
        "FIGURE {what}: exit {} in {:.2} s, max RSS {} KiB: {}",
        r.code,
        r.elapsed.as_secs_f64(),
        r.max_rss_kib,
        r.stderr.trim_end()
    );
}

/// Asserts a hardrun failure: `code`, one line on stderr, no panic, in time, in memory.
fn assert_failed(r: &Ran, what: &str, code: i32, limit: Duration) {
    measured(r, what);
    let ctx = r.context(what);
    assert_eq!(r.code, code, "{ctx}");
    assert_eq!(r.stderr.lines().count(), 1, "exactly one line on stderr: {ctx}");
    assert!(r.stderr.starts_with("hardrun: "), "{ctx}");
    assert!(!r.stderr.contains("panicked") && !r.stderr.contains("RUST_BACKTRACE"), "{ctx}");
    assert!(!r.stderr.contains('\x1b'), "no raw escape reaches the terminal: {ctx}");
    assert!(r.stderr.len() < 1000, "one short line: {ctx}");
    assert!(r.elapsed < limit, "within {limit:?}: {ctx}");
    assert!(r.max_rss_kib < MAX_RSS_KIB, "peak memory under {MAX_RSS_KIB} KiB: {ctx}");
    assert!(!r.stdout.contains("not http"), "nothing of the daemon's garbage on stdout: {ctx}");
}

/// Every generic fault on `target`: a hardrun error (125), and when the container never
/// ran, nothing left behind.
fn every_fault_on(target: &str, faults: &[Fault]) {
    let Some(d) = daemon() else { return };
    for fault in faults {
        let scope = Scope::new();
        let fake = FakeDaemon::start(Some((target, fault.clone())));
        let limit = bound(target);
        let r = run(&fake, &run_args(&d, &scope), limit + Duration::from_secs(20));
        let what = format!("{} on {target}", fault.name());
        assert_failed(&r, &what, 125, limit);
        assert!(fake.requests().iter().any(|k| k == target), "{what}: the target was asked");
        let before_running = target != "POST /containers/{id}/wait";
        if before_running {
            assert_eq!(scope.containers(), Vec::<String>::new(), "{what}: nothing left behind");
        }
    }
}

#[test]
fn the_version_probe() {
    every_fault_on("GET /version", &Fault::ALL);
}

#[test]
fn the_network_lookup() {
    every_fault_on("GET /networks", &Fault::ALL);
}

#[test]
fn the_default_bridge_lookup() {
    every_fault_on("GET /networks/bridge", &Fault::ALL);
}

#[test]
fn the_daemon_info() {
    every_fault_on("GET /info", &Fault::ALL);
}

#[test]
fn the_image_inspect() {
    every_fault_on("GET /images/{name}/json", &Fault::ALL);
}

#[test]
fn the_create() {
    every_fault_on("POST /containers/create", &Fault::ALL);
}

#[test]
fn the_attach() {
    every_fault_on("POST /containers/{id}/attach", &Fault::ALL);
}

#[test]
fn the_start() {
    // A start answered 200 with any body is a start: garbage JSON is not a fault there.
    let faults: Vec<Fault> = Fault::ALL.into_iter().filter(|f| !matches!(f, Fault::BadJson)).collect();
    every_fault_on("POST /containers/{id}/start", &faults);
}

#[test]
fn the_wait() {
    every_fault_on("POST /containers/{id}/wait", &Fault::ALL);
}

/// The logs and the inspect after the exit feed only the watch's report, and the sweep
/// of dead owners' containers runs in the background: whatever they get, the run ends
/// with the container's own exit code, in time and in memory.
#[test]
fn the_logs_the_last_inspect_and_the_sweep() {
    let Some(d) = daemon() else { return };
    for (target, fault) in Fault::ALL.into_iter().flat_map(|f| {
        [
            ("GET /containers/{id}/logs", f.clone()),
            ("GET /containers/{id}/json", f.clone()),
            ("GET /containers/json", f),
        ]
    }) {
        let scope = Scope::new();
        let fake = FakeDaemon::start(Some((target, fault.clone())));
        let r = run(&fake, &run_args(&d, &scope), Duration::from_secs(30));
        let what = format!("{} on {target}", fault.name());
        measured(&r, &what);
        let ctx = r.context(&what);
        assert_eq!(r.code, 3, "{ctx}");
        assert_eq!(r.stdout, "out\n", "{ctx}");
        assert!(!r.stderr.contains("panicked"), "{ctx}");
        assert!(r.elapsed < Duration::from_secs(DEADLINE_SECS + 10), "{ctx}");
        assert!(r.max_rss_kib < MAX_RSS_KIB, "{ctx}");
    }
}

/// A remove that fails after a failed start: the start's error, one line, in time.
#[test]
fn the_remove_after_a_failed_start() {
    let Some(d) = daemon() else { return };
    for fault in [Fault::Silent, Fault::NotHttp, Fault::HugeError, Fault::Endless] {
        let scope = Scope::new();
        let fake = FakeDaemon::start(Some(("DELETE /containers/{id}", fault.clone())));
        let args = ["-q", "run", "--label", &scope.label, &d.image, "/no-such-command"];
        let r = run(&fake, &args, Duration::from_secs(30));
        assert_failed(&r, &format!("{} on the remove", fault.name()), 127, bound("DELETE"));
    }
}

fn chunked(body: &[u8]) -> Vec<u8> {
    let mut v = format!("{:x}\r\n", body.len()).into_bytes();
    v.extend_from_slice(body);
    v.extend_from_slice(b"\r\n0\r\n\r\n");
    v
}

/// An error whose message drips a byte at a time: the call's one deadline covers the
/// head and the message together.
#[test]
fn a_dripping_error_message() {
    let Some(d) = daemon() else { return };
    for target in ["POST /containers/create", "POST /containers/{id}/wait"] {
        let scope = Scope::new();
        let head =
            b"HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n";
        let mut body = b"{\"message\":\"".to_vec();
        body.extend(std::iter::repeat_n(b'x', 2000));
        let fault = Fault::Answer { head: head.to_vec(), then: Duration::ZERO, body };
        let fake = FakeDaemon::start(Some((target, Fault::Drip(Box::new(fault)))));
        let r = run(&fake, &run_args(&d, &scope), Duration::from_secs(60));
        assert_failed(&r, &format!("dripping error on {target}"), 125, bound(target));
        assert!(r.stderr.contains("answered 500"), "{}", r.context(target));
        assert!(r.elapsed < Duration::from_secs(DEADLINE_SECS * 2), "one deadline, not two: {}", r.context(target));
    }
}

/// Wait answers that cannot be read exactly: hardrun's error, never 0 nor a guess.
#[test]
fn malformed_wait_answers() {
    let Some(d) = daemon() else { return };
    let chunked_head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
    let mut answers: Vec<(&str, Vec<u8>, Vec<u8>)> = [
        r#"{"StatusCode":"137"}"#,
        "{}",
        "null",
        r#"{"StatusCode":137.9}"#,
        r#"{"StatusCode":4294967296}"#,
        r#"{"StatusCode":-1}"#,
        r#"{"StatusCode":0,"Error":{"Message":"the wait failed\n\u001b[2J"}}"#,
    ]
    .into_iter()
    .map(|b| (b, chunked_head.to_vec(), chunked(b.as_bytes())))
    .collect();
    answers.push((
        "truncated",
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 40\r\n\r\n".to_vec(),
        br#"{"StatusCode":0"#.to_vec(),
    ));
    answers.push(("chunked, cut", chunked_head.to_vec(), b"30\r\n{\"StatusCode\":0}".to_vec()));
    for (name, head, body) in answers {
        let scope = Scope::new();
        let fault = Fault::Answer { head, then: Duration::from_millis(300), body };
        let fake = FakeDaemon::start(Some(("POST /containers/{id}/wait", fault)));
        let r = run(&fake, &run_args(&d, &scope), Duration::from_secs(30));
        assert_failed(&r, &format!("wait answer {name}"), 125, bound("wait"));
        assert_eq!(r.stdout, "out\n", "the output itself came through");
    }
}

/// With --rm, a wait answer that carries the exit code and the daemon's failure to remove
/// the container: hardrun removes it itself, and ends with the container's code.
#[test]
fn a_failed_removal_is_retried_and_the_code_kept() {
    let Some(d) = daemon() else { return };
    let scope = Scope::new();
    let head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
    let body = chunked(br#"{"StatusCode":3,"Error":{"Message":"unable to remove filesystem: directory not empty"}}"#);
    let fault = Fault::Answer { head: head.to_vec(), then: Duration::from_millis(500), body };
    let fake = FakeDaemon::start(Some(("POST /containers/{id}/wait", fault)));
    let mut args = run_args(&d, &scope);
    args.insert(2, "--rm");
    let r = run(&fake, &args, Duration::from_secs(30));
    assert_eq!(r.code, 3, "{}", r.context("failed removal"));
    assert!(scope.containers().is_empty(), "removed by hardrun: {:?}", scope.containers());
}

/// Attach streams whose frames are not docker's: a protocol error, and none of their
/// bytes on stdout as the container's output.
#[test]
fn corrupt_attach_frames() {
    let Some(d) = daemon() else { return };
    let head = b"HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n";
    let good = b"\x01\x00\x00\x00\x00\x00\x00\x04fine".to_vec();
    // A frame cut short still had a valid header: what came of it is the container's.
    let cases: [(&str, &[u8], &str); 4] = [
        ("stream type 3", b"\x03\x00\x00\x00\x00\x00\x00\x05EVIL!", "fine"),
        ("padding not zero", b"\x01\x00\x07\x00\x00\x00\x00\x05EVIL!", "fine"),
        ("plain text", b"EVIL! not a frame at all\n", "fine"),
        ("cut inside a frame", b"\x01\x00\x00\x00\x00\x00\x01\x00cut", "finecut"),
    ];
    for (name, bad, shown) in cases {
        let scope = Scope::new();
        let mut body = good.clone();
        body.extend_from_slice(bad);
        let fault = Fault::Answer { head: head.to_vec(), then: Duration::from_millis(200), body };
        let fake = FakeDaemon::start(Some(("POST /containers/{id}/attach", fault)));
        let r = run(&fake, &run_args(&d, &scope), Duration::from_secs(30));
        assert_failed(&r, &format!("attach stream, {name}"), 125, bound("attach"));
        assert_eq!(r.stdout, shown, "only framed payloads reach stdout: {}", r.context(name));
    }
}

/// The wait and attach streams last as long as the container runs, no longer: an
/// attach held open (and silent) after the exit, or a wait that never answers after the
/// output ended, is the daemon's failure within the deadline.
#[test]
fn streams_held_open_after_the_exit() {
    let Some(d) = daemon() else { return };
    let forever = Duration::from_secs(3600);
    let cases = [
        (
            "POST /containers/{id}/attach",
            b"HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n\x01\x00\x00\x00\x00\x00\x00\x03out".to_vec(),
            "out",
        ),
        (
            "POST /containers/{id}/wait",
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec(),
            "out\n",
        ),
    ];
    for (target, head, shown) in cases {
        let scope = Scope::new();
        let fault = Fault::Answer { head, then: forever, body: Vec::new() };
        let fake = FakeDaemon::start(Some((target, fault)));
        let r = run(&fake, &run_args(&d, &scope), Duration::from_secs(30));
        assert_failed(&r, &format!("{target} held open"), 125, bound(target));
        assert_eq!(r.stdout, shown, "{}", r.context(target));
    }
}

/// What the daemon says in a create answer is printed escaped, one line each; an ID
/// that is not one is refused before anything uses it.
#[test]
fn create_answers_are_printed_safely() {
    let Some(d) = daemon() else { return };
    let json = |body: &str| {
        let head =
            format!("HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n", body.len());
        Fault::Answer { head: head.into_bytes(), then: Duration::ZERO, body: body.as_bytes().to_vec() }
    };
    let id = "0".repeat(64);
    let warned = json(&format!(r#"{{"Id":"{id}","Warnings":["first\nhardrun: fake\u001b[2J","second"]}}"#));
    let scope = Scope::new();
    let fake = FakeDaemon::start(Some(("POST /containers/create", warned)));
    let r = run(&fake, &run_args(&d, &scope), Duration::from_secs(30));
    measured(&r, "create warnings");
    let lines: Vec<&str> = r.stderr.lines().collect();
    assert_eq!(lines.len(), 3, "two warnings, then the failure the fake ID causes: {}", r.context("warnings"));
    assert_eq!(lines[0], "WARNING: first\\nhardrun: fake\\x1b[2J", "{}", r.context("warnings"));
    assert_eq!(lines[1], "WARNING: second");
    assert_eq!(r.code, 125, "{}", r.context("warnings"));

    for bad in [r"é\u001b[2J", "abc", "../../images/x"] {
        let scope = Scope::new();
        let fake =
            FakeDaemon::start(Some(("POST /containers/create", json(&format!(r#"{{"Id":"{bad}","Warnings":[]}}"#)))));
        let r = run(&fake, &run_args(&d, &scope), Duration::from_secs(30));
        assert_failed(&r, &format!("create ID {bad}"), 125, bound("create"));
        assert!(r.stderr.contains("not 64 hexadecimal digits"), "{}", r.context(bad));
    }
}

/// A pull (of an image that is not local) whose progress stream is hostile: one
/// escaped line, in time, in memory.
#[test]
fn the_pull() {
    if daemon().is_none() {
        return;
    }
    let target = "POST /images/create";
    let event = concat!(
        r#"{"status":"Pulling fs layer","id":"1"}"#,
        "\n",
        r#"{"errorDetail":{"message":"denied\n\u001b]0;pwned\u0007 really"},"error":"denied"}"#,
        "\n"
    )
    .as_bytes();
    let head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
    let mut faults = Fault::ALL.to_vec();
    faults.push(Fault::Answer { head: head.to_vec(), then: Duration::ZERO, body: chunked(event) });
    for fault in faults {
        let scope = Scope::new();
        let fake = FakeDaemon::start(Some((target, fault.clone())));
        let missing = format!("127.0.0.1:9/hardrun-test/not-here:{}", std::process::id());
        let args = ["-q", "run", "--label", &scope.label, &missing, "true"];
        let r = run(&fake, &args, Duration::from_secs(30));
        let what = format!("{} on the pull", fault.name());
        assert_failed(&r, &what, 125, bound(target));
        assert!(fake.requests().iter().any(|k| k == target), "{what}: the pull was asked: {:?}", fake.requests());
        if matches!(fault, Fault::Answer { .. }) {
            assert!(r.stderr.contains(r"denied\n\x1b]0;pwned\x07 really"), "{}", r.context(&what));
        }
        assert_eq!(scope.containers(), Vec::<String>::new(), "{what}: nothing created");
    }
}

/// A daemon that is not local is verified from its record of the container before the
/// start: a record that contradicts the plan (a privileged container with every
/// capability) is refused, and the container removed; the same record passed through
/// unchanged runs.
#[test]
fn an_inspect_that_contradicts_the_plan_is_refused() {
    let Some(d) = daemon() else { return };
    let target = "GET /containers/{id}/json";
    fn lie(v: &mut serde_json::Value) {
        v["HostConfig"]["Privileged"] = true.into();
        v["HostConfig"]["CapAdd"] = serde_json::json!(["ALL"]);
    }
    fn same(_: &mut serde_json::Value) {}
    let scope = Scope::new();
    let fake = FakeDaemon::start_tcp(Some((target, Fault::Rewrite(lie))));
    let r = run(&fake, &run_args(&d, &scope), Duration::from_secs(60));
    assert_failed(&r, "an inspect that lies", 125, Duration::from_secs(20));
    assert!(r.stderr.contains("not as planned") && r.stderr.contains("rivileged"), "{}", r.context("lie"));
    assert_eq!(r.stdout, "", "the command never ran");
    assert_eq!(scope.containers(), Vec::<String>::new(), "the container was removed");

    let scope = Scope::new();
    let fake = FakeDaemon::start_tcp(Some((target, Fault::Rewrite(same))));
    let r = run(&fake, &run_args(&d, &scope), Duration::from_secs(60));
    assert_eq!((r.code, r.stdout.as_str()), (3, "out\n"), "{}", r.context("the record unchanged"));
}

/// Every request a real run makes has its scenarios above: a new call without them fails here.
#[test]
fn every_request_of_a_run_is_a_scenario() {
    let Some(d) = daemon() else { return };
    let scope = Scope::new();
    let fake = FakeDaemon::start(None);
    let r = run(&fake, &run_args(&d, &scope), Duration::from_secs(60));
    assert_eq!((r.code, r.stdout.as_str()), (3, "out\n"), "{}", r.context("a run through the fake"));
    assert!(r.max_rss_kib < MAX_RSS_KIB, "{}", r.context("a run through the fake"));
    let seen = fake.requests();
    for k in &seen {
        assert!(RUN_REQUESTS.contains(&k.as_str()), "{k} is made by a run but has no fault scenario: {seen:?}");
    }
    for k in RUN_REQUESTS {
        assert!(seen.iter().any(|s| s == k), "{k} is no longer made by a run; drop its scenario: {seen:?}");
    }
}
