//! The test builder: one readable expression per CLI test
//! (`hardrun(["plan", "img:1"]).run().success().stdout_has("CapDrop")`), and the
//! daemon fixture that skips (or, with HARDRUN_REQUIRE_DOCKER=1, fails) without Docker.

#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_hardrun"))
}

/// A hardrun invocation being built.
pub struct Test {
    cmd: Command,
    stdin: Option<Vec<u8>>,
    timeout: Duration,
    shown: String,
}

pub fn hardrun<I, S>(args: I) -> Test
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let args: Vec<String> = args.into_iter().map(|s| s.as_ref().to_string()).collect();
    let mut cmd = Command::new(bin());
    cmd.args(&args);
    // Tests must not depend on the developer's own profiles or docker config.
    cmd.env_remove("HARDRUN_PROFILE").env("XDG_CONFIG_HOME", "/nonexistent-hardrun-test").env("NO_COLOR", "1");
    Test { cmd, stdin: None, timeout: Duration::from_secs(60), shown: format!("hardrun {}", args.join(" ")) }
}

impl Test {
    pub fn env(mut self, k: &str, v: &str) -> Test {
        self.cmd.env(k, v);
        self
    }

    pub fn current_dir(mut self, dir: &Path) -> Test {
        self.cmd.current_dir(dir);
        self
    }

    pub fn stdin(mut self, bytes: impl Into<Vec<u8>>) -> Test {
        self.stdin = Some(bytes.into());
        self
    }

    pub fn timeout(mut self, t: Duration) -> Test {
        self.timeout = t;
        self
    }

    pub fn run(mut self) -> Outcome {
        self.cmd.stdin(if self.stdin.is_some() { Stdio::piped() } else { Stdio::null() });
        self.cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let start = Instant::now();
        let mut child = self.cmd.spawn().expect("hardrun starts");
        if let Some(input) = self.stdin.take() {
            let mut stdin = child.stdin.take().unwrap();
            std::thread::spawn(move || {
                let _ = stdin.write_all(&input);
            });
        }
        // Drain both pipes while waiting, so a large output cannot block the child.
        let mut out = child.stdout.take().unwrap();
        let mut err = child.stderr.take().unwrap();
        let out_reader = std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = std::io::Read::read_to_end(&mut out, &mut v);
            v
        });
        let err_reader = std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = std::io::Read::read_to_end(&mut err, &mut v);
            v
        });
        let deadline = start + self.timeout;
        loop {
            if child.try_wait().unwrap().is_some() {
                break;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("{} did not finish within {:?}", self.shown, self.timeout);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let status = child.wait().unwrap();
        let output = Output { status, stdout: out_reader.join().unwrap(), stderr: err_reader.join().unwrap() };
        Outcome { output, shown: self.shown, elapsed: start.elapsed() }
    }
}

pub struct Outcome {
    pub output: Output,
    pub shown: String,
    pub elapsed: Duration,
}

impl Outcome {
    pub fn code(&self) -> i32 {
        self.output.status.code().unwrap_or(-1)
    }

    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    fn context(&self) -> String {
        format!("{}\n--- exit {}\n--- stdout\n{}--- stderr\n{}", self.shown, self.code(), self.stdout(), self.stderr())
    }

    pub fn status(self, code: i32) -> Outcome {
        assert_eq!(self.code(), code, "{}", self.context());
        self
    }

    pub fn success(self) -> Outcome {
        self.status(0)
    }

    /// A hardrun failure: exit 125, one clear line per problem, no panic or backtrace.
    pub fn fails(self) -> Outcome {
        let o = self.status(125);
        let err = o.stderr();
        assert!(
            !err.contains("panicked") && !err.contains("backtrace") && !err.contains("RUST_BACKTRACE"),
            "{}",
            o.context()
        );
        assert!(err.lines().all(|l| l.starts_with("hardrun: ")), "every line is hardrun's own: {}", o.context());
        o
    }

    pub fn stdout_has(self, s: &str) -> Outcome {
        assert!(self.stdout().contains(s), "stdout lacks {s:?}\n{}", self.context());
        self
    }

    pub fn stdout_is(self, s: &str) -> Outcome {
        assert_eq!(self.stdout(), s, "{}", self.context());
        self
    }

    pub fn stdout_lacks_line_with(self, a: &str, b: &str) -> Outcome {
        let hit = self.stdout().lines().any(|l| l.contains(a) && l.contains(b));
        assert!(!hit, "stdout has a line with {a:?} and {b:?}\n{}", self.context());
        self
    }

    pub fn stderr_has(self, s: &str) -> Outcome {
        assert!(self.stderr().contains(s), "stderr lacks {s:?}\n{}", self.context());
        self
    }

    pub fn stderr_lacks(self, s: &str) -> Outcome {
        assert!(!self.stderr().contains(s), "stderr has {s:?}\n{}", self.context());
        self
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.output.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", self.context()))
    }
}

/// The daemon and test images, when the machine has them.
pub struct Daemon {
    /// Runs as 10001:10001 (USER in the image).
    pub image: String,
    /// Runs as root by default, like most public images.
    pub image_root: String,
    /// A local registry holding `image` (127.0.0.1:PORT), when the harness started one.
    pub registry: Option<String>,
}

/// The daemon fixture: `None` (with a visible note) when Docker or the test images are
/// missing; a failure instead when HARDRUN_REQUIRE_DOCKER=1.
pub fn daemon() -> Option<Daemon> {
    let required = std::env::var("HARDRUN_REQUIRE_DOCKER").is_ok_and(|v| v == "1");
    let skip = |why: String| -> Option<Daemon> {
        if required {
            panic!("HARDRUN_REQUIRE_DOCKER=1 but {why}");
        }
        eprintln!("SKIPPED (no daemon test): {why}; run tests/run to set the daemon tests up");
        None
    };
    let ok = Command::new("docker").args(["version", "--format", "{{.Server.APIVersion}}"]).output();
    if !ok.as_ref().is_ok_and(|o| o.status.success()) {
        return skip("the Docker daemon is not reachable".into());
    }
    let image = std::env::var("HARDRUN_TEST_IMAGE").unwrap_or_else(|_| "hardrun-test/busybox-app:1".into());
    let image_root = std::env::var("HARDRUN_TEST_IMAGE_ROOT").unwrap_or_else(|_| "hardrun-test/busybox:1".into());
    for img in [&image, &image_root] {
        let present = Command::new("docker").args(["image", "inspect", img]).output().is_ok_and(|o| o.status.success());
        if !present {
            return skip(format!("test image {img} is missing (tests/support/image.sh build)"));
        }
    }
    let registry = std::env::var("HARDRUN_TEST_REGISTRY").ok().filter(|r| !r.is_empty());
    Some(Daemon { image, image_root, registry })
}

/// Everything a test creates carries its label; dropping the guard removes it all,
/// even when the test fails.
pub struct Scope {
    pub label: String,
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

impl Scope {
    pub fn new() -> Scope {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        // The run's id (set by tests/run) first, so its clean-up finds only its own.
        let run = std::env::var("HARDRUN_TEST_RUN").unwrap_or_else(|_| "local".into());
        Scope { label: format!("hardrun-test={run}-{}-{n}", std::process::id()) }
    }

    /// A unique container name within this scope.
    pub fn name(&self, base: &str) -> String {
        format!("{base}-{}", self.label.trim_start_matches("hardrun-test=").replace('=', "-"))
    }

    /// A network of this scope, removed with it.
    pub fn network(&self, base: &str) -> String {
        let name = self.name(base);
        docker(["network", "create", "--label", &self.label, &name]);
        name
    }

    /// A named volume of this scope (created now, labelled), removed with it.
    pub fn volume(&self, base: &str, options: &[&str]) -> String {
        let name = self.name(base);
        let mut args = vec!["volume", "create", "--label", &self.label];
        args.extend_from_slice(options);
        args.push(&name);
        docker(args);
        name
    }

    /// Containers of this scope that exist now.
    pub fn containers(&self) -> Vec<String> {
        let out = Command::new("docker")
            .args(["ps", "-aq", "--no-trunc", "--filter", &format!("label={}", self.label)])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).lines().map(str::to_string).collect()
    }
}

impl Default for Scope {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for Scope {
    /// Containers first, then the networks and volumes they used.
    fn drop(&mut self) {
        let ids = self.containers();
        if !ids.is_empty() {
            let _ = Command::new("docker").args(["rm", "-f", "-v"]).args(&ids).output();
        }
        let filter = format!("label={}", self.label);
        for (kind, list) in [
            ("network", ["network", "ls", "-q", "--filter", &filter]),
            ("volume", ["volume", "ls", "-q", "--filter", &filter]),
        ] {
            let out = Command::new("docker").args(list).output();
            let names: Vec<String> = out
                .map(|o| String::from_utf8_lossy(&o.stdout).lines().map(str::to_string).collect())
                .unwrap_or_default();
            if !names.is_empty() {
                let _ = Command::new("docker").args([kind, "rm"]).args(&names).output();
            }
        }
    }
}

/// `docker` with arguments, for comparisons and inspection; panics on failure.
pub fn docker<I, S>(args: I) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let out = Command::new("docker").args(args).output().unwrap();
    assert!(out.status.success(), "docker failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn inspect(id: &str) -> serde_json::Value {
    let v: serde_json::Value = serde_json::from_str(&docker(["inspect", id])).unwrap();
    v[0].clone()
}

/// The service images (tests/support/services.sh): nginx, PostgreSQL 15, Redis 7, a Flask
/// app under gunicorn with SQLite, memcached and Prometheus, built from Debian's packages
/// and shaped like their official images.
pub struct Services {
    run: String,
}

impl Services {
    /// `hardrun-test/svc-NAME:RUN`.
    pub fn image(&self, name: &str) -> String {
        format!("hardrun-test/svc-{name}:{}", self.run)
    }
}

/// The service images, built once per test binary (the build script is idempotent per
/// run and serialised by a lock, and its root filesystem is cached between runs).
/// `None` without a daemon or mmdebstrap; a failure with HARDRUN_REQUIRE_DOCKER=1.
pub fn services() -> Option<Services> {
    static BUILT: std::sync::OnceLock<Result<String, String>> = std::sync::OnceLock::new();
    daemon()?;
    let built = BUILT.get_or_init(|| {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/services.sh");
        let out = Command::new(script).arg("build").output().map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).into_owned());
        }
        Ok(std::env::var("HARDRUN_TEST_RUN").unwrap_or_else(|_| "local".into()))
    });
    match built {
        Ok(run) => Some(Services { run: run.clone() }),
        Err(why) if std::env::var("HARDRUN_REQUIRE_DOCKER").is_ok_and(|v| v == "1") => {
            panic!("HARDRUN_REQUIRE_DOCKER=1 but the service images could not be built: {why}")
        }
        Err(why) => {
            eprintln!("SKIPPED (no service images): {why}");
            None
        }
    }
}

/// Polls `f` until it returns `Some` or `limit` passes.
pub fn eventually<T>(limit: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The host port docker published for a container port (`8080/tcp`).
pub fn published_port(container: &str, port: &str) -> u16 {
    let out = docker(["port", container, port]);
    let first = out.lines().next().unwrap_or_else(|| panic!("{container} publishes no {port}"));
    first.rsplit(':').next().unwrap().trim().parse().unwrap()
}
