//! Everything that talks to the Docker Engine: connecting, facts about the daemon and
//! its objects, pulling, and the container lifecycle. The rest of hardrun never sees the
//! transport; it hands a `Plan` in and gets exit codes and facts out. Every call goes
//! through [`client`] (a deadline per call, bounded answers, one connection type for
//! unix, tcp and TLS); bollard supplies the API's types only.

pub mod attach;
pub mod auth;
pub mod cache;
pub mod client;
mod conn;
pub mod endpoint;
mod folders;
pub mod image;
pub mod inspect;
pub mod interrupt;
pub mod lifecycle;
pub mod network;
mod observe;
pub mod owner;
pub mod project;
pub mod pull;
pub mod terminal;
pub mod verification;
mod wait_answer;
pub mod watch;

use std::time::Duration;

use anyhow::{Context as _, Result, anyhow, bail};
use hyper::Method;

use client::{Client, DaemonError, seg};

pub use endpoint::Endpoint;

use crate::policy::{MountFacts, VolumeFacts};

/// The oldest Engine API hardrun speaks (Docker 20.10).
pub const MIN_API: (u32, u32) = (1, 41);
/// The newest hardrun asks for (bollard's models).
pub const MAX_API: (u32, u32) = (1, 53);
/// How long connecting and the first exchange may take before hardrun gives up on the daemon.
const CONNECT_TIMEOUT: Duration = client::CONNECT;

/// A connected daemon with a negotiated API version.
#[derive(Clone)]
pub struct Engine {
    pub(crate) client: Client,
    /// The daemon's facts when a cache entry supplied them.
    cached: Option<DaemonFacts>,
    pub endpoint: Endpoint,
    pub api: (u32, u32),
    pub server_version: String,
}

/// What the daemon says about itself that matters to hardening.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DaemonFacts {
    pub apparmor: bool,
    pub seccomp: bool,
    pub selinux: bool,
    pub userns: bool,
    pub rootless: bool,
    pub cgroup_version: String,
    pub live_restore: bool,
    pub default_runtime: String,
    pub security_options: Vec<String>,
}

/// One line for a failed daemon call (already escaped and bounded by the client).
pub fn describe(e: &DaemonError) -> String {
    e.message.clone()
}

pub fn status_of(e: &DaemonError) -> Option<u16> {
    e.status
}

fn parse_api(v: &str) -> Option<(u32, u32)> {
    let (a, b) = v.split_once('.')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

impl Engine {
    /// Connects and negotiates the API version: asks at the oldest version hardrun
    /// supports (every daemon answers it), then uses the daemon's own, up to hardrun's.
    pub async fn connect(endpoint: Endpoint) -> Result<Engine> {
        let unreachable = |why: String| {
            anyhow!(
                "cannot reach the Docker daemon at {} (from {}): {why}; check that dockerd is running and that \
                 you may use its socket (docker group or sudo), or point DOCKER_HOST/-H at it",
                endpoint.host,
                endpoint.origin
            )
        };
        if let Some(path) = endpoint.host.strip_prefix("unix://") {
            if !std::path::Path::new(path).exists() {
                return Err(unreachable(format!("{path} does not exist")));
            }
            if let Some(entry) = cache::load(&endpoint) {
                // A stale socket of a stopped daemon refuses connections: check it listens.
                match tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::UnixStream::connect(path)).await {
                    Err(_) => return Err(unreachable(format!("no answer within {}s", CONNECT_TIMEOUT.as_secs()))),
                    Ok(Err(e)) => return Err(unreachable(e.to_string())),
                    Ok(Ok(_)) => {}
                }
                let client = Client::new(&endpoint, entry.api).map_err(unreachable)?;
                return Ok(Engine {
                    client,
                    endpoint,
                    api: entry.api,
                    server_version: entry.server_version,
                    cached: Some(entry.facts),
                });
            }
        }
        let probe = Client::new(&endpoint, MIN_API).map_err(unreachable)?;
        let asked = probe.get::<bollard::models::SystemVersion>("/version");
        let version = match tokio::time::timeout(CONNECT_TIMEOUT, asked).await {
            Err(_) => return Err(unreachable(format!("no answer within {}s", CONNECT_TIMEOUT.as_secs()))),
            Ok(Err(e)) => {
                let text = describe(&e);
                if text.contains("too new") {
                    bail!(
                        "the daemon at {} is older than Engine API {}.{}, the oldest hardrun supports: {text}",
                        endpoint.host,
                        MIN_API.0,
                        MIN_API.1
                    );
                }
                return Err(unreachable(text));
            }
            Ok(Ok(v)) => v,
        };
        let server_api = version.api_version.as_deref().and_then(parse_api).unwrap_or(MIN_API);
        let api = server_api.min(MAX_API);
        let client = probe.at(api);
        let server_version = crate::sanitize::line(&version.version.unwrap_or_default(), 64);
        Ok(Engine { client, endpoint, api, server_version, cached: None })
    }

    pub fn api_at_least(&self, major: u32, minor: u32) -> bool {
        self.api >= (major, minor)
    }

    /// The daemon's security-relevant facts (cached per local daemon).
    pub async fn daemon_facts(&self) -> Result<DaemonFacts> {
        if let Some(f) = &self.cached {
            return Ok(f.clone());
        }
        let facts = self.ask_daemon_facts().await?;
        cache::store(&self.endpoint, self.api, &self.server_version, &facts);
        Ok(facts)
    }

    async fn ask_daemon_facts(&self) -> Result<DaemonFacts> {
        let info = self
            .client
            .get::<bollard::models::SystemInfo>("/info")
            .await
            .map_err(|e| anyhow!(describe(&e)))
            .context("reading the daemon's info")?;
        let opts = info.security_options.clone().unwrap_or_default();
        let has = |name: &str| opts.iter().any(|o| o.split(',').any(|kv| kv == format!("name={name}")));
        Ok(DaemonFacts {
            apparmor: has("apparmor"),
            seccomp: has("seccomp"),
            selinux: has("selinux"),
            userns: has("userns"),
            rootless: has("rootless"),
            cgroup_version: info.cgroup_version.map(|v| v.to_string()).unwrap_or_default(),
            live_restore: info.live_restore_enabled.unwrap_or(false),
            default_runtime: info.default_runtime.unwrap_or_default(),
            security_options: opts,
        })
    }

    pub async fn volume(&self, name: &str) -> Result<Option<VolumeFacts>> {
        match self.client.get::<bollard::models::Volume>(&format!("/volumes/{}", seg(name))).await {
            Ok(v) => {
                // Readable only next to the daemon, and usually only as root.
                let owner = if self.endpoint.is_local() { crate::host::owner_of(&v.mountpoint) } else { None };
                Ok(Some(VolumeFacts { driver: v.driver, options: v.options.into_iter().collect(), owner }))
            }
            Err(e) if status_of(&e) == Some(404) => Ok(None),
            Err(e) => Err(anyhow!(describe(&e))),
        }
    }

    /// The mounts of a container (for `--volumes-from`), or `None` when it does not exist.
    pub async fn container_mounts(&self, name: &str) -> Result<Option<Vec<MountFacts>>> {
        match self.inspect_container(name).await {
            Ok(c) => Ok(Some(
                c.mounts
                    .unwrap_or_default()
                    .into_iter()
                    .map(|m| MountFacts {
                        kind: m.typ.map(|t| t.to_string()).unwrap_or_default(),
                        source: m.source.unwrap_or_default(),
                        name: m.name,
                        destination: m.destination.unwrap_or_default(),
                    })
                    .collect(),
            )),
            Err(e) if status_of(&e) == Some(404) => Ok(None),
            Err(e) => Err(anyhow!(describe(&e))),
        }
    }

    /// Removes a container, whatever its state; a container already gone is fine.
    pub async fn remove(&self, id: &str) -> Result<()> {
        let opts = bollard::query_parameters::RemoveContainerOptionsBuilder::new().force(true).v(true).build();
        match self.client.call(Method::DELETE, &format!("/containers/{}{}", seg(id), client::query(&opts)), None).await
        {
            Ok(()) => Ok(()),
            Err(e) if matches!(status_of(&e), Some(404) | Some(409)) => Ok(()),
            Err(e) => Err(anyhow!(describe(&e))),
        }
    }

    /// A container's full record.
    pub(crate) async fn inspect_container(
        &self,
        id: &str,
    ) -> Result<bollard::models::ContainerInspectResponse, DaemonError> {
        self.client.get(&format!("/containers/{}/json", seg(id))).await
    }
}
