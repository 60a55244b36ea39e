//! Which project files the user trusts. A profile in `./.hardrun/profiles/` came with the
//! project (a cloned repository, say): it is someone else's file until the user reviews it
//! and runs `hardrun profile trust FILE`. Trust is recorded in the user's config as the
//! file's real path and the SHA-256 of its content, as direnv's `allow` does, so a file
//! that changes is untrusted again. The seccomp profile file a project profile names is
//! trusted with it, the same way.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::bounded_file::{self, TEXT_MAX};

/// The trust list: `$XDG_CONFIG_HOME/hardrun/trusted.json` (`~/.config` when unset).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustList {
    pub file: PathBuf,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Entries {
    #[serde(default)]
    trusted: Vec<Entry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Entry {
    /// The file's real path (symlinks followed).
    path: String,
    /// Hex SHA-256 of its content.
    sha256: String,
}

/// The hex SHA-256 of `bytes`.
pub fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// A file's real path as text, the key of its trust entry.
fn key(path: &Path) -> Result<String, String> {
    let real = std::fs::canonicalize(path).map_err(|e| format!("{}: {e}", path.display()))?;
    real.to_str().map(str::to_string).ok_or_else(|| format!("{}: the path is not UTF-8", real.display()))
}

impl TrustList {
    /// The user's trust list in their config folder (`$XDG_CONFIG_HOME`), next to their
    /// profiles.
    pub fn in_config(config: &Path) -> TrustList {
        TrustList { file: config.join("hardrun/trusted.json") }
    }

    /// The entries, when the list is there and readable. A list that another user owns
    /// (a shared or planted config folder) counts as empty: it trusts nothing.
    fn load(&self) -> Result<Entries, String> {
        use std::os::unix::fs::MetadataExt as _;
        let (bytes, meta) = match bounded_file::read_with_metadata(&self.file, TEXT_MAX) {
            Ok(read) => read,
            Err(e) if e.is_missing() => return Ok(Entries::default()),
            Err(e) => return Err(format!("the trust list {}: {e}", self.file.display())),
        };
        let me = std::fs::metadata("/proc/self").map(|m| m.uid()).ok();
        if me.is_some_and(|uid| uid != meta.uid()) {
            return Err(format!("the trust list {} belongs to another user", self.file.display()));
        }
        serde_json::from_slice(&bytes).map_err(|e| format!("the trust list {} is damaged: {e}", self.file.display()))
    }

    fn store(&self, entries: &Entries) -> Result<(), String> {
        let fail = |e: std::io::Error| format!("cannot write the trust list {}: {e}", self.file.display());
        if let Some(dir) = self.file.parent() {
            std::fs::create_dir_all(dir).map_err(fail)?;
        }
        let json = serde_json::to_vec_pretty(entries).map_err(|e| e.to_string())?;
        // Write then rename, so a concurrent reader never sees half a list.
        let tmp = self.file.with_extension(format!("json.{}.tmp", std::process::id()));
        std::fs::write(&tmp, json).map_err(fail)?;
        std::fs::rename(&tmp, &self.file).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            fail(e)
        })
    }

    /// Whether the file at `path`, whose content was read as `bytes`, is trusted. The
    /// caller judges and uses those same bytes, so a file changed since is caught.
    pub fn is_trusted(&self, path: &Path, bytes: &[u8]) -> bool {
        let (Ok(path), Ok(entries)) = (key(path), self.load()) else { return false };
        let digest = sha256(bytes);
        entries.trusted.iter().any(|e| e.path == path && e.sha256 == digest)
    }

    /// Records `bytes` as the trusted content of `path` (replacing what was trusted there).
    pub fn trust(&self, path: &Path, bytes: &[u8]) -> Result<(), String> {
        let path = key(path)?;
        let mut entries = self.load()?;
        entries.trusted.retain(|e| e.path != path);
        entries.trusted.push(Entry { path, sha256: sha256(bytes) });
        self.store(&entries)
    }

    /// Forgets `path`; whether it was trusted.
    pub fn untrust(&self, path: &Path) -> Result<bool, String> {
        let real = key(path).or_else(|_| {
            let absolute = std::path::absolute(path).map_err(|e| e.to_string())?;
            absolute.to_str().map(str::to_string).ok_or_else(|| "the path is not UTF-8".to_string())
        })?;
        let mut entries = self.load()?;
        let before = entries.trusted.len();
        entries.trusted.retain(|e| e.path != real);
        if entries.trusted.len() == before {
            return Ok(false);
        }
        self.store(&entries).map(|_| true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trust_follows_the_content() {
        let d = tempfile::tempdir().unwrap();
        let list = TrustList { file: d.path().join("config/hardrun/trusted.json") };
        let profile = d.path().join("default.yaml");
        std::fs::write(&profile, "extends: default\n").unwrap();
        assert!(!list.is_trusted(&profile, b"extends: default\n"), "nothing is trusted at first");
        list.trust(&profile, b"extends: default\n").unwrap();
        assert!(list.is_trusted(&profile, b"extends: default\n"));
        assert!(!list.is_trusted(&profile, b"extends: default\nuser: {allow_root: true}\n"), "changed content");
        let elsewhere = d.path().join("other.yaml");
        std::fs::write(&elsewhere, "extends: default\n").unwrap();
        assert!(!list.is_trusted(&elsewhere, b"extends: default\n"), "the same content at another path");
        let link = d.path().join("link.yaml");
        std::os::unix::fs::symlink(&profile, &link).unwrap();
        assert!(list.is_trusted(&link, b"extends: default\n"), "a path is known by its real path");
        assert!(list.untrust(&profile).unwrap());
        assert!(!list.is_trusted(&profile, b"extends: default\n"));
        assert!(!list.untrust(&profile).unwrap(), "already forgotten");
    }

    #[test]
    fn a_damaged_list_trusts_nothing() {
        let d = tempfile::tempdir().unwrap();
        let list = TrustList { file: d.path().join("trusted.json") };
        let profile = d.path().join("p.yaml");
        std::fs::write(&profile, "x").unwrap();
        std::fs::write(&list.file, "{not json").unwrap();
        assert!(!list.is_trusted(&profile, b"x"));
        assert!(list.trust(&profile, b"x").unwrap_err().contains("damaged"));
    }

    #[test]
    fn the_list_lives_in_the_users_config() {
        assert_eq!(TrustList::in_config(Path::new("/x")).file, Path::new("/x/hardrun/trusted.json"));
    }
}
