//! Reading images for the gate: one inspect, the history, the registry's digest for a
//! tag, and a look inside through a container that is created, never started, and
//! removed right after (the Engine API reads a container's files, not an image's).

use std::collections::HashMap;

use anyhow::{Result, anyhow};
use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{
    ContainerArchiveInfoOptionsBuilder, CreateContainerOptions, DownloadFromContainerOptionsBuilder,
};
use futures_util::{StreamExt, TryStreamExt};

use super::client::{IDLE, Method, image_path, query, registry_auth, seg};
use super::{Engine, describe, status_of};
use crate::image::facts::Contents;
use crate::image::look::LookFor;
use crate::image::{ImageFacts, ImageRef};

/// Go's `os.FileMode` type bits, as the archive API reports them.
pub(super) const MODE_DIR: u32 = 1 << 31;
const MODE_SYMLINK: u32 = 1 << 27;
/// Directory, symlink, pipe, socket, device, char device, irregular.
pub(super) const MODE_TYPE: u32 = MODE_DIR | MODE_SYMLINK | (1 << 25) | (1 << 24) | (1 << 26) | (1 << 21) | (1 << 19);

/// Larger account files are not read (a look must stay cheap).
const MAX_FILE: usize = 1 << 20;
/// Stat requests in flight at once during a look inside.
const PARALLEL_STATS: usize = 16;

/// The label on the short-lived containers of a look inside.
pub const PROBE_LABEL: &str = "org.hardrun.probe";

impl Engine {
    /// The image's configuration (one inspect), or `None` when it is not local.
    pub async fn image(&self, reference: &str) -> Result<Option<ImageFacts>> {
        let path = format!("/images/{}/json", image_path(reference));
        let img = match self.client.get::<bollard::models::ImageInspect>(&path).await {
            Ok(img) => img,
            Err(e) if status_of(&e) == Some(404) => return Ok(None),
            Err(e) => return Err(anyhow!(describe(&e))),
        };
        let config = img.config.unwrap_or_default();
        Ok(Some(ImageFacts {
            user: config.user.unwrap_or_default(),
            id: img.id.unwrap_or_default(),
            repo_digests: img.repo_digests.unwrap_or_default(),
            env: config.env.unwrap_or_default(),
            labels: config.labels.unwrap_or_default().into_iter().collect(),
            working_dir: config.working_dir.unwrap_or_default(),
            entrypoint: config.entrypoint.unwrap_or_default(),
            cmd: config.cmd.unwrap_or_default(),
            exposed_ports: config.exposed_ports.unwrap_or_default(),
            size: img.size.unwrap_or_default().max(0) as u64,
            layers: img.root_fs.and_then(|r| r.layers).map_or(0, |l| l.len()),
            volumes: config.volumes.unwrap_or_default(),
            ..ImageFacts::default()
        }))
    }

    /// `created_by` of each history entry, oldest first.
    pub async fn image_history(&self, id: &str) -> Result<Vec<String>> {
        let mut items: Vec<bollard::models::ImageHistoryResponseItem> = self
            .client
            .get(&format!("/images/{}/history", image_path(id)))
            .await
            .map_err(|e| anyhow!("reading the history of {id}: {}", describe(&e)))?;
        items.reverse();
        Ok(items.into_iter().map(|i| i.created_by).collect())
    }

    /// The digest the registry serves for `image`'s tag (the daemon asks the registry,
    /// with the docker CLI's credentials), without pulling anything.
    pub async fn registry_digest(&self, image: &ImageRef) -> Result<String> {
        let tagged = format!("{}:{}", image.repository(), image.tag.as_deref().unwrap_or("latest"));
        let creds = super::auth::credentials(&self.endpoint.config_dir, image);
        let path = format!("/distribution/{}/json", image_path(&tagged));
        let found: bollard::models::DistributionInspect = self
            .client
            .json(Method::GET, &path, None, &registry_auth(creds))
            .await
            .map_err(|e| anyhow!("cannot resolve {tagged} to a digest through its registry: {}", describe(&e)))?;
        found.descriptor.digest.ok_or_else(|| anyhow!("the registry gave no digest for {tagged}"))
    }

    /// What `look` asks for (executables, writable folders, the entrypoint script), and
    /// the image's /etc/passwd and /etc/group, read through a container that is created
    /// and never started. The container is removed whatever happens; it carries
    /// [`PROBE_LABEL`] to be found should hardrun be killed meanwhile.
    pub async fn look_inside(&self, image_id: &str, look: &LookFor) -> Result<Contents> {
        self.sweep_probes().await;
        let body = ContainerCreateBody {
            image: Some(image_id.to_string()),
            // Never run: any command does, and an image need not have one.
            entrypoint: Some(vec!["/hardrun-probe-never-started".into()]),
            cmd: Some(vec![]),
            network_disabled: Some(true),
            labels: Some(
                [(PROBE_LABEL.to_string(), "1".to_string())]
                    .into_iter()
                    .chain(super::interrupt::owner_label(super::owner::Kind::Run))
                    .collect(),
            ),
            host_config: Some(HostConfig { network_mode: Some("none".into()), ..HostConfig::default() }),
            ..ContainerCreateBody::default()
        };
        let created: bollard::models::ContainerCreateResponse = self
            .client
            .post(&format!("/containers/create{}", query(&CreateContainerOptions::default())), &body)
            .await
            .map_err(|e| anyhow!("looking inside {image_id}: {}", describe(&e)))?;
        let looked = self.read_contents(&created.id, look).await;
        let removed = self.remove(&created.id).await;
        let contents = looked.map_err(|e| anyhow!("looking inside {image_id}: {e}"))?;
        removed?;
        Ok(contents)
    }

    /// Removes probe containers a killed hardrun left behind (older than a minute, so a
    /// concurrent look is never disturbed).
    async fn sweep_probes(&self) {
        let filters = HashMap::from([("label".to_string(), vec![PROBE_LABEL.to_string()])]);
        let opts = bollard::query_parameters::ListContainersOptionsBuilder::new().all(true).filters(&filters).build();
        let path = format!("/containers/json{}", query(&opts));
        let Ok(list) = self.client.get::<Vec<bollard::models::ContainerSummary>>(&path).await else { return };
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
        for c in list {
            if let Some(id) = c.id.filter(|_| c.created.is_some_and(|t| now - t > 60)) {
                let _ = self.remove(&id).await;
            }
        }
    }

    async fn read_contents(&self, container: &str, look: &LookFor) -> Result<Contents> {
        let (folders, programs) = (&look.program_folders, &look.programs);
        // Each stat costs the daemon a mount: look only in folders that exist, and once in
        // a folder that is a symlink to another (/bin -> usr/bin).
        let found = futures_util::stream::iter(folders.iter().map(|f| self.resolve(container, f)));
        let found: Vec<Option<(String, u32)>> = found.buffered(PARALLEL_STATS).try_collect().await?;
        let mut dirs: Vec<String> = Vec::new();
        for (real, mode) in found.into_iter().flatten() {
            if mode & MODE_DIR != 0 && !dirs.contains(&real) {
                dirs.push(real);
            }
        }
        let paths: Vec<String> = dirs.iter().flat_map(|d| programs.iter().map(move |p| format!("{d}/{p}"))).collect();
        let checks = futures_util::stream::iter(
            paths
                .iter()
                .map(|p| async move { self.is_executable(container, p).await.map(|yes| yes.then(|| p.clone())) }),
        );
        let found: Vec<Option<String>> = checks.buffer_unordered(PARALLEL_STATS).try_collect().await?;
        let mut executables: Vec<String> = found.into_iter().flatten().collect();
        executables.sort();
        let (passwd, group) =
            tokio::try_join!(self.read_text(container, "/etc/passwd"), self.read_text(container, "/etc/group"))?;
        let ((folders, folders_complete), entrypoint) =
            tokio::try_join!(self.read_folders(container, look), self.read_script(container, &look.script))?;
        Ok(Contents { executables, passwd, group, folders, folders_complete, entrypoint })
    }

    /// `path`'s stat in the container (symlinks not followed), `None` when it is missing.
    pub(super) async fn stat(&self, container: &str, path: &str) -> Result<Option<(u32, String)>> {
        let opts = ContainerArchiveInfoOptionsBuilder::default().path(path).build();
        let path = format!("/containers/{}/archive{}", seg(container), query(&opts));
        match self.client.send(Method::HEAD, &path, &[], None).await {
            Ok(resp) => {
                let stat = path_stat(resp.headers().get("X-Docker-Container-Path-Stat"))
                    .ok_or_else(|| anyhow!("stat {path}: the daemon's answer has no readable file status"))?;
                Ok(Some((stat.file_mode, stat.link_target)))
            }
            Err(e) if status_of(&e) == Some(404) => Ok(None),
            Err(e) => Err(anyhow!("stat {path}: {}", describe(&e))),
        }
    }

    /// Where `path` leads: itself, or the target of its symlink chain (the daemon resolves
    /// it inside the container's root). `None` when it or its target is missing.
    pub(super) async fn resolve(&self, container: &str, path: &str) -> Result<Option<(String, u32)>> {
        let Some((mode, target)) = self.stat(container, path).await? else { return Ok(None) };
        if mode & MODE_SYMLINK == 0 {
            return Ok(Some((path.to_string(), mode)));
        }
        if target.is_empty() {
            return Ok(None);
        }
        Ok(self.stat(container, &target).await?.map(|(m, _)| (target, m)))
    }

    async fn is_executable(&self, container: &str, path: &str) -> Result<bool> {
        Ok(self.resolve(container, path).await?.is_some_and(|(_, mode)| mode & MODE_TYPE == 0 && mode & 0o111 != 0))
    }

    /// A small text file of the container, `None` when it is missing or not a file.
    pub(super) async fn read_text(&self, container: &str, path: &str) -> Result<Option<String>> {
        let Some((real, mode)) = self.resolve(container, path).await? else { return Ok(None) };
        if mode & MODE_TYPE != 0 {
            return Ok(None);
        }
        let opts = DownloadFromContainerOptionsBuilder::default().path(&real).build();
        let url = format!("/containers/{}/archive{}", seg(container), query(&opts));
        let (_, mut stream) = self
            .client
            .stream(Method::GET, &url, &[])
            .await
            .map_err(|e| anyhow!("reading {path}: {}", describe(&e)))?;
        let mut tar = Vec::new();
        while let Some(chunk) =
            stream.next(Some(IDLE)).await.map_err(|e| anyhow!("reading {path}: {}", describe(&e)))?
        {
            tar.extend_from_slice(&chunk);
            if tar.len() > MAX_FILE + 64 * 1024 {
                return Ok(None);
            }
        }
        Ok(first_file(&tar).map(|bytes| String::from_utf8_lossy(bytes).into_owned()))
    }
}

/// The `X-Docker-Container-Path-Stat` header: base64 of the file's status as JSON.
fn path_stat(header: Option<&hyper::header::HeaderValue>) -> Option<bollard::container::PathStatResponse> {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD.decode(header?.as_bytes()).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// The first regular file's bytes in a tar archive (the archive API wraps one file in
/// one), skipping the PAX and GNU long-name headers that may come before it.
fn first_file(tar: &[u8]) -> Option<&[u8]> {
    let mut at = 0;
    while at + 512 <= tar.len() {
        let header = &tar[at..at + 512];
        if header.iter().all(|b| *b == 0) {
            return None;
        }
        let size_field = std::str::from_utf8(&header[124..136]).ok()?;
        let size = usize::from_str_radix(size_field.trim_matches(|c: char| c == '\0' || c == ' '), 8).ok()?;
        let data = at + 512;
        let end = data.checked_add(size)?;
        match header[156] {
            b'0' | b'\0' | b'7' => return tar.get(data..end),
            _ => at = data + size.div_ceil(512) * 512,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::first_file;

    fn header(name: &str, size: usize, kind: u8) -> Vec<u8> {
        let mut h = vec![0u8; 512];
        h[..name.len()].copy_from_slice(name.as_bytes());
        let size = format!("{size:011o}\0");
        h[124..136].copy_from_slice(size.as_bytes());
        h[156] = kind;
        h
    }

    fn padded(data: &[u8]) -> Vec<u8> {
        let mut v = data.to_vec();
        v.resize(data.len().div_ceil(512) * 512, 0);
        v
    }

    #[test]
    fn reads_the_file_after_extended_headers() {
        let pax = b"30 path=etc/a-very-long-name\n";
        let body = b"root:x:0:0::/root:/bin/sh\n";
        let mut tar = header("././@PaxHeader", pax.len(), b'x');
        tar.extend(padded(pax));
        tar.extend(header("passwd", body.len(), b'0'));
        tar.extend(padded(body));
        tar.extend(vec![0u8; 1024]);
        assert_eq!(first_file(&tar), Some(&body[..]));
    }

    #[test]
    fn no_file_no_bytes() {
        assert_eq!(first_file(&[]), None);
        assert_eq!(first_file(&[0u8; 1024]), None);
        let mut dir = header("etc/", 0, b'5');
        dir.extend(vec![0u8; 1024]);
        assert_eq!(first_file(&dir), None);
        let truncated = header("passwd", 100, b'0');
        assert_eq!(first_file(&truncated), None);
    }
}
