//! Reading what already exists, for `doctor` and `audit`: how the daemon is set up
//! (its info, the default bridge, and the local files that say more than its API:
//! daemon.json and the socket's owner and mode), and the containers to audit.
//! Facts only; judging them is `doctor`'s and `audit`'s.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use anyhow::{Result, anyhow};
use bollard::models::ContainerInspectResponse;
use bollard::query_parameters::ListContainersOptionsBuilder;

use super::client::{LIST_MAX, Method, query};
use super::{DaemonFacts, Engine, describe, status_of};

const ICC_OPTION: &str = "com.docker.network.bridge.enable_icc";

/// How the daemon hardrun talks to is set up.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DaemonSetup {
    /// The address hardrun connected to (`unix:///var/run/docker.sock`, `tcp://h:p`).
    pub host: String,
    pub tls: bool,
    pub version: String,
    pub api: (u32, u32),
    pub facts: DaemonFacts,
    /// The daemon's `no-new-privileges` default from its daemon.json; `None` when the
    /// daemon is remote or the file cannot be read.
    pub no_new_privileges: Option<bool>,
    /// The daemon.json consulted, when the daemon is local.
    pub daemon_json: Option<PathBuf>,
    /// Whether containers on the default `bridge` network may reach each other
    /// (`com.docker.network.bridge.enable_icc`); `None` when there is no such network.
    pub icc: Option<bool>,
    /// The unix socket hardrun talks through, when it is one and can be read.
    pub socket: Option<SocketFile>,
}

/// The daemon socket's file: who may connect (connecting needs write permission).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SocketFile {
    pub path: PathBuf,
    pub uid: u32,
    pub gid: u32,
    pub owner: Option<String>,
    pub group: Option<String>,
    /// Permission bits (`0o660`).
    pub mode: u32,
    /// Users in the socket's group: listed members and those whose primary group it is.
    pub group_members: Vec<String>,
}

impl Engine {
    /// Everything `doctor` reports and `audit` judges containers against.
    pub async fn setup(&self) -> Result<DaemonSetup> {
        let facts = self.daemon_facts().await?;
        let (daemon_json, no_new_privileges) = if self.endpoint.is_local() {
            let path = daemon_json_path(facts.rootless, &|k| std::env::var(k).ok());
            let nnp = read_no_new_privileges(&path);
            (Some(path), nnp)
        } else {
            (None, None)
        };
        let icc = match self.client.get::<bollard::models::NetworkInspect>("/networks/bridge").await {
            // Without the option the bridge driver's default applies: on.
            Ok(n) => Some(n.options.and_then(|o| o.get(ICC_OPTION).and_then(|v| v.parse().ok())).unwrap_or(true)),
            Err(e) if status_of(&e) == Some(404) => None,
            Err(e) => return Err(anyhow!(describe(&e))),
        };
        let socket = self.endpoint.host.strip_prefix("unix://").and_then(|p| socket_file(Path::new(p)));
        Ok(DaemonSetup {
            host: self.endpoint.host.clone(),
            tls: self.endpoint.tls.is_some(),
            version: self.server_version.clone(),
            api: self.api,
            facts,
            no_new_privileges,
            daemon_json,
            icc,
            socket,
        })
    }

    /// The named containers (any state), or every running one when none is named.
    pub async fn inspect_containers(&self, names: &[String]) -> Result<Vec<ContainerInspectResponse>> {
        let mut out = Vec::new();
        if names.is_empty() {
            let opts = ListContainersOptionsBuilder::new().all(false).build();
            // Only the IDs are kept of what may be a long list.
            #[derive(serde::Deserialize)]
            struct Listed {
                #[serde(rename = "Id")]
                id: Option<String>,
            }
            let path = format!("/containers/json{}", query(&opts));
            let bytes =
                self.client.bytes(Method::GET, &path, None, &[], LIST_MAX).await.map_err(|e| anyhow!(describe(&e)))?;
            let list: Vec<Listed> = serde_json::from_slice(&bytes).map_err(|e| {
                anyhow!(
                    "the daemon's container list is not JSON of the Engine API: {}",
                    crate::sanitize::line(&e.to_string(), 200)
                )
            })?;
            for id in list.into_iter().filter_map(|c| c.id) {
                match self.inspect_container(&id).await {
                    Ok(c) => out.push(c),
                    // Gone between the list and the inspect: nothing left to audit.
                    Err(e) if status_of(&e) == Some(404) => {}
                    Err(e) => return Err(anyhow!(describe(&e))),
                }
            }
        } else {
            for name in names {
                let c = self.inspect_container(name).await.map_err(|e| match status_of(&e) {
                    Some(404) => anyhow!("no such container: {name}"),
                    _ => anyhow!(describe(&e)),
                })?;
                out.push(c);
            }
        }
        Ok(out)
    }
}

/// Where dockerd reads its configuration: /etc/docker/daemon.json, or the user's
/// config folder for a rootless daemon.
fn daemon_json_path(rootless: bool, env: &dyn Fn(&str) -> Option<String>) -> PathBuf {
    if !rootless {
        return PathBuf::from("/etc/docker/daemon.json");
    }
    let config = env("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env("HOME").unwrap_or_else(|| "/".into())).join(".config"));
    config.join("docker/daemon.json")
}

/// `no-new-privileges` from daemon.json: a missing file or key is dockerd's default
/// (off); an unreadable or invalid file is unknown.
fn read_no_new_privileges(path: &Path) -> Option<bool> {
    match std::fs::read_to_string(path) {
        Ok(text) => no_new_privileges_of(&text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Some(false),
        Err(_) => None,
    }
}

fn no_new_privileges_of(daemon_json: &str) -> Option<bool> {
    let v: serde_json::Value = serde_json::from_str(daemon_json).ok()?;
    match v.get("no-new-privileges") {
        None => Some(false),
        Some(b) => b.as_bool(),
    }
}

fn socket_file(path: &Path) -> Option<SocketFile> {
    let meta = std::fs::metadata(path).ok()?;
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let group = std::fs::read_to_string("/etc/group").unwrap_or_default();
    let (uid, gid) = (meta.uid(), meta.gid());
    Some(SocketFile {
        path: path.to_path_buf(),
        uid,
        gid,
        owner: name_of(&passwd, uid),
        group: name_of(&group, gid),
        mode: meta.mode() & 0o7777,
        group_members: group_members(&group, &passwd, gid),
    })
}

/// The name for an id in /etc/passwd or /etc/group (`name:x:id:...`).
fn name_of(table: &str, id: u32) -> Option<String> {
    table.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() > 2 && f[2].parse() == Ok(id)).then(|| f[0].to_string())
    })
}

/// The users in group `gid`: its listed members and the users whose primary group it is.
fn group_members(group: &str, passwd: &str, gid: u32) -> Vec<String> {
    let mut out: Vec<String> = group
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .filter(|f| f.len() > 3 && f[2].parse() == Ok(gid))
        .flat_map(|f| f[3].split(',').filter(|m| !m.is_empty()).map(str::to_string).collect::<Vec<_>>())
        .collect();
    for l in passwd.lines() {
        let f: Vec<&str> = l.split(':').collect();
        if f.len() > 3 && f[3].parse() == Ok(gid) && !out.iter().any(|m| m == f[0]) {
            out.push(f[0].to_string());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn daemon_json_no_new_privileges() {
        assert_eq!(no_new_privileges_of(r#"{"no-new-privileges": true}"#), Some(true));
        assert_eq!(no_new_privileges_of(r#"{"no-new-privileges": false, "icc": false}"#), Some(false));
        assert_eq!(no_new_privileges_of(r#"{"log-driver": "json-file"}"#), Some(false));
        assert_eq!(no_new_privileges_of("{not json"), None);
        let d = tempfile::tempdir().unwrap();
        assert_eq!(read_no_new_privileges(&d.path().join("missing.json")), Some(false));
    }

    #[test]
    fn daemon_json_of_a_rootless_daemon() {
        let env = |k: &str| (k == "HOME").then(|| "/home/dev".to_string());
        assert_eq!(daemon_json_path(false, &env), PathBuf::from("/etc/docker/daemon.json"));
        assert_eq!(daemon_json_path(true, &env), PathBuf::from("/home/dev/.config/docker/daemon.json"));
    }

    #[test]
    fn members_include_primary_groups() {
        let group = "root:x:0:\ndocker:x:998:alice,bob\nusers:x:100:\n";
        let passwd = "root:x:0:0::/root:/bin/sh\ncarol:x:1002:998::/home/carol:/bin/sh\nalice:x:1000:1000::/:/bin/sh\n";
        assert_eq!(group_members(group, passwd, 998), ["alice", "bob", "carol"]);
        assert_eq!(group_members(group, passwd, 100), Vec::<String>::new());
        assert_eq!(name_of(group, 998).as_deref(), Some("docker"));
        assert_eq!(name_of(passwd, 1002).as_deref(), Some("carol"));
        assert_eq!(name_of(passwd, 4242), None);
    }
}
