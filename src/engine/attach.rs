//! Attaching to a container: the hijacked stream, its output written byte for byte to
//! hardrun's stdout and stderr (kept apart without a TTY), and stdin forwarded with the
//! detach key sequence watched.

use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Result, anyhow};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::client::seg;
use super::terminal::{DetachWatch, Scan};
use super::{Engine, describe};

/// What to attach and how to read it.
#[derive(Debug, Clone)]
pub struct Streams {
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
    pub tty: bool,
    /// As the user wrote them (passed to the daemon) and as bytes (watched here).
    pub detach_keys: Option<(String, Vec<u8>)>,
}

/// The attached stream: the daemon's connection after its switch to raw bytes.
pub struct Attachment(TokioIo<hyper::upgrade::Upgraded>);

/// How the attachment ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// The container closed its output (it exited).
    Closed,
    /// The user typed the detach keys; the container runs on.
    Detached,
}

impl Engine {
    pub async fn attach(&self, id: &str, s: &Streams) -> Result<Attachment> {
        let flag = |b: bool| if b { "1" } else { "0" };
        let keys = s.detach_keys.as_ref().map(|(k, _)| format!("&detachKeys={}", urlencode(k))).unwrap_or_default();
        let path = format!(
            "/containers/{}/attach?stream=1&stdin={}&stdout={}&stderr={}{keys}",
            seg(id),
            flag(s.stdin),
            flag(s.stdout),
            flag(s.stderr)
        );
        let io =
            self.client.upgrade(&path).await.map_err(|e| anyhow!("attaching to the container: {}", describe(&e)))?;
        Ok(Attachment(io))
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Moves bytes until the container's output ends or the user detaches.
/// `moved` counts the output bytes, so the caller can tell a stream that flows from one
/// that hangs.
pub async fn pump(att: Attachment, s: &Streams, moved: &AtomicU64) -> Result<End> {
    let (rd, wr) = tokio::io::split(att.0);
    run_both(copy_output(rd, s.tty, moved), wr, s).await
}

async fn run_both<W: AsyncWrite + Unpin>(
    output: impl std::future::Future<Output = Result<()>>,
    input: W,
    s: &Streams,
) -> Result<End> {
    if !s.stdin {
        output.await?;
        return Ok(End::Closed);
    }
    let keys = s.detach_keys.as_ref().map(|(_, b)| b.clone()).unwrap_or_default();
    let input = copy_input(input, keys);
    tokio::pin!(output, input);
    let mut input_done = false;
    loop {
        tokio::select! {
            r = &mut output => { r?; return Ok(End::Closed); }
            r = &mut input, if !input_done => {
                match r? {
                    End::Detached => return Ok(End::Detached),
                    // Stdin ended: the output keeps coming until the container exits.
                    End::Closed => input_done = true,
                }
            }
        }
    }
}

async fn write<W: AsyncWrite + Unpin>(w: &mut W, bytes: &[u8]) -> Result<()> {
    w.write_all(bytes).await?;
    w.flush().await?;
    Ok(())
}

/// Output of the container: raw with a TTY; otherwise docker's 8-byte frame headers
/// say which stream each payload belongs to. A header that is not one (a stream type
/// other than 0, 1, 2 or padding that is not zero) or a stream cut inside a frame is the
/// daemon's protocol error: nothing of it reaches stdout as the container's output.
async fn copy_output<R: AsyncRead + Unpin>(mut r: R, tty: bool, moved: &AtomicU64) -> Result<()> {
    let (mut out, mut err) = (tokio::io::stdout(), tokio::io::stderr());
    let mut buf = vec![0u8; 32 * 1024];
    if tty {
        loop {
            let n = r.read(&mut buf).await?;
            if n == 0 {
                return Ok(());
            }
            moved.fetch_add(n as u64, Ordering::Relaxed);
            write(&mut out, &buf[..n]).await?;
        }
    }
    while let Some((stream, mut left)) = frame_header(&mut r).await? {
        while left > 0 {
            let n = r.read(&mut buf[..left.min(32 * 1024)]).await?;
            if n == 0 {
                return Err(anyhow!("the daemon's attach stream ended inside a frame ({left} bytes missing)"));
            }
            moved.fetch_add(n as u64, Ordering::Relaxed);
            match stream {
                2 => write(&mut err, &buf[..n]).await?,
                _ => write(&mut out, &buf[..n]).await?,
            }
            left -= n;
        }
    }
    Ok(())
}

/// The next frame header of a multiplexed stream: its stream (0 stdin, 1 stdout,
/// 2 stderr) and payload length; `None` at a clean end between frames.
pub(super) async fn frame_header<R: AsyncRead + Unpin>(r: &mut R) -> Result<Option<(u8, usize)>> {
    let mut header = [0u8; 8];
    let mut got = 0;
    while got < 8 {
        let n = r.read(&mut header[got..]).await?;
        if n == 0 && got == 0 {
            return Ok(None);
        }
        if n == 0 {
            return Err(anyhow!("the daemon's output stream ended inside a frame header"));
        }
        got += n;
    }
    parse_header(&header).map(Some).map_err(anyhow::Error::msg)
}

pub(super) fn parse_header(h: &[u8; 8]) -> Result<(u8, usize), String> {
    if h[0] > 2 || h[1..4] != [0, 0, 0] {
        let hex: Vec<String> = h[..4].iter().map(|b| format!("{b:02x}")).collect();
        return Err(format!(
            "the daemon's output stream is corrupt: a frame header starts {} (stream 0, 1 or 2 and three zero bytes expected)",
            hex.join(" ")
        ));
    }
    Ok((h[0], u32::from_be_bytes([h[4], h[5], h[6], h[7]]) as usize))
}

/// hardrun's stdin to the container, until EOF (then half-close) or the detach keys.
async fn copy_input<W: AsyncWrite + Unpin>(mut w: W, keys: Vec<u8>) -> Result<End> {
    let mut stdin = tokio::io::stdin();
    let mut watch = DetachWatch::new(keys);
    let mut buf = vec![0u8; 8 * 1024];
    loop {
        let n = stdin.read(&mut buf).await?;
        if n == 0 {
            w.shutdown().await?;
            return Ok(End::Closed);
        }
        match watch.scan(&buf[..n]) {
            Scan::Forward(bytes) => {
                if !bytes.is_empty() {
                    w.write_all(&bytes).await?;
                    w.flush().await?;
                }
            }
            Scan::Detach(bytes) => {
                w.write_all(&bytes).await?;
                w.flush().await?;
                return Ok(End::Detached);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse_header;

    #[test]
    fn frame_headers_are_checked() {
        assert_eq!(parse_header(&[1, 0, 0, 0, 0, 0, 1, 0]), Ok((1, 256)));
        assert_eq!(parse_header(&[2, 0, 0, 0, 0, 0, 0, 5]), Ok((2, 5)));
        assert_eq!(parse_header(&[0, 0, 0, 0, 0, 0, 0, 0]), Ok((0, 0)));
        for bad in [[3u8, 0, 0, 0, 0, 0, 0, 1], [1, 1, 0, 0, 0, 0, 0, 1], [b'h', b'e', b'l', b'l', b'o', 0, 0, 0]] {
            let e = parse_header(&bad).unwrap_err();
            assert!(e.contains("corrupt") && !e.contains('\n'), "{e}");
        }
    }
}
