//! A per-user cache of what a local daemon said about itself (API version, security
//! facts), so a run does not ask again each time. It is keyed by the socket file's
//! identity: a restarted daemon (the only way its security settings change) recreates
//! its socket, which invalidates the entry. Remote daemons are always asked.

use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{DaemonFacts, Endpoint};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Entry {
    key: String,
    pub api: (u32, u32),
    pub server_version: String,
    pub facts: DaemonFacts,
}

fn dir() -> Option<PathBuf> {
    let runtime = std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from).filter(|p| p.is_dir());
    let base = runtime.or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("hardrun"))
}

/// The socket's identity: path, device, inode and change time.
fn key(endpoint: &Endpoint) -> Option<String> {
    let path = endpoint.host.strip_prefix("unix://")?;
    let m = std::fs::metadata(path).ok()?;
    Some(format!("{path}:{}:{}:{}.{}", m.dev(), m.ino(), m.ctime(), m.ctime_nsec()))
}

fn file(endpoint: &Endpoint) -> Option<PathBuf> {
    let path = endpoint.host.strip_prefix("unix://")?;
    let name: String = path.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect();
    Some(dir()?.join(format!("daemon{name}.json")))
}

pub fn load(endpoint: &Endpoint) -> Option<Entry> {
    let key = key(endpoint)?;
    let bytes = crate::bounded_file::read(&file(endpoint)?, crate::bounded_file::TEXT_MAX).ok()?;
    let entry: Entry = serde_json::from_slice(&bytes).ok()?;
    (entry.key == key).then_some(entry)
}

/// Best effort: a cache that cannot be written only costs the next run a request.
pub fn store(endpoint: &Endpoint, api: (u32, u32), server_version: &str, facts: &DaemonFacts) {
    let (Some(key), Some(path)) = (key(endpoint), file(endpoint)) else { return };
    let entry = Entry { key, api, server_version: server_version.to_string(), facts: facts.clone() };
    let Ok(json) = serde_json::to_vec(&entry) else { return };
    if let Some(parent) = path.parent() {
        let _ = std::fs::create_dir_all(parent);
    }
    // Write then rename, so a concurrent reader never sees half a file.
    let tmp = path.with_extension(format!("{}.tmp", std::process::id()));
    if std::fs::write(&tmp, json).is_ok() {
        let _ = std::fs::rename(&tmp, &path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_socket_invalidates_the_entry() {
        let d = tempfile::tempdir().unwrap();
        let sock = d.path().join("d.sock");
        std::fs::write(&sock, "").unwrap();
        let ep = Endpoint {
            host: format!("unix://{}", sock.display()),
            tls: None,
            origin: "test".into(),
            config_dir: PathBuf::new(),
        };
        let first = key(&ep).unwrap();
        std::fs::remove_file(&sock).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(10));
        std::fs::write(&sock, "").unwrap();
        assert_ne!(key(&ep).unwrap(), first);
        let tcp =
            Endpoint { host: "tcp://h:2375".into(), tls: None, origin: "test".into(), config_dir: PathBuf::new() };
        assert!(key(&tcp).is_none(), "remote daemons are never cached");
    }
}
