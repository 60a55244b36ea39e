//! Signals in every phase of a run, caught in the middle of a daemon call that never
//! ends (a stalling proxy in front of the daemon, `support/stall_proxy.rs`): SIGINT and
//! SIGTERM end hardrun within a second with 130/143 and one line naming the phase, and
//! leave no container. A SIGKILL between create and start leaves one, which the next run
//! or `hardrun prune` removes. A closed stdout ends hardrun quietly.

mod common;
#[path = "support/stall_proxy.rs"]
mod stall_proxy;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Scope, daemon, hardrun};
use stall_proxy::{Hold, Rule, StallProxy};

/// The most a signal may take to end hardrun.
const LIMIT: Duration = Duration::from_secs(1);

/// One phase to catch: the request that stalls there, and the words of its line.
struct Case {
    phase: &'static str,
    rule: Rule,
    /// Time for the daemon to act on a forwarded request whose answer is held.
    settle: Duration,
    extra: Vec<String>,
    cmd: Vec<&'static str>,
    /// Run without HOME: no hardrun-init, the daemon's record is verified before start.
    no_home: bool,
}

fn case(phase: &'static str, rule: Rule) -> Case {
    let settle = match rule.hold {
        Hold::Request => Duration::ZERO,
        Hold::Response => Duration::from_millis(300),
        // The wait's status is held: time for the container to run and exit.
        Hold::Body => Duration::from_secs(2),
    };
    Case { phase, rule, settle, extra: Vec::new(), cmd: vec!["sleep", "5"], no_home: false }
}

fn cases(name: &str) -> Vec<Case> {
    let name_query = format!("name={name}");
    vec![
        case("connecting to the daemon", Rule::new("GET", &["/version"], Hold::Request)),
        case("asking the daemon about itself", Rule::new("GET", &["/info"], Hold::Request)),
        case("inspecting the image", Rule::new("GET", &["/images/", "/json"], Hold::Request).except("/images/json")),
        Case {
            extra: vec!["--pull".into(), "always".into()],
            ..case("pulling the image", Rule::new("POST", &["/images/create"], Hold::Request))
        },
        // The look inside the image is the first create of an image never seen (a fresh
        // cache); the run's own create carries its name.
        case("looking inside the image", Rule::new("POST", &["/containers/create"], Hold::Response)),
        case("creating the container", Rule::new("POST", &["/containers/create", &name_query], Hold::Request)),
        case("creating the container", Rule::new("POST", &["/containers/create", &name_query], Hold::Response)),
        Case {
            no_home: true,
            ..case(
                "verifying the daemon's record",
                Rule::new("GET", &["/containers/", "/json"], Hold::Request).except("/containers/json"),
            )
        },
        case("attaching to the container", Rule::new("POST", &["/attach"], Hold::Request)),
        case("registering the wait", Rule::new("POST", &["/wait"], Hold::Request)),
        case("starting the container", Rule::new("POST", &["/start"], Hold::Request)),
        case("starting the container", Rule::new("POST", &["/start"], Hold::Response)),
        // A command that does not exist: hardrun-init reports it, hardrun removes the
        // container (no --rm here, so the removal is hardrun's; the first removal is the
        // look inside the image's).
        Case {
            cmd: vec!["/no/such/command"],
            ..case("removing the container", Rule::new("DELETE", &["/containers/"], Hold::Response).skip(1))
        },
        // The container ran and exited (--rm removed it); its status never comes.
        Case {
            cmd: vec!["true"],
            ..case("reading the container's exit code", Rule::new("POST", &["/wait"], Hold::Body))
        },
    ]
}

/// Starts hardrun through `proxy` for `c`, labelled with the scope.
fn start(proxy: &StallProxy, s: &Scope, image: &str, c: &Case, name: &str, cache: &std::path::Path) -> Child {
    let rm = if c.phase == "removing the container" { None } else { Some("--rm") };
    let mut args: Vec<String> = ["-q", "run", "--name", name, "-l", &s.label].iter().map(|a| a.to_string()).collect();
    args.extend(rm.map(String::from));
    args.extend(c.extra.iter().cloned());
    args.push(image.to_string());
    args.extend(c.cmd.iter().map(|a| a.to_string()));
    let mut cmd = through(proxy, &args, cache);
    if c.no_home {
        cmd.env_remove("HOME").env_remove("XDG_DATA_HOME");
    }
    cmd.spawn().unwrap()
}

/// hardrun with `args`, talking to the daemon through `proxy`, with its own cache.
fn through(proxy: &StallProxy, args: &[String], cache: &std::path::Path) -> Command {
    let mut cmd = Command::new(common::bin());
    cmd.args(args)
        .env("DOCKER_HOST", proxy.host())
        .env("XDG_CACHE_HOME", cache)
        .env("XDG_CONFIG_HOME", "/nonexistent-hardrun-test")
        .env_remove("DOCKER_CONTEXT")
        .env_remove("HARDRUN_PROFILE")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// What a signal did: exit code, time from the signal to the exit, stderr.
struct Ended {
    code: Option<i32>,
    took: Duration,
    stderr: String,
}

fn signal_and_wait(mut child: Child, signal: &str) -> Ended {
    let sent = Instant::now();
    Command::new("kill").args([&format!("-{signal}"), &child.id().to_string()]).status().unwrap();
    let took = loop {
        if child.try_wait().unwrap().is_some() {
            break sent.elapsed();
        }
        if sent.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            break sent.elapsed();
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    let out = child.wait_with_output().unwrap();
    Ended { code: out.status.code(), took, stderr: String::from_utf8_lossy(&out.stderr).into_owned() }
}

/// Containers whose owner label names process `pid` (the look's probe carries no scope
/// label, only this).
fn owned_by(pid: u32) -> Vec<String> {
    let out = common::docker([
        "ps",
        "-a",
        "--filter",
        "label=org.hardrun.owner",
        "--format",
        "{{.ID}} {{.Label \"org.hardrun.owner\"}}",
    ]);
    let me = format!("/{pid}/");
    out.lines().filter(|l| l.contains(&me)).map(str::to_string).collect()
}

/// Runs one at a time: a run's sweep must not take another test's leftover, nor a
/// held removal be someone else's.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// Catches hardrun in `c`'s phase and sends `signal`; returns how long it took to end.
fn interrupt(s: &Scope, image: &str, c: &Case, name: &str, signal: &str, number: i32) -> Duration {
    let proxy = StallProxy::start(c.rule.clone());
    let cache = tempfile::tempdir().unwrap();
    let child = start(&proxy, s, image, c, name, cache.path());
    let pid = child.id();
    let shown = format!("{signal} while {} ({:?} held {:?})", c.phase, c.rule.hold, c.rule.path_has);
    if !proxy.wait_held(Duration::from_secs(60)) {
        let out = signal_and_wait(child, "KILL");
        panic!("{shown}: the request was never made; stderr: {}", out.stderr);
    }
    std::thread::sleep(c.settle);
    let ended = signal_and_wait(child, signal);
    let context = format!("{shown}: exit {:?} after {:?}\n{}", ended.code, ended.took, ended.stderr);
    assert_eq!(ended.code, Some(128 + number), "{context}");
    assert!(ended.took < LIMIT, "{context}");
    let lines: Vec<&str> = ended.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line: {context}");
    assert!(lines[0].starts_with(&format!("hardrun: SIG{signal} received while {}", c.phase)), "{context}");
    assert!(!ended.stderr.contains("panicked"), "{context}");
    // A removal the daemon had not confirmed in time goes on without hardrun (the line
    // says so): give it a moment.
    let gone = || (s.containers().is_empty() && owned_by(pid).is_empty()).then_some(());
    let pending = lines[0].contains("had not confirmed it");
    let left = if pending { common::eventually(Duration::from_secs(5), gone) } else { gone() };
    assert!(left.is_some(), "{context}\nleft: {:?} {:?}", s.containers(), owned_by(pid));
    ended.took
}

#[test]
fn sigint_and_sigterm_end_every_phase_within_a_second_leaving_nothing() {
    let Some(d) = daemon() else { return };
    let _serial = serial();
    let s = Scope::new();
    let mut worst: Vec<(String, Duration)> = Vec::new();
    let repeat: usize = std::env::var("HARDRUN_INTERRUPT_REPEAT").ok().and_then(|v| v.parse().ok()).unwrap_or(1);
    let name = s.name(&format!("intr-{}", std::process::id()));
    for c in cases(&name) {
        for (signal, number) in [("INT", 2), ("TERM", 15)] {
            for _ in 0..repeat {
                let took = interrupt(&s, &d.image, &c, &name, signal, number);
                let key = format!("{} ({:?} held)", c.phase, c.rule.hold);
                match worst.iter_mut().find(|(k, _)| *k == key) {
                    Some((_, w)) => *w = (*w).max(took),
                    None => worst.push((key, took)),
                }
            }
        }
    }
    // The figures for the README (bench/interrupt.sh prints them).
    for (phase, took) in &worst {
        eprintln!("worst time to exit: {:>4} ms  {phase}", took.as_millis());
    }
}

/// Starts `args` through a proxy holding `rule`, signals once the request is held, and
/// checks the code, the time and the line.
fn signal_command(args: &[&str], rule: Rule, signal: &str, number: i32, line: &str) -> Ended {
    let settle = if rule.hold == Hold::Response { Duration::from_millis(300) } else { Duration::ZERO };
    let proxy = StallProxy::start(rule);
    let cache = tempfile::tempdir().unwrap();
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let child = through(&proxy, &args, cache.path()).spawn().unwrap();
    assert!(proxy.wait_held(Duration::from_secs(60)), "{args:?}: the request was never made");
    std::thread::sleep(settle);
    let ended = signal_and_wait(child, signal);
    let context = format!("{args:?}: exit {:?} after {:?}\n{}", ended.code, ended.took, ended.stderr);
    assert_eq!(ended.code, Some(128 + number), "{context}");
    assert!(ended.took < LIMIT, "{context}");
    assert_eq!(ended.stderr.lines().count(), 1, "{context}");
    assert!(ended.stderr.starts_with(line), "{context}");
    ended
}

#[test]
fn plan_create_and_detached_runs_end_on_a_signal_too() {
    let Some(d) = daemon() else { return };
    let _serial = serial();
    let s = Scope::new();
    let never = Rule::new("GET", &["/info"], Hold::Request);
    let plan = signal_command(&["plan", &d.image], never, "INT", 2, "hardrun: SIGINT received while asking the daemon");
    assert!(plan.stderr.contains("nothing was created"), "{}", plan.stderr);
    // `create`: its container, made but never reported, is removed.
    let name = s.name("create");
    let held = Rule::new("POST", &["/containers/create", &format!("name={name}")], Hold::Response);
    let create = ["-q", "create", "--name", &name, "-l", &s.label, &d.image, "true"];
    signal_command(&create, held, "TERM", 15, "hardrun: SIGTERM received while creating the container");
    assert!(s.containers().is_empty(), "{:?}", s.containers());
    // `-d`: once started, the container is the user's and stays.
    let detached = ["-q", "run", "-d", "--watch", "20s", "-l", &s.label, &d.image, "sleep", "30"];
    let running = || {
        let ids = s.containers();
        (ids.len() == 1 && common::inspect(&ids[0])["State"]["Running"] == true).then_some(())
    };
    let ended = {
        // A proxy that holds nothing: the run is caught in its start watch.
        let proxy = StallProxy::start(Rule::new("NONE", &[], Hold::Request));
        let cache = tempfile::tempdir().unwrap();
        let args: Vec<String> = detached.iter().map(|a| a.to_string()).collect();
        let child = through(&proxy, &args, cache.path()).spawn().unwrap();
        assert!(common::eventually(Duration::from_secs(30), running).is_some(), "the detached run started");
        signal_and_wait(child, "INT")
    };
    let context = format!("exit {:?} after {:?}\n{}", ended.code, ended.took, ended.stderr);
    assert_eq!(ended.code, Some(130), "{context}");
    assert!(ended.took < LIMIT, "{context}");
    // Caught while hardrun reads the init's verdict or watches the start: both after start.
    let after_start = ["verifying the container's hardening", "watching the container start"];
    let named = after_start.iter().any(|p| ended.stderr.starts_with(&format!("hardrun: SIGINT received while {p}; ")));
    assert!(named, "{context}");
    assert!(ended.stderr.contains("was started detached and stays"), "{context}");
    assert!(running().is_some(), "the container still runs: {context}");
}

/// Starts a run that stalls before start, and SIGKILLs it there: its container is left.
fn killed_before_start(s: &Scope, image: &str) {
    let c = case("starting the container", Rule::new("POST", &["/start"], Hold::Request));
    let proxy = StallProxy::start(c.rule.clone());
    let cache = tempfile::tempdir().unwrap();
    let name = s.name(&format!("killed-{}", s.containers().len()));
    let child = start(&proxy, s, image, &c, &name, cache.path());
    assert!(proxy.wait_held(Duration::from_secs(60)), "the run reached start");
    let ended = signal_and_wait(child, "KILL");
    assert_eq!(ended.code, None, "killed");
}

fn created(s: &Scope) -> Vec<String> {
    s.containers().into_iter().filter(|id| common::inspect(id)["State"]["Status"] == "created").collect()
}

#[test]
fn a_run_killed_before_start_is_swept_by_the_next_run_and_by_prune() {
    let Some(d) = daemon() else { return };
    let _serial = serial();
    let s = Scope::new();
    killed_before_start(&s, &d.image);
    let left = created(&s);
    assert_eq!(left.len(), 1, "SIGKILL leaves the created container: {left:?}");
    // The next run sweeps it while it runs.
    hardrun(["-q", "run", "--rm", &d.image, "true"]).run().success();
    let swept = common::eventually(Duration::from_secs(10), || created(&s).is_empty().then_some(()));
    assert!(swept.is_some(), "the next run swept it: {:?}", created(&s));

    killed_before_start(&s, &d.image);
    let left = created(&s);
    assert_eq!(left.len(), 1, "{left:?}");
    let short = &left[0][..12];
    hardrun(["prune", "--dry-run"]).run().success().stdout_has(&format!("would remove {short}"));
    assert_eq!(created(&s), left, "a dry run removes nothing");
    hardrun(["prune"]).run().success().stdout_has(&format!("removed {short}"));
    assert!(created(&s).is_empty());
}

#[test]
fn prune_leaves_created_containers_of_create_and_of_live_runs() {
    let Some(d) = daemon() else { return };
    let _serial = serial();
    let s = Scope::new();
    // `hardrun create`'s container is the user's to start later.
    let made = hardrun(["-q", "create", "-l", &s.label, &d.image, "true"]).run().success();
    let id = made.stdout().trim().to_string();
    // A run stalled before start is alive: its container is not abandoned.
    let c = case("starting the container", Rule::new("POST", &["/start"], Hold::Request));
    let proxy = StallProxy::start(c.rule.clone());
    let cache = tempfile::tempdir().unwrap();
    let live = start(&proxy, &s, &d.image, &c, &s.name("live"), cache.path());
    assert!(proxy.wait_held(Duration::from_secs(60)));
    let o = hardrun(["prune", "--dry-run"]).run().success();
    assert!(!o.stdout().contains(&id[..12]), "{}", o.stdout());
    let before = created(&s);
    assert_eq!(before.len(), 2, "{before:?}");
    for other in &before {
        assert!(!o.stdout().contains(&other[..12]), "{}", o.stdout());
    }
    signal_and_wait(live, "TERM");
    assert_eq!(created(&s), vec![id], "SIGTERM removed the live run's container, create's stays");
}

/// Runs hardrun with a stdout whose reading end is closed before hardrun starts.
fn with_stdout_closed(args: &[&str]) -> (Option<i32>, String) {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let child = Command::new(common::bin())
        .args(args)
        .env("XDG_CONFIG_HOME", "/nonexistent-hardrun-test")
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn a_closed_stdout_ends_quietly_with_141() {
    for args in [
        &["completions", "bash"][..],
        &["plan", "--offline", "alpine:3"],
        &["plan", "--offline", "--format", "json", "alpine:3"],
        &["seccomp", "export", "hardrun-default"],
        &["profile", "show", "default"],
    ] {
        let (code, stderr) = with_stdout_closed(args);
        assert_eq!(code, Some(141), "{args:?}: {stderr}");
        assert_eq!(stderr, "", "{args:?}");
    }
}

#[test]
fn a_closed_stdout_during_a_run_ends_quietly() {
    let Some(d) = daemon() else { return };
    let _serial = serial();
    let s = Scope::new();
    let (code, stderr) = with_stdout_closed(&["-q", "run", "--rm", "-l", &s.label, &d.image, "sh", "-c", "echo x"]);
    assert_eq!(code, Some(141), "{stderr}");
    assert_eq!(stderr, "");
    let gone = common::eventually(Duration::from_secs(10), || s.containers().is_empty().then_some(()));
    assert!(gone.is_some(), "--rm removed it: {:?}", s.containers());
}
