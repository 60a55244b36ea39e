//! Attaching to a container: the hijacked stream, its output written byte for byte to
//! hardrun's stdout and stderr (kept apart without a TTY), and stdin forwarded with the
//! detach key sequence watched.

use anyhow::{Result, anyhow};
use futures_util::StreamExt;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::raw::{self, Conn};
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

pub enum Attachment {
    Raw { conn: Conn, early: Vec<u8> },
    Bollard(bollard::container::AttachContainerResults),
}

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
        if raw::supported(&self.endpoint) {
            let path = format!(
                "/v{}.{}/containers/{id}/attach?stream=1&stdin={}&stdout={}&stderr={}{keys}",
                self.api.0,
                self.api.1,
                flag(s.stdin),
                flag(s.stdout),
                flag(s.stderr)
            );
            let resp =
                raw::post(&self.endpoint, &path, true).await.map_err(|e| anyhow!("attaching to the container: {e}"))?;
            if !matches!(resp.status, 101 | 200) {
                return Err(anyhow!(resp.error_message().await));
            }
            return Ok(Attachment::Raw { conn: resp.conn, early: resp.early });
        }
        let mut opts = bollard::query_parameters::AttachContainerOptionsBuilder::new()
            .stream(true)
            .stdin(s.stdin)
            .stdout(s.stdout)
            .stderr(s.stderr);
        if let Some((k, _)) = &s.detach_keys {
            opts = opts.detach_keys(k);
        }
        let results = self.docker.attach_container(id, Some(opts.build())).await.map_err(|e| anyhow!(describe(&e)))?;
        Ok(Attachment::Bollard(results))
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
pub async fn pump(att: Attachment, s: &Streams) -> Result<End> {
    match att {
        Attachment::Raw { conn, early } => {
            let (rd, wr) = tokio::io::split(conn);
            let output = copy_output(std::io::Cursor::new(early).chain(rd), s.tty);
            run_both(output, wr, s).await
        }
        Attachment::Bollard(results) => {
            let mut frames = results.output;
            let output = async move {
                let (mut out, mut err) = (tokio::io::stdout(), tokio::io::stderr());
                while let Some(frame) = frames.next().await {
                    use bollard::container::LogOutput;
                    match frame.map_err(|e| anyhow!(describe(&e)))? {
                        LogOutput::StdErr { message } => write(&mut err, &message).await?,
                        LogOutput::StdOut { message }
                        | LogOutput::Console { message }
                        | LogOutput::StdIn { message } => write(&mut out, &message).await?,
                    }
                }
                Ok(())
            };
            run_both(output, results.input, s).await
        }
    }
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
/// say which stream each payload belongs to.
async fn copy_output<R: AsyncRead + Unpin>(mut r: R, tty: bool) -> Result<()> {
    let (mut out, mut err) = (tokio::io::stdout(), tokio::io::stderr());
    let mut buf = vec![0u8; 32 * 1024];
    if tty {
        loop {
            let n = r.read(&mut buf).await?;
            if n == 0 {
                return Ok(());
            }
            write(&mut out, &buf[..n]).await?;
        }
    }
    loop {
        let mut header = [0u8; 8];
        match r.read_exact(&mut header).await {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(e.into()),
        }
        let mut left = u32::from_be_bytes([header[4], header[5], header[6], header[7]]) as usize;
        while left > 0 {
            let n = r.read(&mut buf[..left.min(32 * 1024)]).await?;
            if n == 0 {
                return Ok(());
            }
            match header[0] {
                2 => write(&mut err, &buf[..n]).await?,
                _ => write(&mut out, &buf[..n]).await?,
            }
            left -= n;
        }
    }
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
