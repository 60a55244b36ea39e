//! Verification before the command runs, against the real daemon and kernel:
//! hardrun-init refuses a container that is not as planned (and runs nothing), every
//! run is verified however short, the init is invisible to the command (exit codes,
//! runc's messages, PID 1, argv, fds), a later `docker start` is guarded, a bind source
//! swapped for the host's root during the run is never mounted, and the daemon's record
//! stands in where the kernel cannot be read.

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{Scope, daemon, docker, hardrun, inspect};

/// The init's exit code when it did not run the command (init/main.rs).
const REFUSED: i32 = 78;

fn run(args: &[&str]) -> Output {
    Command::new("docker").args(args).stdin(Stdio::null()).output().unwrap()
}

#[test]
fn short_lived_containers_are_verified_in_the_kernel() {
    let Some(d) = daemon() else { return };
    let s = Scope::new();
    for image in [&d.image, &d.image_root] {
        hardrun(["-v", "run", "--rm", "-l", &s.label, image, "true"])
            .run()
            .success()
            .stderr_has("verified (kernel, before the command ran): capabilities effective none")
            .stderr_has("read-only root; mounts as planned");
    }
    // Detached, and with an added capability: the bounding set has it, nothing else.
    let o =
        hardrun(["-v", "run", "-d", "--rm", "--cap-add", "CHOWN", "-l", &s.label, &d.image, "true"]).run().success();
    assert_eq!(o.stdout().trim().len(), 64);
    let err = o.stderr();
    assert!(err.contains("CHOWN will not be effective"), "{err}");
    assert!(err.contains("effective none, permitted none, bounding CHOWN, ambient none"), "{err}");
}

/// A hardrun container's init expectations and folder, from `hardrun create`.
fn init_of(s: &Scope, image: &str) -> (String, String) {
    let o = hardrun(["-q", "create", "-l", &s.label, image, "true"]).run().success();
    let v = inspect(o.stdout().trim());
    let spec = v["Config"]["Entrypoint"][1].as_str().unwrap().to_string();
    let mounts = v["HostConfig"]["Mounts"].as_array().unwrap();
    let dir = mounts.iter().find(|m| m["Target"] == "/.hardrun").unwrap()["Source"].as_str().unwrap().to_string();
    assert!(spec.starts_with("hardrun-init 1\n"), "{spec}");
    (spec, dir)
}

#[test]
fn the_init_refuses_to_run_anything_in_a_container_not_as_planned() {
    let Some(d) = daemon() else { return };
    let s = Scope::new();
    let (spec, dir) = init_of(&s, &d.image);
    let extra = tempfile::tempdir().unwrap();
    let extra_bind = format!("{}:/extra", extra.path().display());
    let init_bind = format!("{dir}:/.hardrun:ro");
    // docker run given what hardrun would have asked for, the init in front; a case
    // leaves out one of these and adds its own flags.
    let planned: [&[&str]; 5] = [
        &["--read-only"],
        &["--cap-drop", "ALL"],
        &["--security-opt", "no-new-privileges"],
        &["--user", "65532:65532"],
        &["--cgroupns", "private"],
    ];
    let by_hand = |without: &str, with: &[&str]| {
        let mut args = vec!["run", "--rm", "-l", &s.label, "-v", &init_bind, "--entrypoint", "/.hardrun/init"];
        args.extend(planned.iter().filter(|f| f[0] != without).flat_map(|f| f.iter().copied()));
        args.extend_from_slice(with);
        args.extend([d.image.as_str(), spec.as_str(), "--", "echo", "ran"]);
        run(&args)
    };
    // The control: the same container as planned runs its command.
    let o = by_hand("", &[]);
    assert_eq!((o.status.code(), String::from_utf8_lossy(&o.stdout).as_ref()), (Some(0), "ran\n"), "{o:?}");
    let cases: [(&str, &[&str], &str); 6] = [
        ("", &["--cap-add", "NET_RAW"], "CapBnd holds NET_RAW (the plan allows none)"),
        ("", &["-v", &extra_bind], "unexpected mount at /extra"),
        ("--read-only", &[], "the root filesystem is writable"),
        ("", &["--security-opt", "seccomp=unconfined"], "Seccomp is mode 0, not 2 (filter)"),
        ("--user", &["--user", "65532:0"], "Gid is 0 0 0 0 (the plan has 65532)"),
        ("--cgroupns", &["--cgroupns", "host"], "in the host's cgroup namespace"),
    ];
    for (without, with, want) in cases {
        let o = by_hand(without, with);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(REFUSED), "{with:?}: {err}");
        assert!(o.stdout.is_empty(), "{with:?}: the command ran: {o:?}");
        assert!(
            err.starts_with("hardrun-init: the container is not as planned, so the command was not run: "),
            "{err}"
        );
        assert!(err.contains(want), "{with:?}: {want:?} not in {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
    }
}

/// An image with files runc cannot run: a non-ELF with the execute bit, a script with a
/// missing interpreter, a file without the execute bit.
fn odd_image(s: &Scope, base: &str) -> String {
    let builder = s.name("odd");
    let image = format!("hardrun-test/odd:{}", s.name("t"));
    docker([
        "run",
        "--name",
        &builder,
        "-l",
        &s.label,
        base,
        "sh",
        "-c",
        "printf '\\001\\002garbage' > /bin/garb && chmod 755 /bin/garb && \
         printf '#!/nonexistent\\n' > /bin/noint && chmod 755 /bin/noint && \
         cp /bin/busybox /bin/rdonly && chmod 644 /bin/rdonly",
    ]);
    docker(["commit", &builder, &image]);
    image
}

#[test]
fn exit_codes_and_messages_are_dockers_own() {
    let Some(d) = daemon() else { return };
    let s = Scope::new();
    let image = odd_image(&s, &d.image_root);
    let cases: [(&[&str], &str); 12] = [
        (&["true"], ""),
        (&["sh", "-c", "exit 7"], ""),
        (&["nope"], r#"exec: "nope": executable file not found in $PATH"#),
        (&[""], r#"exec: "": executable file not found in $PATH"#),
        (&["rdonly"], r#"exec: "rdonly": executable file not found in $PATH"#),
        (&["/no/such"], r#"exec: "/no/such": stat /no/such: no such file or directory"#),
        (&["./rel"], r#"exec: "./rel": stat ./rel: no such file or directory"#),
        (&["/etc"], r#"exec: "/etc": permission denied"#),
        (&["/bin/rdonly"], r#"exec: "/bin/rdonly": permission denied"#),
        (&["/etc/passwd"], r#"exec: "/etc/passwd": permission denied"#),
        // Found, then the kernel refuses: the container ran, runc's message, status 1.
        (&["garb"], "exec /bin/garb: exec format error"),
        (&["noint"], "exec /bin/noint: no such file or directory"),
    ];
    for (cmd, message) in cases {
        let mut docker_args = vec!["run", "--rm", "-l", &s.label, "--user", "65532:65532", &image];
        docker_args.extend_from_slice(cmd);
        let theirs = run(&docker_args);
        let mut ours = vec!["-q", "run", "--rm", "-l", &s.label, &image];
        ours.extend_from_slice(cmd);
        let o = hardrun(&ours).run();
        assert_eq!(Some(o.code()), theirs.status.code(), "{cmd:?}: {}", o.stderr());
        let theirs_err = String::from_utf8_lossy(&theirs.stderr);
        assert!(theirs_err.contains(message), "docker {cmd:?}: {theirs_err}");
        assert!(o.stderr().contains(message), "hardrun {cmd:?}: {}", o.stderr());
    }
    let _ = Command::new("docker").args(["image", "rm", "-f", &image]).output();
    assert!(s.containers().iter().all(|id| inspect(id)["Name"].as_str().unwrap_or("").contains("odd")));
}

#[test]
fn the_command_is_pid_1_with_dockers_argv_fds_and_environment() {
    let Some(d) = daemon() else { return };
    let s = Scope::new();
    let script = "echo $$; tr '\\0' ' ' </proc/1/cmdline; echo; ls /proc/self/fd; env | sort; ulimit -n; umask";
    let o = hardrun(["-q", "run", "--rm", "-l", &s.label, "-e", "A=1", &d.image, "sh", "-c", script]).run().success();
    let theirs = run(&[
        "run",
        "--rm",
        "-l",
        &s.label,
        "-e",
        "A=1",
        "--user",
        "65532:65532",
        "--ulimit",
        "nofile=1024:4096",
        "-h",
        "HOST",
        &d.image,
        "sh",
        "-c",
        script,
    ]);
    // The hostname is the container's ID, different each time.
    let norm = |out: &str| out.lines().filter(|l| !l.starts_with("HOSTNAME=")).collect::<Vec<_>>().join("\n");
    assert_eq!(norm(&o.stdout()), norm(&String::from_utf8_lossy(&theirs.stdout)));
    assert!(o.stdout().starts_with(&format!("1\nsh -c {script} \n")), "{}", o.stdout());
    // With docker's --init, docker-init is PID 1 and runs hardrun-init, which execs.
    let o = hardrun(["-v", "run", "--rm", "--init", "-l", &s.label, &d.image, "sh", "-c", "echo $$; cat /proc/1/comm"])
        .run()
        .success()
        .stderr_has("verified (kernel");
    assert!(o.stdout().ends_with("docker-init\n") && !o.stdout().starts_with("1\n"), "{}", o.stdout());
}

#[test]
fn a_later_docker_start_is_guarded_too() {
    let Some(d) = daemon() else { return };
    let s = Scope::new();
    let project = tempfile::tempdir().unwrap();
    std::fs::create_dir(project.path().join("data")).unwrap();
    std::fs::write(project.path().join("data/marker"), "inside").unwrap();
    let id = hardrun(["-q", "create", "-l", &s.label, "-v", "./data:/data", &d.image, "ls", "/data"])
        .current_dir(project.path())
        .run()
        .success()
        .stdout()
        .trim()
        .to_string();
    let o = run(&["start", "-a", &id]);
    assert_eq!((o.status.code(), String::from_utf8_lossy(&o.stdout).as_ref()), (Some(0), "marker\n"), "{o:?}");
    // The source replaced by a link to the host's root after hardrun judged it.
    std::fs::rename(project.path().join("data"), project.path().join("data.old")).unwrap();
    std::os::unix::fs::symlink("/", project.path().join("data")).unwrap();
    let o = run(&["start", "-a", &id]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(REFUSED), "{err}");
    assert!(o.stdout.is_empty(), "the command ran: {o:?}");
    assert!(err.contains("/data is ") && err.contains("the plan binds"), "{err}");
}

#[test]
fn sixty_concurrent_short_runs_are_all_verified() {
    let Some(d) = daemon() else { return };
    let s = Scope::new();
    let children: Vec<_> = (0..60)
        .map(|_| {
            Command::new(common::bin())
                .args(["-v", "run", "--rm", "-l", &s.label, &d.image, "true"])
                .env("XDG_CONFIG_HOME", "/nonexistent-hardrun-test")
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let failed: Vec<String> = children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .filter(|o| !o.status.success() || !String::from_utf8_lossy(&o.stderr).contains("verified (kernel"))
        .map(|o| format!("{:?}: {}", o.status.code(), String::from_utf8_lossy(&o.stderr)))
        .collect();
    assert!(failed.is_empty(), "{} of 60 not verified:\n{}", failed.len(), failed.join("\n"));
    assert!(s.containers().is_empty(), "{:?}", s.containers());
}

/// Swaps two names atomically (a folder and a symlink to `/`).
fn exchange(dir: &Path, a: &str, b: &str) {
    let path = |n: &str| std::ffi::CString::new(dir.join(n).into_os_string().into_encoded_bytes()).unwrap();
    let (a, b) = (path(a), path(b));
    // SAFETY: two valid paths; renameat2 only renames.
    let r = unsafe { libc::renameat2(libc::AT_FDCWD, a.as_ptr(), libc::AT_FDCWD, b.as_ptr(), libc::RENAME_EXCHANGE) };
    assert_eq!(r, 0, "{}", std::io::Error::last_os_error());
}

#[test]
fn a_bind_source_swapped_for_the_hosts_root_is_never_mounted() {
    let Some(d) = daemon() else { return };
    let s = Scope::new();
    let project = tempfile::tempdir().unwrap();
    let dir = project.path().to_path_buf();
    std::fs::create_dir(dir.join("data")).unwrap();
    std::fs::write(dir.join("data/marker"), "inside").unwrap();
    std::os::unix::fs::symlink("/", dir.join("other")).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let swaps = Arc::new(AtomicUsize::new(0));
    let swapper = {
        let (stop, swaps, dir) = (stop.clone(), swaps.clone(), dir.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                exchange(&dir, "data", "other");
                swaps.fetch_add(1, Ordering::Relaxed);
                std::thread::sleep(Duration::from_micros(200));
            }
        })
    };
    // Four runs at a time, 100 in all or as many as 60 s allow.
    let start = Instant::now();
    let tries = AtomicUsize::new(0);
    let outcomes: std::sync::Mutex<Vec<(i32, String, String)>> = Default::default();
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                while start.elapsed() < Duration::from_secs(60) && tries.fetch_add(1, Ordering::SeqCst) < 100 {
                    let o =
                        hardrun(["-q", "run", "--rm", "-l", &s.label, "-v", "./data:/data", &d.image, "ls", "/data"])
                            .current_dir(&dir)
                            .run();
                    outcomes.lock().unwrap().push((o.code(), o.stdout(), o.stderr()));
                }
            });
        }
    });
    let outcomes = outcomes.into_inner().unwrap();
    let tries = outcomes.len();
    let (mut ran, mut caught, mut refused) = (0, 0, 0);
    let mut escapes = Vec::new();
    for (code, out, err) in &outcomes {
        match code {
            0 if out == "marker\n" => ran += 1,
            0 => escapes.push(out.clone()),
            125 if err.contains("not as planned, so hardrun-init did not run its command") => caught += 1,
            125 if err.contains("refused -v") => refused += 1,
            code => panic!("unexpected outcome {code}: {err}"),
        }
    }
    stop.store(true, Ordering::Relaxed);
    swapper.join().unwrap();
    eprintln!("{tries} runs: {ran} ran with the folder, {caught} stopped by the init, {refused} refused by policy");
    assert!(escapes.is_empty(), "the host's root was mounted {} times: {escapes:?}", escapes.len());
    assert!(tries >= 20, "only {tries} runs in 60 s");
    assert!(swaps.load(Ordering::Relaxed) > tries, "the source was swapped during the runs");
    assert!(caught + refused > 0, "the race never showed: {ran} plain runs");
    assert!(s.containers().is_empty(), "{:?}", s.containers());
}

#[test]
fn without_the_kernel_the_daemons_record_is_judged_and_named() {
    let Some(d) = daemon() else { return };
    let s = Scope::new();
    // No folder the init can be kept in: verification falls back to inspect, before start.
    hardrun(["-v", "run", "--rm", "-l", &s.label, &d.image, "true"])
        .env("XDG_DATA_HOME", "/proc/hardrun-test-nowhere")
        .run()
        .success()
        .stderr_has("verified (the daemon's record, not the kernel: hardrun's init could not be set up under /proc/hardrun-test-nowhere")
        .stderr_has("capabilities drop ALL, add none, no-new-privileges, seccomp profile as sent, read-only root");
}
