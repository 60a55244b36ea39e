//! A minimal HTTP/1.1 exchange on the daemon's socket, for the two calls whose timing and
//! bytes must be exact: attach (a hijacked raw stream, byte-exact with or without a TTY)
//! and wait (its response header arrives once the wait is registered, so the container
//! cannot exit unseen before start). Used for unix:// and plain tcp:// daemons.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};

use super::Endpoint;

/// A connection to the daemon, unix or tcp.
pub enum Conn {
    Unix(tokio::net::UnixStream),
    Tcp(tokio::net::TcpStream),
}

impl AsyncRead for Conn {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Unix(s) => Pin::new(s).poll_read(cx, buf),
            Conn::Tcp(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Conn {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Conn::Unix(s) => Pin::new(s).poll_write(cx, buf),
            Conn::Tcp(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Unix(s) => Pin::new(s).poll_flush(cx),
            Conn::Tcp(s) => Pin::new(s).poll_flush(cx),
        }
    }

    /// Half-closes: the daemon sees end of input, the output keeps flowing.
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Unix(s) => Pin::new(s).poll_shutdown(cx),
            Conn::Tcp(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}

/// Whether this endpoint can be spoken to raw (TLS cannot).
pub fn supported(endpoint: &Endpoint) -> bool {
    endpoint.tls.is_none()
}

async fn connect(endpoint: &Endpoint) -> io::Result<Conn> {
    if let Some(path) = endpoint.host.strip_prefix("unix://") {
        return Ok(Conn::Unix(tokio::net::UnixStream::connect(path).await?));
    }
    let addr = endpoint.host.trim_start_matches("tcp://");
    let s = tokio::net::TcpStream::connect(addr).await?;
    s.set_nodelay(true)?;
    Ok(Conn::Tcp(s))
}

/// A response whose head has been read; `body` holds what came after it.
pub struct Response {
    pub status: u16,
    pub chunked: bool,
    pub conn: Conn,
    /// Bytes read past the head.
    pub early: Vec<u8>,
}

/// Sends `POST path` and reads the response head.
pub async fn post(endpoint: &Endpoint, path: &str, upgrade: bool) -> io::Result<Response> {
    let mut conn = connect(endpoint).await?;
    let host = if endpoint.host.starts_with("unix://") { "docker" } else { endpoint.host.trim_start_matches("tcp://") };
    // Without an upgrade, ask the daemon to close after the answer, so a body ends at EOF.
    let extra = if upgrade { "Connection: Upgrade\r\nUpgrade: tcp\r\n" } else { "Connection: close\r\n" };
    let req = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: hardrun\r\nContent-Type: text/plain\r\nContent-Length: 0\r\n{extra}\r\n"
    );
    conn.write_all(req.as_bytes()).await?;
    let mut buf = Vec::with_capacity(512);
    let head_end = loop {
        let mut chunk = [0u8; 512];
        let n = conn.read(&mut chunk).await?;
        if n == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the daemon closed the connection"));
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() > 64 * 1024 {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "response head too large"));
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "malformed response from the daemon"))?;
    let chunked = head.lines().any(|l| {
        let l = l.to_ascii_lowercase();
        l.starts_with("transfer-encoding:") && l.contains("chunked")
    });
    Ok(Response { status, chunked, conn, early: buf[head_end..].to_vec() })
}

impl Response {
    /// Reads the whole body (de-chunked) to a string.
    pub async fn body(mut self) -> io::Result<String> {
        let mut raw = std::mem::take(&mut self.early);
        let mut chunk = [0u8; 4096];
        // Read to EOF, or to the end of a chunked body if the daemon keeps the line open.
        while !(self.chunked && raw.ends_with(b"0\r\n\r\n")) {
            let n = self.conn.read(&mut chunk).await?;
            if n == 0 {
                break;
            }
            raw.extend_from_slice(&chunk[..n]);
        }
        let body = if self.chunked { dechunk(&raw) } else { raw };
        Ok(String::from_utf8_lossy(&body).into_owned())
    }

    /// The daemon's error message of a failed call.
    pub async fn error_message(self) -> String {
        let status = self.status;
        let body = self.body().await.unwrap_or_default();
        let msg = serde_json::from_str::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v.get("message").and_then(|m| m.as_str()).map(str::to_string))
            .unwrap_or_else(|| body.trim().to_string());
        if msg.is_empty() {
            format!("the daemon answered {status}")
        } else {
            format!("Error response from daemon: {msg}")
        }
    }
}

/// Decodes a chunked body that is complete in memory.
fn dechunk(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rest = raw;
    while let Some(line_end) = rest.windows(2).position(|w| w == b"\r\n") {
        let size_text = String::from_utf8_lossy(&rest[..line_end]);
        let Ok(size) = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16) else { break };
        rest = &rest[line_end + 2..];
        if size == 0 || rest.len() < size {
            out.extend_from_slice(&rest[..size.min(rest.len())]);
            break;
        }
        out.extend_from_slice(&rest[..size]);
        rest = rest.get(size + 2..).unwrap_or_default();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::dechunk;

    #[test]
    fn chunked_bodies() {
        assert_eq!(dechunk(b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"), b"hello world");
        assert_eq!(dechunk(b"1f\r\n{\"StatusCode\":0,\"Error\":null}\n\r\n0\r\n\r\n").len(), 31);
    }
}
