//! The one road to the daemon. Every Engine API call hardrun makes goes through
//! [`Client`], which bounds what it reads and how long it waits, whatever the daemon
//! (or something posing as it) sends:
//!
//! - connecting takes at most [`CONNECT`];
//! - a call (create, start, inspect, remove, info, ...) is answered, body included,
//!   within [`CALL`];
//! - a stream (pull progress, a download, logs) has its head within [`CALL`] and then
//!   must make progress at least every [`IDLE`] while the caller reads it; the wait and
//!   attach streams last as long as the container runs (their deadlines are the
//!   lifecycle's);
//! - a JSON answer is at most [`JSON_MAX`] bytes, an error body is read up to
//!   [`ERROR_MAX`] and printed as one escaped line; a response head is at most 64 KiB.
//!
//! Bodies are read by their Content-Length or chunked framing (hyper's HTTP/1.1), never
//! "to the end of the connection". bollard's models are the types; this is the transport.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
pub use hyper::Method;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::conn::Target;
use super::endpoint::Endpoint;
use crate::sanitize::{LINE_MAX, line};

/// Connecting to the daemon, TLS handshake included.
pub const CONNECT: Duration = Duration::from_secs(5);
/// A whole call: request, head and body. A daemon answers these in milliseconds; this
/// leaves room for a loaded host (a create on a slow disk) and none for a hang.
/// `HARDRUN_DAEMON_TIMEOUT` (seconds, 1 to 600) sets another.
pub const CALL: Duration = Duration::from_secs(30);

/// The deadline of a call: [`CALL`] or `HARDRUN_DAEMON_TIMEOUT`.
pub fn call_deadline() -> Duration {
    static SET: std::sync::OnceLock<Duration> = std::sync::OnceLock::new();
    *SET.get_or_init(|| {
        std::env::var("HARDRUN_DAEMON_TIMEOUT")
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
            .filter(|s| (1..=600).contains(s))
            .map_or(CALL, Duration::from_secs)
    })
}
/// The longest a stream may go without a byte (pull progress comes every few seconds).
pub const IDLE: Duration = Duration::from_secs(120);
/// The largest JSON answer read (an inspect is a few KiB; a big host's `info` tens).
pub const JSON_MAX: usize = 4 << 20;
/// The largest list of every running container (audit): a summary is 1–2 KiB, so a
/// host with thousands of containers fits.
pub const LIST_MAX: usize = 32 << 20;
/// The most of an error body read (its message is cut to one line anyway).
pub const ERROR_MAX: usize = 64 << 10;
/// The largest response head (status line and headers).
const HEAD_MAX: usize = 64 << 10;

/// A failed call: the daemon's refusal (with its status) or a transport failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct DaemonError {
    /// The HTTP status when the daemon answered with an error.
    pub status: Option<u16>,
    /// One escaped, bounded line.
    pub message: String,
}

impl DaemonError {
    fn other(message: String) -> DaemonError {
        DaemonError { status: None, message }
    }
}

/// A connected-on-demand daemon client speaking one API version.
#[derive(Clone)]
pub struct Client {
    target: Target,
    /// `/v1.47`
    prefix: String,
}

/// What one call is, for its error messages: `POST /containers/create`.
fn what(method: &Method, path: &str) -> String {
    let path = path.split('?').next().unwrap_or_default();
    // Full container IDs shortened as docker shows them.
    let short: Vec<&str> = path.split('/').map(|s| if is_container_id(s) { &s[..12] } else { s }).collect();
    format!("{method} {}", line(&short.join("/"), 120))
}

/// `s` as one path segment (an ID, a name, an image reference).
pub fn seg(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~:@".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Whether `id` is a full container ID as the daemon makes them.
pub fn is_container_id(id: &str) -> bool {
    id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

/// An image reference as a path (its `/` kept, as the daemon's routes expect).
pub fn image_path(reference: &str) -> String {
    reference.split('/').map(seg).collect::<Vec<_>>().join("/")
}

/// The `X-Registry-Auth` header of a pull or registry lookup, when there are credentials.
pub fn registry_auth(creds: Option<bollard::auth::DockerCredentials>) -> Vec<(&'static str, String)> {
    use base64::Engine as _;
    creds
        .and_then(|c| serde_json::to_string(&c).ok())
        .map(|json| vec![("X-Registry-Auth", base64::engine::general_purpose::STANDARD.encode(json))])
        .unwrap_or_default()
}

/// `?a=b&c=d` from one of bollard's query-parameter structs (empty when it has none).
pub fn query<Q: Serialize>(q: &Q) -> String {
    match serde_urlencoded::to_string(q) {
        Ok(s) if !s.is_empty() => format!("?{s}"),
        _ => String::new(),
    }
}

impl Client {
    pub fn new(endpoint: &Endpoint, api: (u32, u32)) -> Result<Client, String> {
        Ok(Client { target: Target::of(endpoint)?, prefix: format!("/v{}.{}", api.0, api.1) })
    }

    /// The same daemon at another API version.
    pub fn at(&self, api: (u32, u32)) -> Client {
        Client { target: self.target.clone(), prefix: format!("/v{}.{}", api.0, api.1) }
    }

    async fn open(&self) -> Result<hyper::client::conn::http1::SendRequest<Full<Bytes>>, DaemonError> {
        let conn = match tokio::time::timeout(CONNECT, self.target.connect()).await {
            Err(_) => return Err(DaemonError::other(format!("no answer within {}s", CONNECT.as_secs()))),
            Ok(Err(e)) => return Err(DaemonError::other(line(&e.to_string(), LINE_MAX))),
            Ok(Ok(c)) => c,
        };
        let (send, connection) = hyper::client::conn::http1::Builder::new()
            .max_buf_size(HEAD_MAX)
            .handshake(TokioIo::new(conn))
            .await
            .map_err(|e| DaemonError::other(line(&e.to_string(), LINE_MAX)))?;
        // The connection lives as long as its response (or upgraded stream) is read.
        tokio::spawn(async move {
            let _ = connection.with_upgrades().await;
        });
        Ok(send)
    }

    /// Sends one request and returns the response once its head is in, within [`CALL`].
    /// An error status becomes a [`DaemonError`] with the daemon's message.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, String)],
        body: Option<Vec<u8>>,
    ) -> Result<Response<Incoming>, DaemonError> {
        let call = what(&method, path);
        let exchange = async {
            let mut send = self.open().await?;
            let mut req = Request::builder()
                .method(method.clone())
                .uri(format!("{}{path}", self.prefix))
                .header("Host", self.target.host_header())
                .header("User-Agent", concat!("hardrun/", env!("CARGO_PKG_VERSION")));
            for (k, v) in headers {
                req = req.header(*k, v);
            }
            if body.is_some() {
                req = req.header("Content-Type", "application/json");
            }
            let req = req
                .body(Full::new(Bytes::from(body.unwrap_or_default())))
                .map_err(|e| DaemonError::other(format!("{call}: {e}")))?;
            send.send_request(req).await.map_err(|e| DaemonError::other(format!("{call}: {}", hyper_error(&e))))
        };
        // One deadline for the head and, on an error, its message.
        let deadline = tokio::time::Instant::now() + call_deadline();
        let resp = match tokio::time::timeout_at(deadline, exchange).await {
            Err(_) => return Err(timeout(&call)),
            Ok(r) => r?,
        };
        let status = resp.status();
        if status.is_success() || status == StatusCode::SWITCHING_PROTOCOLS {
            return Ok(resp);
        }
        let text = match tokio::time::timeout_at(deadline, Limited::new(resp.into_body(), ERROR_MAX).collect()).await {
            Ok(Ok(b)) => String::from_utf8_lossy(&b.to_bytes()).into_owned(),
            // Too long, cut short or too slow: the status says enough.
            _ => String::new(),
        };
        Err(refusal(&call, status.as_u16(), &text))
    }

    /// A call whose answer is JSON of type `T`, read whole within [`CALL`] and
    /// [`JSON_MAX`].
    pub async fn json<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
        headers: &[(&str, String)],
    ) -> Result<T, DaemonError> {
        let bytes = self.bytes(method.clone(), path, body, headers, JSON_MAX).await?;
        serde_json::from_slice(&bytes).map_err(|e| {
            DaemonError::other(format!(
                "{}: the daemon's answer is not what the Engine API specifies ({})",
                what(&method, path),
                line(&e.to_string(), 200)
            ))
        })
    }

    /// `GET path` answered with JSON.
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, DaemonError> {
        self.json(Method::GET, path, None, &[]).await
    }

    /// `POST path` with a JSON body, answered with JSON.
    pub async fn post<B: Serialize, T: DeserializeOwned>(&self, path: &str, body: &B) -> Result<T, DaemonError> {
        let body = serde_json::to_vec(body).map_err(|e| DaemonError::other(e.to_string()))?;
        self.json(Method::POST, path, Some(body), &[]).await
    }

    /// A call whose answer carries nothing hardrun reads (start, kill, remove, resize):
    /// its body, if any, is still read within the bounds, so the call is complete.
    pub async fn call(&self, method: Method, path: &str, body: Option<Vec<u8>>) -> Result<(), DaemonError> {
        self.bytes(method, path, body, &[], JSON_MAX).await.map(drop)
    }

    /// The whole body of a call, within [`CALL`] and `max` bytes.
    pub async fn bytes(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
        headers: &[(&str, String)],
        max: usize,
    ) -> Result<Bytes, DaemonError> {
        let call = what(&method, path);
        let whole = async {
            let resp = self.send(method, path, headers, body).await?;
            read_all(resp.into_body(), max, &call).await
        };
        match tokio::time::timeout(call_deadline(), whole).await {
            Err(_) => Err(timeout(&call)),
            Ok(r) => r,
        }
    }

    /// The head of a call whose body is a stream read by the caller (see [`Stream`]).
    pub async fn stream(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, String)],
    ) -> Result<(Response<()>, Stream), DaemonError> {
        let call = what(&method, path);
        let resp = self.send(method, path, headers, None).await?;
        let (head, body) = resp.into_parts();
        Ok((Response::from_parts(head, ()), Stream { body, call, pending: Bytes::new() }))
    }

    /// `POST path` upgraded to a raw two-way stream (attach): hardrun's stdin one way,
    /// the container's output the other, byte for byte.
    pub async fn upgrade(&self, path: &str) -> Result<TokioIo<hyper::upgrade::Upgraded>, DaemonError> {
        let call = what(&Method::POST, path);
        let headers = [("Connection", "Upgrade".to_string()), ("Upgrade", "tcp".to_string())];
        let resp = self.send(Method::POST, path, &headers, None).await?;
        if resp.status() != StatusCode::SWITCHING_PROTOCOLS {
            return Err(DaemonError::other(format!(
                "{call}: the daemon answered {} instead of switching to the attached stream",
                resp.status().as_u16()
            )));
        }
        match tokio::time::timeout(call_deadline(), hyper::upgrade::on(resp)).await {
            Ok(Ok(io)) => Ok(TokioIo::new(io)),
            Ok(Err(e)) => Err(DaemonError::other(format!("{call}: {}", hyper_error(&e)))),
            Err(_) => Err(timeout(&call)),
        }
    }
}

/// A response body read as it comes, each read bounded by the caller's deadline.
pub struct Stream {
    body: Incoming,
    call: String,
    /// Bytes received and not yet handed out (by [`Stream::line`]).
    pending: Bytes,
}

impl Stream {
    /// The next piece of the body, `None` at its end; an error when nothing came for `idle`.
    pub async fn next(&mut self, idle: Option<Duration>) -> Result<Option<Bytes>, DaemonError> {
        if !self.pending.is_empty() {
            return Ok(Some(std::mem::take(&mut self.pending)));
        }
        loop {
            let frame = match idle {
                Some(d) => match tokio::time::timeout(d, self.body.frame()).await {
                    Err(_) => {
                        return Err(DaemonError::other(format!(
                            "{}: the daemon sent nothing for {}s",
                            self.call,
                            d.as_secs()
                        )));
                    }
                    Ok(f) => f,
                },
                None => self.body.frame().await,
            };
            match frame {
                None => return Ok(None),
                Some(Err(e)) => return Err(DaemonError::other(format!("{}: {}", self.call, hyper_error(&e)))),
                Some(Ok(f)) => {
                    if let Ok(data) = f.into_data()
                        && !data.is_empty()
                    {
                        return Ok(Some(data));
                    }
                }
            }
        }
    }

    /// The next newline-terminated line (without it), at most `max` bytes; `None` at the end.
    pub async fn line(&mut self, max: usize, idle: Duration) -> Result<Option<Vec<u8>>, DaemonError> {
        let mut out = Vec::new();
        loop {
            let Some(chunk) = self.next(Some(idle)).await? else {
                return Ok((!out.is_empty()).then_some(out));
            };
            if let Some(i) = chunk.iter().position(|b| *b == b'\n') {
                out.extend_from_slice(&chunk[..i]);
                self.pending = chunk.slice(i + 1..);
            } else {
                out.extend_from_slice(&chunk);
            }
            if out.len() > max {
                return Err(DaemonError::other(format!(
                    "{}: the daemon sent a line longer than {max} bytes",
                    self.call
                )));
            }
            if !self.pending.is_empty() || chunk.contains(&b'\n') {
                return Ok(Some(out));
            }
        }
    }

    /// The rest of the body, at most `max` bytes, each piece within `idle`.
    pub async fn rest(mut self, max: usize, idle: Option<Duration>) -> Result<Vec<u8>, DaemonError> {
        let mut out = Vec::new();
        while let Some(chunk) = self.next(idle).await? {
            if out.len() + chunk.len() > max {
                return Err(too_large(&self.call, max));
            }
            out.extend_from_slice(&chunk);
        }
        Ok(out)
    }
}

async fn read_all(body: Incoming, max: usize, call: &str) -> Result<Bytes, DaemonError> {
    match Limited::new(body, max).collect().await {
        Ok(b) => Ok(b.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(too_large(call, max)),
        Err(e) => Err(DaemonError::other(format!(
            "{call}: {}",
            e.downcast_ref::<hyper::Error>().map_or_else(|| line(&e.to_string(), LINE_MAX), hyper_error)
        ))),
    }
}

fn too_large(call: &str, max: usize) -> DaemonError {
    DaemonError::other(format!("{call}: the daemon's answer is larger than {} KiB, more than any valid one", max >> 10))
}

fn timeout(call: &str) -> DaemonError {
    DaemonError::other(format!("{call}: the daemon did not answer within {}s", call_deadline().as_secs()))
}

/// hyper's error with its cause (hyper's own text is terse: "connection error").
fn hyper_error(e: &hyper::Error) -> String {
    let mut text = e.to_string();
    if let Some(cause) = std::error::Error::source(e) {
        text.push_str(&format!(": {cause}"));
    }
    line(&text, LINE_MAX)
}

/// The daemon's refusal as docker prints it: its `message`, escaped, on one line.
fn refusal(call: &str, status: u16, body: &str) -> DaemonError {
    let message = serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("message").and_then(|m| m.as_str()).map(str::to_string))
        .unwrap_or_else(|| body.trim().to_string());
    let message = if message.is_empty() {
        format!("{call}: the daemon answered {status}")
    } else {
        format!("Error response from daemon: {}", line(&message, LINE_MAX))
    };
    DaemonError { status: Some(status), message }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_and_queries_are_encoded() {
        assert_eq!(seg("abc123"), "abc123");
        assert_eq!(seg("a/b c?d"), "a%2Fb%20c%3Fd");
        assert_eq!(seg("reg:5000/x@sha256:ab").len(), "reg:5000%2Fx@sha256:ab".len());
        let q = bollard::query_parameters::RemoveContainerOptionsBuilder::new().force(true).v(true).build();
        assert_eq!(query(&q), "?v=true&force=true&link=false");
    }

    #[test]
    fn refusals_are_one_escaped_line() {
        let e = refusal("GET /info", 500, "{\"message\":\"boom\\n\\u001b[2J\"}");
        assert_eq!((e.status, e.message.as_str()), (Some(500), "Error response from daemon: boom\\n\\x1b[2J"));
        assert_eq!(refusal("GET /info", 502, "").message, "GET /info: the daemon answered 502");
        let huge = refusal("GET /info", 500, &"y".repeat(ERROR_MAX));
        assert!(huge.message.len() < LINE_MAX + 80);
        assert!(!refusal("GET /info", 500, "a\nb").message.contains('\n'));
        let id = "a".repeat(64);
        assert_eq!(
            what(&Method::POST, &format!("/containers/{id}/wait?condition=x")),
            "POST /containers/aaaaaaaaaaaa/wait"
        );
    }
}
