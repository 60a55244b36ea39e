//! A unix-socket proxy in front of the Docker daemon's socket that forwards every request
//! but holds the first one matching a rule forever: never forwarded (the daemon never hears of
//! it), or forwarded with its answer held (the daemon acts, the client never learns).
//! So a test can catch hardrun in any phase, in the middle of a daemon call.
//!
//! Requests are read one by one on each connection (clients keep connections alive), so
//! a rule sees every request, not only a connection's first; after an upgrade (attach)
//! the connection is copied as raw bytes.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// What becomes of the matching request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hold {
    /// Never forwarded.
    Request,
    /// Forwarded; the daemon's answer is never passed on.
    Response,
    /// Forwarded; the answer's head is passed on, its body never (a wait whose status
    /// never comes).
    Body,
}

/// Which request to hold: its method, pieces its path has and has not, and what to do
/// with it.
#[derive(Debug, Clone)]
pub struct Rule {
    pub method: &'static str,
    pub path_has: Vec<String>,
    pub path_lacks: Vec<String>,
    /// Matches let through before the one held.
    pub skip: usize,
    pub hold: Hold,
}

impl Rule {
    pub fn new(method: &'static str, path_has: &[&str], hold: Hold) -> Rule {
        Rule {
            method,
            path_has: path_has.iter().map(|s| s.to_string()).collect(),
            path_lacks: Vec::new(),
            skip: 0,
            hold,
        }
    }

    /// Lets the first `n` matches through.
    pub fn skip(mut self, n: usize) -> Rule {
        self.skip = n;
        self
    }

    /// Not a request whose path has `piece`.
    pub fn except(mut self, piece: &str) -> Rule {
        self.path_lacks.push(piece.to_string());
        self
    }

    fn matches(&self, method: &str, path: &str) -> bool {
        method == self.method
            && self.path_has.iter().all(|p| path.contains(p.as_str()))
            && !self.path_lacks.iter().any(|p| path.contains(p.as_str()))
    }
}

pub struct StallProxy {
    _dir: tempfile::TempDir,
    pub socket: PathBuf,
    held: Arc<AtomicUsize>,
}

/// Matches seen and requests held, across the proxy's connections.
#[derive(Default)]
struct Counts {
    seen: AtomicUsize,
    held: Arc<AtomicUsize>,
}

/// The daemon's socket, as DOCKER_HOST names it or docker's default.
fn daemon_socket() -> PathBuf {
    std::env::var("DOCKER_HOST")
        .ok()
        .and_then(|h| h.strip_prefix("unix://").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("/var/run/docker.sock"))
}

impl StallProxy {
    pub fn start(rule: Rule) -> StallProxy {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("docker.sock");
        let listener = UnixListener::bind(&socket).unwrap();
        let counts = Arc::new(Counts::default());
        let held = counts.held.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { return };
                let (rule, counts) = (rule.clone(), counts.clone());
                std::thread::spawn(move || {
                    let _ = serve(client, &rule, &counts);
                });
            }
        });
        StallProxy { _dir: dir, socket, held }
    }

    /// `unix://…`, for DOCKER_HOST.
    pub fn host(&self) -> String {
        format!("unix://{}", self.socket.display())
    }

    /// How many requests are held now (0 or 1).
    pub fn held(&self) -> usize {
        self.held.load(Ordering::SeqCst)
    }

    /// Waits until a request is held; false after `limit`.
    pub fn wait_held(&self, limit: Duration) -> bool {
        let end = Instant::now() + limit;
        while self.held() == 0 {
            if Instant::now() > end {
                return false;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        true
    }
}

/// Keeps a held connection open for as long as the test runs.
fn hold_forever() -> ! {
    loop {
        std::thread::park();
    }
}

fn serve(client: UnixStream, rule: &Rule, counts: &Counts) -> std::io::Result<()> {
    let mut upstream = UnixStream::connect(daemon_socket())?;
    let hold_answers = Arc::new(AtomicBool::new(false));
    let body_only = rule.hold == Hold::Body;
    // The daemon's answers, back to the client unless one is being held.
    {
        let (mut from, mut to, hold) = (upstream.try_clone()?, client.try_clone()?, hold_answers.clone());
        std::thread::spawn(move || {
            let mut buf = [0u8; 16 * 1024];
            // The held answer's bytes so far, while its head is passed on.
            let mut head = Vec::new();
            loop {
                let n = match from.read(&mut buf) {
                    Ok(0) | Err(_) => {
                        let _ = to.shutdown(std::net::Shutdown::Write);
                        return;
                    }
                    Ok(n) => n,
                };
                if hold.load(Ordering::SeqCst) {
                    if !body_only {
                        hold_forever();
                    }
                    head.extend_from_slice(&buf[..n]);
                    if let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") {
                        // The head ends in this read: pass it on, hold the rest.
                        let _ = to.write_all(&buf[..n - (head.len() - (end + 4))]);
                        hold_forever();
                    }
                }
                if to.write_all(&buf[..n]).is_err() {
                    return;
                }
            }
        });
    }
    let mut reader = BufReader::new(client);
    loop {
        let mut head = Vec::new();
        loop {
            let mut line = Vec::new();
            if reader.read_until(b'\n', &mut line)? == 0 {
                let _ = upstream.shutdown(std::net::Shutdown::Write);
                return Ok(());
            }
            head.extend_from_slice(&line);
            if line == b"\r\n" || line == b"\n" {
                break;
            }
        }
        let text = String::from_utf8_lossy(&head).to_string();
        let mut first = text.split_whitespace();
        let (method, path) = (first.next().unwrap_or(""), first.next().unwrap_or(""));
        let header = |name: &str| {
            text.lines().find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.trim().eq_ignore_ascii_case(name).then(|| v.trim().to_ascii_lowercase())
            })
        };
        let length: u64 = header("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
        let raw = header("upgrade").is_some() || header("transfer-encoding").is_some_and(|v| v.contains("chunked"));
        // Only the first match is held: what follows (hardrun's clean-up) goes through.
        let hold = rule.matches(method, path)
            && counts.seen.fetch_add(1, Ordering::SeqCst) >= rule.skip
            && counts.held.compare_exchange(0, 1, Ordering::SeqCst, Ordering::SeqCst).is_ok();
        if hold {
            match rule.hold {
                Hold::Request => hold_forever(),
                Hold::Response | Hold::Body => hold_answers.store(true, Ordering::SeqCst),
            }
        }
        upstream.write_all(&head)?;
        if raw {
            // An upgraded or chunked exchange: bytes as they come, to the end.
            std::io::copy(&mut reader, &mut upstream)?;
            return Ok(());
        }
        std::io::copy(&mut (&mut reader).take(length), &mut upstream)?;
        if hold_answers.load(Ordering::SeqCst) {
            hold_forever();
        }
    }
}
