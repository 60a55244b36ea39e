//! `hardrun run` and `create` against the real daemon: exit codes, streams, TTY,
//! detaching, removal, signals, pulling, concurrency. Every test removes what it made.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{Scope, daemon, docker, hardrun, inspect};

/// `hardrun -q run --rm -l LABEL IMAGE ARGS...`
fn run_args(scope: &Scope, image: &str, args: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = ["-q", "run", "--rm", "-l", &scope.label].iter().map(|s| s.to_string()).collect();
    v.push(image.into());
    v.extend(args.iter().map(|s| s.to_string()));
    v
}

#[test]
fn exit_codes_are_the_containers_and_dockers() {
    let Some(d) = daemon() else { return };
    let s = Scope::new();
    hardrun(run_args(&s, &d.image, &["true"])).run().success();
    hardrun(run_args(&s, &d.image, &["sh", "-c", "exit 7"])).run().status(7);
    hardrun(run_args(&s, &d.image, &["/etc/passwd"])).run().status(126).stderr_has("permission denied");
    hardrun(run_args(&s, &d.image, &["/no/such/program"])).run().status(127).stderr_has("no such file");
    hardrun(run_args(&s, &d.image, &["nope"])).run().status(127).stderr_has("removed container");
    assert!(s.containers().is_empty(), "failed starts leave nothing: {:?}", s.containers());
}

#[test]
fn output_is_byte_exact_and_streams_stay_apart() {
    let Some(d) = daemon() else { return };
    let s = Scope::new();
    let o = hardrun(run_args(
        &s,
        &d.image,
        &["sh", "-c", r#"printf '\000\001\002\377out\n'; printf 'err\000\n' >&2; printf tail"#],
    ))
    .run()
    .success();
    assert_eq!(o.output.stdout, b"\x00\x01\x02\xffout\ntail");
    assert_eq!(o.output.stderr, b"err\x00\n");
}

#[test]
fn large_output_arrives_whole() {
    let Some(d) = daemon() else { return };
    let s = Scope::new();
    let o = hardrun(run_args(&s, &d.image, &["sh", "-c", "head -c 3000000 /dev/zero | tr '\\0' x"])).run().success();
    assert_eq!(o.output.stdout.len(), 3_000_000);
}

#[test]
fn stdin_is_forwarded_with_dash_i_and_closed_at_eof() {
    let Some(d) = daemon() else { return };
    let s = Scope::new();
    let mut args = run_args(&s, &d.image, &["sh", "-c", "wc -c; cat"]);
    args.insert(2, "-i".into());
    let input: Vec<u8> = (0..=255u8).cycle().take(100_000).collect();
    hardrun(args).stdin(input).run().success().stdout_has("100000");
    // Without -i the container's stdin is closed, as with docker.
    hardrun(run_args(&s, &d.image, &["sh", "-c", "cat; echo done"]))
        .stdin("ignored")
        .run()
        .success()
        .stdout_is("done\n");
}

/// The same command under a pseudo-terminal, through `script`.
fn in_pty(cmd: &str) -> Vec<u8> {
    let out = Command::new("script").args(["-qec", cmd, "/dev/null"]).stdin(Stdio::null()).output().unwrap();
    out.stdout
}

#[test]
fn tty_output_matches_docker_byte_for_byte() {
    let Some(d) = daemon() else { return };
    let s = Scope::new();
    let bin = common::bin();
    let body = r#"printf 'a\001\000b\r\n\033[1mbold\033[0m\n'; stty size >/dev/null; tty"#;
    let ours = in_pty(&format!("{} -q run --rm -t -l {} {} sh -c \"{}\"", bin.display(), s.label, d.image, body));
    let theirs = in_pty(&format!("docker run --rm -t -l {} {} sh -c \"{}\"", s.label, d.image, body));
    assert_eq!(String::from_utf8_lossy(&ours), String::from_utf8_lossy(&theirs));
    assert!(ours.starts_with(b"a\x01\x00b"), "{:?}", String::from_utf8_lossy(&ours));
}

#[test]
fn detached_runs_print_the_full_id() {
    let Some(d) = daemon() else { return };
    let s = Scope::new();
    let o = hardrun(["-q", "run", "-d", "-l", &s.label, &d.image, "sleep", "30"]).run().success();
    let id = o.stdout().trim().to_string();
    assert_eq!(id.len(), 64, "{id}");
    assert_eq!(inspect(&id)["State"]["Running"], true);
}

#[test]
fn create_creates_without_starting() {
    let Some(d) = daemon() else { return };
    let s = Scope::new();
    let o = hardrun(["-q", "create", "-l", &s.label, &d.image, "true"]).run().success();
    let id = o.stdout().trim().to_string();
    assert_eq!(inspect(&id)["State"]["Status"], "created");
    hardrun(["create", "-d", &d.image]).run().fails().stderr_has("-d");
}

#[test]
fn rm_leaves_nothing_behind_once_hardrun_returns() {
    let Some(d) = daemon() else { return };
    let s = Scope::new();
    for cmd in ["true", "false"] {
        hardrun(run_args(&s, &d.image, &[cmd])).run();
        assert!(s.containers().is_empty(), "{cmd}: {:?}", s.containers());
    }
}

#[test]
fn name_conflicts_are_one_line_and_touch_nothing() {
    let Some(d) = daemon() else { return };
    let s = Scope::new();
    let name = s.name("conflict");
    hardrun(["-q", "create", "--name", &name, "-l", &s.label, &d.image, "true"]).run().success();
    hardrun(["-q", "run", "--name", &name, "-l", &s.label, &d.image, "true"])
        .run()
        .fails()
        .stderr_has("already in use");
    assert_eq!(s.containers().len(), 1);
}

/// Starts hardrun, waits for the container to print "ready", sends `signal`.
fn signal_after_ready(args: Vec<String>, signal: &str) -> (i32, String) {
    let mut child = Command::new(common::bin())
        .args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert_eq!(line, "ready\n");
    Command::new("kill").args([&format!("-{signal}"), &child.id().to_string()]).status().unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut out, &mut rest).unwrap();
    let status = child.wait().unwrap();
    (status.code().unwrap_or(-1), rest)
}

#[test]
fn signals_are_forwarded_to_the_container() {
    let Some(d) = daemon() else { return };
    let s = Scope::new();
    for (sig, code) in [("TERM", 42), ("INT", 43), ("HUP", 44), ("USR1", 45)] {
        let script = format!("trap 'echo got {sig}; exit {code}' {sig}; echo ready; while :; do sleep 0.05; done");
        let (status, out) = signal_after_ready(run_args(&s, &d.image, &["sh", "-c", &script]), sig);
        assert_eq!((status, out.as_str()), (code, format!("got {sig}\n").as_str()));
    }
    assert!(s.containers().is_empty());
}

#[test]
fn sig_proxy_false_leaves_the_container_alone() {
    let Some(d) = daemon() else { return };
    let s = Scope::new();
    let mut args = run_args(&s, &d.image, &["sh", "-c", "trap 'echo got it' TERM; echo ready; sleep 2"]);
    args.insert(2, "--sig-proxy=false".into());
    let (status, out) = signal_after_ready(args, "TERM");
    assert_eq!(status, 128 + 15);
    assert!(!out.contains("got it"));
}

#[test]
fn an_interrupt_at_any_moment_leaves_no_created_container() {
    let Some(d) = daemon() else { return };
    let s = Scope::new();
    for delay_ms in [0u64, 5, 20, 40, 80, 150] {
        let mut child = Command::new(common::bin())
            .args(run_args(&s, &d.image, &["sleep", "0.3"]))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
        child.wait().unwrap();
        // A started container exits on its own (sleep 0.3) and is removed by --rm.
        std::thread::sleep(Duration::from_millis(600));
        let left: Vec<String> =
            s.containers().into_iter().filter(|id| inspect(id)["State"]["Status"] == "created").collect();
        assert!(left.is_empty(), "after {delay_ms} ms: {left:?}");
    }
}

#[test]
fn twenty_concurrent_runs_leave_nothing() {
    let Some(d) = daemon() else { return };
    let s = Scope::new();
    let children: Vec<_> = (0..20)
        .map(|i| {
            Command::new(common::bin())
                .args(run_args(&s, &d.image, &["sh", "-c", &format!("echo {i}")]))
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for (i, c) in children.into_iter().enumerate() {
        let out = c.wait_with_output().unwrap();
        assert!(out.status.success(), "{i}: {}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(String::from_utf8_lossy(&out.stdout), format!("{i}\n"));
    }
    assert!(s.containers().is_empty(), "{:?}", s.containers());
}

#[test]
fn the_kernel_enforces_the_default_profile() {
    let Some(d) = daemon() else { return };
    let s = Scope::new();
    let o = hardrun(run_args(
        &s,
        &d.image_root,
        &["sh", "-c", "grep -E '^(CapEff|CapBnd|NoNewPrivs|Seccomp|Uid):' /proc/self/status; touch /x 2>&1; true"],
    ))
    .run()
    .success();
    let out = o.stdout();
    assert!(out.contains("CapEff:\t0000000000000000"), "{out}");
    assert!(out.contains("CapBnd:\t0000000000000000"), "{out}");
    assert!(out.contains("NoNewPrivs:\t1"), "{out}");
    assert!(out.contains("Seccomp:\t2"), "{out}");
    assert!(out.contains("Uid:\t65532"), "{out}");
    assert!(out.contains("Read-only file system"), "{out}");
}

#[test]
fn pulls_missing_images_with_plain_progress() {
    let Some(d) = daemon() else { return };
    let Some(reg) = &d.registry else {
        assert!(std::env::var("HARDRUN_REQUIRE_DOCKER").is_err(), "tests/run starts a registry");
        return;
    };
    let s = Scope::new();
    let image = format!("{reg}/hardrun-test/pulled:1");
    let _ = Command::new("docker").args(["image", "rm", "-f", &image]).output();
    let o = hardrun(["run", "--rm", "-l", &s.label, &image, "echo", "pulled"]).run().success().stdout_is("pulled\n");
    let err = o.stderr();
    assert!(err.contains(&format!("Unable to find image '{image}' locally")), "{err}");
    assert!(err.contains("1: Pulling from hardrun-test/pulled"), "{err}");
    assert!(err.contains(": Pull complete"), "one line per downloaded layer: {err}");
    // Quiet pulls print nothing of the pull; --pull never refuses a missing image.
    docker(["image", "rm", "-f", &image]);
    hardrun(["-q", "run", "--rm", "-l", &s.label, "--pull", "always", &image, "true"]).run().success().stdout_is("");
    docker(["image", "rm", "-f", &image]);
    hardrun(["run", "--rm", "--pull", "never", &image, "true"]).run().fails().stderr_has("--pull never");
    let missing = format!("{reg}/hardrun-test/absent:1");
    hardrun(["-q", "run", "--rm", &missing, "true"]).run().fails().stderr_has(&format!("pulling {missing} failed"));
}

#[test]
fn pulls_with_bars_on_a_terminal() {
    let Some(d) = daemon() else { return };
    let Some(reg) = &d.registry else { return };
    let s = Scope::new();
    let image = format!("{reg}/hardrun-test/pulled:1");
    let _ = Command::new("docker").args(["image", "rm", "-f", &image]).output();
    let out = in_pty(&format!("{} run --rm -l {} {image} echo pulled", common::bin().display(), s.label));
    let text = String::from_utf8_lossy(&out);
    let _ = Command::new("docker").args(["image", "rm", "-f", &image]).output();
    assert!(text.contains("pulled"), "{text}");
    assert!(text.contains('\x1b'), "bars redraw with terminal escapes: {text:?}");
}

#[test]
fn flags_an_old_daemon_would_drop_are_errors() {
    let Some(d) = daemon() else { return };
    let s = Scope::new();
    let api = docker(["version", "--format", "{{.Server.APIVersion}}"]);
    let (major, minor) = api.trim().split_once('.').unwrap();
    if (major.parse::<u32>().unwrap(), minor.parse::<u32>().unwrap()) >= (1, 44) {
        return;
    }
    hardrun(["-q", "create", "-l", &s.label, "--mac-address", "92:d0:c6:0a:29:33", &d.image, "true"])
        .run()
        .fails()
        .stderr_has("--mac-address needs Engine API 1.44");
    assert!(s.containers().is_empty());
}

#[test]
fn timing_names_each_phase_only_when_asked() {
    let Some(d) = daemon() else { return };
    let s = Scope::new();
    let o = hardrun(run_args(&s, &d.image, &["true"])).env("HARDRUN_TIMING", "1").run().success();
    let phases: Vec<String> = o
        .stderr()
        .lines()
        .filter_map(|l| l.strip_prefix("hardrun: timing: "))
        .map(|l| {
            let (phase, ms) = l.split_once(' ').unwrap();
            assert!(ms.parse::<f64>().is_ok_and(|m| m >= 0.0), "{l}");
            phase.to_string()
        })
        .collect();
    let want = ["parse", "connect", "gate", "create", "attach", "register-wait", "start", "verify", "exit", "remove"];
    assert_eq!(phases, want);
    let quiet = hardrun(run_args(&s, &d.image, &["true"])).run().success();
    assert!(!quiet.stderr().contains("timing"), "{}", quiet.stderr());
}
