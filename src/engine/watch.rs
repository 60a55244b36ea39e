//! Watching a container's first seconds: its state (running, exited, restarting) and
//! the tail of its output, read through the logs API while it runs. The judging of what
//! was seen is `command::watch` and `diagnosis`.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow};
use bollard::query_parameters::LogsOptionsBuilder;

use super::client::{Method, query, seg};
use super::{Engine, describe, status_of};

/// Lines of output kept, and the longest line kept (the output is the container's).
const TAIL_LINES: usize = 40;
const LINE_BYTES: usize = 1000;

/// How often the state is read while watching.
const POLL: Duration = Duration::from_millis(100);

/// What the watch saw when it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    /// Still running when the window closed.
    Running,
    /// Exited (and stayed so, or was restarted by its restart policy: `restarts`).
    Exited { code: i64, oom_killed: bool, restarts: i64, after: Duration },
    /// Removed before its state could be read (`--rm`).
    Gone { after: Duration },
}

/// The last lines a container wrote, filled while it runs.
#[derive(Debug, Clone, Default)]
pub struct Tail(Arc<Mutex<Tail0>>);

#[derive(Debug, Default)]
struct Tail0 {
    lines: VecDeque<String>,
    partial: String,
    /// Why no output could be read, when it could not.
    unavailable: Option<String>,
}

impl Tail {
    fn push(&self, bytes: &[u8]) {
        let mut t = self.0.lock().expect("tail lock");
        let text = String::from_utf8_lossy(bytes);
        for (i, piece) in text.split('\n').enumerate() {
            if i > 0 {
                let line = std::mem::take(&mut t.partial);
                t.lines.push_back(line);
                if t.lines.len() > TAIL_LINES {
                    t.lines.pop_front();
                }
            }
            if t.partial.len() < LINE_BYTES {
                let room = LINE_BYTES - t.partial.len();
                let mut cut = piece.len().min(room);
                while !piece.is_char_boundary(cut) {
                    cut -= 1;
                }
                t.partial.push_str(piece[..cut].trim_end_matches('\r'));
            }
        }
    }

    /// The lines, oldest first (an unfinished last line too).
    pub fn lines(&self) -> Vec<String> {
        let t = self.0.lock().expect("tail lock");
        let mut out: Vec<String> = t.lines.iter().cloned().collect();
        if !t.partial.is_empty() {
            out.push(t.partial.clone());
        }
        out
    }

    pub fn unavailable(&self) -> Option<String> {
        self.0.lock().expect("tail lock").unavailable.clone()
    }
}

/// Splits a log stream into its payloads as it arrives: docker's 8-byte frame headers
/// without a TTY, raw bytes with one.
struct Demux {
    /// `None` until the first bytes tell (older daemons do not say).
    multiplexed: Option<bool>,
    header: Vec<u8>,
    /// Payload bytes left in the current frame.
    left: usize,
}

impl Demux {
    fn push(&mut self, mut chunk: &[u8], out: &mut dyn FnMut(&[u8])) -> Result<(), String> {
        let multiplexed =
            *self.multiplexed.get_or_insert_with(|| chunk.len() >= 4 && chunk[0] <= 2 && chunk[1..4] == [0, 0, 0]);
        if !multiplexed {
            out(chunk);
            return Ok(());
        }
        while !chunk.is_empty() {
            if self.left > 0 {
                let n = self.left.min(chunk.len());
                out(&chunk[..n]);
                self.left -= n;
                chunk = &chunk[n..];
                continue;
            }
            let n = (8 - self.header.len()).min(chunk.len());
            self.header.extend_from_slice(&chunk[..n]);
            chunk = &chunk[n..];
            if let Ok(h) = <[u8; 8]>::try_from(self.header.as_slice()) {
                self.left = super::attach::parse_header(&h)?.1;
                self.header.clear();
            }
        }
        Ok(())
    }
}

/// The state that matters to the watch, `None` when the container is gone.
struct State {
    running: bool,
    restarting: bool,
    restarts: i64,
    code: i64,
    oom_killed: bool,
}

impl Engine {
    async fn watch_state(&self, id: &str) -> Result<Option<State>> {
        match self.inspect_container(id).await {
            Ok(c) => {
                let s = c.state.unwrap_or_default();
                Ok(Some(State {
                    running: s.running.unwrap_or(false),
                    restarting: s.restarting.unwrap_or(false),
                    restarts: c.restart_count.unwrap_or(0),
                    code: s.exit_code.unwrap_or(0),
                    oom_killed: s.oom_killed.unwrap_or(false),
                }))
            }
            Err(e) if status_of(&e) == Some(404) => Ok(None),
            Err(e) => Err(anyhow!(describe(&e))),
        }
    }

    /// Follows the container's output into `tail` until it ends (the container stops)
    /// or the returned task is aborted.
    pub fn follow_output(&self, id: &str, tail: Tail) -> tokio::task::JoinHandle<()> {
        let client = self.client.clone();
        let opts = LogsOptionsBuilder::new().follow(true).stdout(true).stderr(true).build();
        let path = format!("/containers/{}/logs{}", seg(id), query(&opts));
        // Before API 1.42 the content type does not say whether the stream is multiplexed.
        let typed = self.api_at_least(1, 42);
        tokio::spawn(async move {
            let failed = |why: String| tail.0.lock().expect("tail lock").unavailable = Some(why);
            let (head, mut body) = match client.stream(Method::GET, &path, &[]).await {
                Ok(r) => r,
                Err(e) => return failed(describe(&e)),
            };
            let mux =
                head.headers().get("content-type").is_some_and(|v| v == "application/vnd.docker.multiplexed-stream");
            let mut demux = Demux { multiplexed: (mux || typed).then_some(mux), header: Vec::new(), left: 0 };
            // Unbounded in time: the output lasts as long as the container; the task is aborted.
            loop {
                match body.next(None).await {
                    Ok(Some(chunk)) => {
                        if let Err(e) = demux.push(&chunk, &mut |b| tail.push(b)) {
                            return failed(e);
                        }
                    }
                    Ok(None) => return,
                    Err(e) => return failed(describe(&e)),
                }
            }
        })
    }

    /// Watches `id` for `window` from `started`: returns as soon as it exits or is
    /// restarted, or when the window closes with it running.
    pub async fn watch(&self, id: &str, started: Instant, window: Duration) -> Result<Seen> {
        loop {
            let after = started.elapsed();
            let Some(s) = self.watch_state(id).await? else { return Ok(Seen::Gone { after }) };
            if s.restarts > 0 || s.restarting || !s.running {
                return Ok(Seen::Exited { code: s.code, oom_killed: s.oom_killed, restarts: s.restarts, after });
            }
            if after >= window {
                return Ok(Seen::Running);
            }
            tokio::time::sleep(POLL.min(window - after)).await;
        }
    }

    /// The exit code and OOM flag of a container that has stopped, if it still exists.
    pub async fn exit_state(&self, id: &str) -> Option<(i64, bool)> {
        self.watch_state(id).await.ok().flatten().map(|s| (s.code, s.oom_killed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_frames_are_split_wherever_the_chunks_end() {
        let stream = b"\x01\x00\x00\x00\x00\x00\x00\x03one\x02\x00\x00\x00\x00\x00\x00\x04two\n";
        for cut in 0..stream.len() {
            let mut demux = Demux { multiplexed: Some(true), header: Vec::new(), left: 0 };
            let mut out = Vec::new();
            demux.push(&stream[..cut], &mut |b| out.extend_from_slice(b)).unwrap();
            demux.push(&stream[cut..], &mut |b| out.extend_from_slice(b)).unwrap();
            assert_eq!(out, b"onetwo\n", "cut at {cut}");
        }
        let mut raw = Demux { multiplexed: None, header: Vec::new(), left: 0 };
        let mut out = Vec::new();
        raw.push(b"plain tty output", &mut |b| out.extend_from_slice(b)).unwrap();
        assert_eq!(out, b"plain tty output");
        let mut bad = Demux { multiplexed: Some(true), header: Vec::new(), left: 0 };
        assert!(bad.push(b"\x07\x00\x00\x00\x00\x00\x00\x01x", &mut |_| {}).is_err());
    }

    #[test]
    fn the_tail_keeps_the_last_lines_bounded() {
        let t = Tail::default();
        t.push(b"one\ntw");
        t.push(b"o\r\nthree");
        assert_eq!(t.lines(), ["one", "two", "three"]);
        let t = Tail::default();
        for i in 0..100 {
            t.push(format!("line {i}\n").as_bytes());
        }
        let lines = t.lines();
        assert_eq!(lines.len(), TAIL_LINES);
        assert_eq!(lines.last().unwrap(), "line 99");
        let t = Tail::default();
        t.push(&vec![b'x'; 10 * LINE_BYTES]);
        t.push("é\n".as_bytes());
        assert_eq!(t.lines()[0].len(), LINE_BYTES);
    }
}
