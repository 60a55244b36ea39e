//! A fake Engine API server for the fault tests: a unix socket in a temporary folder,
//! served by threads of the test process. Every request is recorded (method and path,
//! IDs and image names generalised); the requests a scenario targets get its hostile
//! answer, every other one passes through, byte for byte, to the real daemon's socket,
//! so hardrun meets a real daemon everywhere but at the one call under test.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The real daemon the fake passes requests through to.
pub const REAL: &str = "/var/run/docker.sock";

/// A hostile answer.
#[derive(Clone, Debug)]
pub enum Fault {
    /// Bytes that are no HTTP response at all, then the connection closes.
    NotHttp,
    /// `200 OK` with a body that is not the JSON the call expects.
    BadJson,
    /// `200 OK` announcing 4096 bytes, sending 100 and closing.
    Truncated,
    /// `200 OK` with a 300 MB body, streamed.
    Huge,
    /// `500` with a 300 MB error message, streamed.
    HugeError,
    /// `200 OK`, chunked, never ending.
    Endless,
    /// The response head one byte every 100 ms, forever.
    SlowDrip,
    /// The request read, no answer ever.
    Silent,
    /// A response head that never ends (header lines forever).
    HugeHead,
    /// A fixed head, then after `then` a fixed body, then the connection closes.
    Answer { head: Vec<u8>, then: Duration, body: Vec<u8> },
    /// The head of the inner answer at once, then its body a byte every 100 ms.
    Drip(Box<Fault>),
    /// The real daemon's JSON answer, changed by the function (an inspect that lies).
    Rewrite(fn(&mut serde_json::Value)),
}

/// A connection of either kind the fake serves.
pub trait Duplex: Read + Write + Send + 'static {
    fn another(&self) -> Box<dyn Duplex>;
    fn close_write(&self);
    fn read_timeout(&self, d: Option<Duration>);
}

impl Duplex for UnixStream {
    fn another(&self) -> Box<dyn Duplex> {
        Box::new(self.try_clone().unwrap())
    }
    fn close_write(&self) {
        let _ = self.shutdown(std::net::Shutdown::Write);
    }
    fn read_timeout(&self, d: Option<Duration>) {
        let _ = self.set_read_timeout(d);
    }
}

impl Duplex for TcpStream {
    fn another(&self) -> Box<dyn Duplex> {
        Box::new(self.try_clone().unwrap())
    }
    fn close_write(&self) {
        let _ = self.shutdown(std::net::Shutdown::Write);
    }
    fn read_timeout(&self, d: Option<Duration>) {
        let _ = self.set_read_timeout(d);
    }
}

impl Fault {
    /// The generic faults, each meant to fail any call.
    pub const ALL: [Fault; 9] = [
        Fault::NotHttp,
        Fault::BadJson,
        Fault::Truncated,
        Fault::Huge,
        Fault::HugeError,
        Fault::Endless,
        Fault::SlowDrip,
        Fault::Silent,
        Fault::HugeHead,
    ];

    pub fn name(&self) -> &'static str {
        match self {
            Fault::NotHttp => "not-http",
            Fault::BadJson => "bad-json",
            Fault::Truncated => "truncated",
            Fault::Huge => "huge",
            Fault::HugeError => "huge-error",
            Fault::Endless => "endless",
            Fault::SlowDrip => "slow-drip",
            Fault::Silent => "silent",
            Fault::HugeHead => "huge-head",
            Fault::Answer { .. } => "answer",
            Fault::Rewrite(_) => "rewrite",
            Fault::Drip(_) => "drip",
        }
    }
}

/// A running fake daemon; dropping it stops it.
pub struct FakeDaemon {
    _dir: tempfile::TempDir,
    pub socket: PathBuf,
    /// The tcp port when serving on 127.0.0.1 instead (a daemon that is not local).
    port: Option<u16>,
    requests: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
}

/// `GET /containers/{id}/json` from `GET /v1.41/containers/3f2a.../json?x=1`.
pub fn key(method: &str, target: &str) -> String {
    let path = target.split('?').next().unwrap_or_default();
    let mut segs: Vec<&str> = path.split('/').skip(1).collect();
    if segs.first().is_some_and(|s| s.starts_with('v') && s[1..].contains('.')) {
        segs.remove(0);
    }
    let general = if segs.first().is_some_and(|s| *s == "images" || *s == "distribution") && segs.len() > 2 {
        format!("/{}/{{name}}/{}", segs[0], segs[segs.len() - 1])
    } else {
        let segs: Vec<String> =
            segs.iter()
                .map(|s| {
                    if s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
                        "{id}".into()
                    } else {
                        s.to_string()
                    }
                })
                .collect();
        format!("/{}", segs.join("/"))
    };
    format!("{method} {general}")
}

impl FakeDaemon {
    /// Serves until dropped: requests whose [`key`] is `target` get `fault`.
    pub fn start(target: Option<(&str, Fault)>) -> FakeDaemon {
        Self::serving(target, false)
    }

    /// The same on 127.0.0.1: hardrun takes it for a remote daemon.
    pub fn start_tcp(target: Option<(&str, Fault)>) -> FakeDaemon {
        Self::serving(target, true)
    }

    fn serving(target: Option<(&str, Fault)>, tcp: bool) -> FakeDaemon {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("docker.sock");
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let target = target.map(|(k, f)| (k.to_string(), f));
        let (rec, halt) = (requests.clone(), stop.clone());
        let accept: Box<dyn FnMut() -> Option<Box<dyn Duplex>> + Send> = if tcp {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            let port = l.local_addr().unwrap().port();
            std::fs::write(&socket, port.to_string()).unwrap();
            Box::new(move || l.accept().ok().map(|(c, _)| Box::new(c) as Box<dyn Duplex>))
        } else {
            let l = UnixListener::bind(&socket).unwrap();
            Box::new(move || l.accept().ok().map(|(c, _)| Box::new(c) as Box<dyn Duplex>))
        };
        let port = tcp.then(|| std::fs::read_to_string(&socket).unwrap().parse().unwrap());
        let mut accept = accept;
        std::thread::spawn(move || {
            loop {
                let conn = accept();
                if halt.load(Ordering::SeqCst) {
                    return;
                }
                let Some(conn) = conn else { continue };
                let (rec, target, halt) = (rec.clone(), target.clone(), halt.clone());
                std::thread::spawn(move || serve(conn, &rec, target.as_ref(), &halt));
            }
        });
        FakeDaemon { _dir: dir, socket, port, requests, stop }
    }

    pub fn host(&self) -> String {
        match self.port {
            Some(p) => format!("tcp://127.0.0.1:{p}"),
            None => format!("unix://{}", self.socket.display()),
        }
    }

    /// The requests seen so far, as [`key`]s.
    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for FakeDaemon {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the stop.
        match self.port {
            Some(p) => drop(TcpStream::connect(("127.0.0.1", p))),
            None => drop(UnixStream::connect(&self.socket)),
        }
    }
}

fn serve(mut conn: Box<dyn Duplex>, rec: &Mutex<Vec<String>>, target: Option<&(String, Fault)>, halt: &AtomicBool) {
    let mut head = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match conn.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
        if head.len() > 1 << 20 {
            return;
        }
    }
    let line = String::from_utf8_lossy(&head[..head.iter().position(|b| *b == b'\r').unwrap_or(0)]).into_owned();
    let mut parts = line.split(' ');
    let (method, path) = (parts.next().unwrap_or_default(), parts.next().unwrap_or_default());
    let k = key(method, path);
    rec.lock().unwrap().push(k.clone());
    match target {
        Some((t, Fault::Rewrite(change))) if *t == k => rewrite(conn, &head, *change),
        Some((t, fault)) if *t == k => hostile(conn, fault, halt),
        _ => pass_through(conn, &head),
    }
}

fn pass_through(conn: Box<dyn Duplex>, already: &[u8]) {
    let Ok(mut real) = UnixStream::connect(REAL) else { return };
    if real.write_all(already).is_err() {
        return;
    }
    let (mut from_client, mut to_client) = (conn.another(), conn);
    let (mut from_real, mut to_real) = (real.try_clone().unwrap(), real);
    let up = std::thread::spawn(move || {
        let _ = std::io::copy(&mut from_client, &mut to_real);
        let _ = to_real.shutdown(std::net::Shutdown::Write);
    });
    let _ = std::io::copy(&mut from_real, &mut to_client);
    to_client.close_write();
    let _ = up.join();
}

/// Asks the real daemon (a GET without a body), changes its JSON answer, answers that.
fn rewrite(mut conn: Box<dyn Duplex>, request: &[u8], change: fn(&mut serde_json::Value)) {
    let mut real = UnixStream::connect(REAL).unwrap();
    // One exchange: the daemon closes after it, so its body ends at EOF or its framing.
    let text = String::from_utf8_lossy(request).replacen("\r\n", "\r\nConnection: close\r\n", 1);
    real.write_all(text.as_bytes()).unwrap();
    let mut answer = Vec::new();
    real.read_to_end(&mut answer).unwrap();
    let split = answer.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let head = String::from_utf8_lossy(&answer[..split]).to_ascii_lowercase();
    let body =
        if head.contains("transfer-encoding: chunked") { dechunk(&answer[split..]) } else { answer[split..].to_vec() };
    let mut v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    change(&mut v);
    let body = serde_json::to_vec(&v).unwrap();
    let _ = write!(conn, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n", body.len());
    let _ = conn.write_all(&body);
}

fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(end) = raw.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(String::from_utf8_lossy(&raw[..end]).trim(), 16).unwrap();
        if size == 0 {
            break;
        }
        out.extend_from_slice(&raw[end + 2..end + 2 + size]);
        raw = &raw[end + 2 + size + 2..];
    }
    out
}

const BIG: u64 = 300 << 20;

/// Writes `total` bytes of `fill` in 64 KiB pieces, stopping when the client goes away.
fn stream(conn: &mut dyn Duplex, fill: u8, total: u64) {
    let piece = vec![fill; 64 << 10];
    let mut sent = 0;
    while sent < total {
        if conn.write_all(&piece).is_err() {
            return;
        }
        sent += piece.len() as u64;
    }
}

/// Waits for the client to close (or the fake to stop).
fn until_closed(conn: &mut dyn Duplex, halt: &AtomicBool) {
    conn.read_timeout(Some(Duration::from_millis(200)));
    let mut buf = [0u8; 4096];
    while !halt.load(Ordering::SeqCst) {
        match conn.read(&mut buf) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
            Err(_) => return,
        }
    }
}

fn hostile(mut conn: Box<dyn Duplex>, fault: &Fault, halt: &AtomicBool) {
    let c = conn.as_mut();
    match fault {
        Fault::NotHttp => {
            let _ = c.write_all(b"\x00\xff\x1b[2J not http at all\r\n\r\n\x07");
        }
        Fault::BadJson => {
            let body = b"{\"Id\":[1,2,3],\"Warnings\":{\"x\":\"\x1b[31m\"},";
            let _ = write!(
                c,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                body.len()
            );
            let _ = c.write_all(body);
        }
        Fault::Truncated => {
            let _ = c.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 4096\r\n\r\n");
            let _ = c.write_all(&[b'{'; 100]);
        }
        Fault::Huge => {
            let _ = write!(c, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {BIG}\r\n\r\n");
            stream(c, b'[', BIG);
        }
        Fault::HugeError => {
            let _ = write!(
                c,
                "HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/plain\r\nContent-Length: {BIG}\r\n\r\n"
            );
            stream(c, b'\n', BIG);
        }
        Fault::Endless => {
            let _ =
                c.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n");
            let piece = vec![b' '; 64 << 10];
            while !halt.load(Ordering::SeqCst) {
                if write!(c, "{:x}\r\n", piece.len()).is_err()
                    || c.write_all(&piece).is_err()
                    || c.write_all(b"\r\n").is_err()
                {
                    return;
                }
            }
        }
        Fault::SlowDrip => {
            let head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Drip: ";
            for b in head.iter().chain(std::iter::repeat(&b'a')) {
                if halt.load(Ordering::SeqCst) || c.write_all(&[*b]).is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        Fault::Silent => until_closed(c, halt),
        Fault::HugeHead => {
            let _ = c.write_all(b"HTTP/1.1 200 OK\r\n");
            let line = format!("X-Pad: {}\r\n", "p".repeat(1000));
            while !halt.load(Ordering::SeqCst) {
                if c.write_all(line.as_bytes()).is_err() {
                    return;
                }
            }
        }
        Fault::Answer { head, then, body } => {
            if c.write_all(head).is_err() {
                return;
            }
            std::thread::sleep(*then);
            let _ = c.write_all(body);
        }
        Fault::Rewrite(_) => unreachable!("served by rewrite()"),
        Fault::Drip(inner) => {
            let Fault::Answer { head, body, .. } = inner.as_ref() else { unreachable!("drips an answer") };
            if c.write_all(head).is_err() {
                return;
            }
            for b in body {
                if halt.load(Ordering::SeqCst) || c.write_all(&[*b]).is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
}
