//! Reading folders and the entrypoint script of an image through a container that is
//! never started (see `image::look_inside`): each folder's tar stream is parsed for its
//! headers as it arrives (`image::tree`), never held in memory, within a byte budget.

use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Result, anyhow};
use bollard::query_parameters::DownloadFromContainerOptionsBuilder;

use super::client::{IDLE, Method, query, seg};
use super::image::{MODE_DIR, MODE_TYPE};
use super::{Engine, describe};
use crate::image::facts::{Folder, Script};
use crate::image::look::LookFor;
use crate::image::tree;

/// Bytes of folder archives read in one look (a hostile image may be huge).
const BUDGET: u64 = 256 << 20;
/// The longest entrypoint script read.
const MAX_SCRIPT: usize = 64 << 10;

impl Engine {
    /// The folders of `look.roots` (symlinks followed), each read whole, within
    /// [`BUDGET`]; whether everything was read.
    pub(super) async fn read_folders(&self, container: &str, look: &LookFor) -> Result<(Vec<Folder>, bool)> {
        let budget = Arc::new(AtomicU64::new(BUDGET));
        let mut folders: Vec<Folder> = Vec::new();
        let mut complete = true;
        for root in &look.roots {
            let Some((real, mode)) = self.resolve(container, root).await? else { continue };
            if mode & MODE_DIR == 0 || folders.iter().any(|f| f.path == real) {
                continue;
            }
            let scan = self.scan_folder(container, &real, &look.keep, budget.clone()).await?;
            complete &= scan.complete;
            for f in scan.folders {
                if !folders.iter().any(|x| x.path == f.path) {
                    folders.push(f);
                }
            }
        }
        Ok((folders, complete))
    }

    async fn scan_folder(
        &self,
        container: &str,
        path: &str,
        keep: &[String],
        budget: Arc<AtomicU64>,
    ) -> Result<tree::Scan> {
        let parent = match path.rfind('/') {
            Some(0) | None => "/".to_string(),
            Some(i) => path[..i].to_string(),
        };
        let keep = keep.to_vec();
        let (tx, rx) = tokio::sync::mpsc::channel::<Vec<u8>>(8);
        let parser = tokio::task::spawn_blocking(move || {
            let reader = Chunks { rx, chunk: Vec::new(), at: 0, budget };
            tree::scan(reader, &parent, &keep, tree::LIMITS)
        });
        let opts = DownloadFromContainerOptionsBuilder::default().path(path).build();
        let url = format!("/containers/{}/archive{}", seg(container), query(&opts));
        let mut failed = None;
        let mut stream = match self.client.stream(Method::GET, &url, &[]).await {
            Ok((_, s)) => Some(s),
            Err(e) => {
                failed = Some(anyhow!("reading {path}: {}", describe(&e)));
                None
            }
        };
        while let Some(s) = stream.as_mut() {
            match s.next(Some(IDLE)).await {
                Ok(None) => break,
                // The parser stopped early (a limit): stop reading.
                Ok(Some(bytes)) => {
                    if tx.send(bytes.to_vec()).await.is_err() {
                        break;
                    }
                }
                Err(e) => {
                    failed = Some(anyhow!("reading {path}: {}", describe(&e)));
                    break;
                }
            }
        }
        drop(tx);
        let scan = parser.await.map_err(|e| anyhow!("reading {path}: {e}"))?;
        match failed {
            Some(e) if scan.folders.is_empty() => Err(e),
            Some(_) => Ok(tree::Scan { complete: false, ..scan }),
            None => Ok(scan),
        }
    }

    /// The first of `candidates` that is a regular file starting with `#!`, as text
    /// (at most [`MAX_SCRIPT`] bytes of it).
    pub(super) async fn read_script(&self, container: &str, candidates: &[String]) -> Result<Option<Script>> {
        for path in candidates {
            let Some((_, mode)) = self.resolve(container, path).await? else { continue };
            if mode & MODE_TYPE != 0 {
                continue;
            }
            let Some(mut text) = self.read_text(container, path).await? else { return Ok(None) };
            if !text.starts_with("#!") {
                return Ok(None);
            }
            if text.len() > MAX_SCRIPT {
                let mut end = MAX_SCRIPT;
                while !text.is_char_boundary(end) {
                    end -= 1;
                }
                text.truncate(end);
            }
            return Ok(Some(Script { path: path.clone(), text }));
        }
        Ok(None)
    }
}

/// The chunks of a stream as a blocking `Read`, ending early when the budget is spent.
struct Chunks {
    rx: tokio::sync::mpsc::Receiver<Vec<u8>>,
    chunk: Vec<u8>,
    at: usize,
    budget: Arc<AtomicU64>,
}

impl Read for Chunks {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.at >= self.chunk.len() {
            match self.rx.blocking_recv() {
                Some(c) => (self.chunk, self.at) = (c, 0),
                None => return Ok(0),
            }
        }
        let left = self.budget.load(Ordering::Relaxed);
        let n = buf.len().min(self.chunk.len() - self.at).min(left as usize);
        if n == 0 {
            return Ok(0);
        }
        buf[..n].copy_from_slice(&self.chunk[self.at..self.at + n]);
        self.at += n;
        self.budget.fetch_sub(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}
