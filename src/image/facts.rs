//! What is known about an image once it is local: its configuration from one inspect,
//! and what was read from it or about it (history, a look inside, a scan), each `None`
//! when it was not asked for. The engine and the gate's gathering fill it in; the gate
//! and policy judge it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::scan::Finding;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageFacts {
    /// `Config.User`, empty when the image runs as root by default.
    pub user: String,
    /// The image ID (`sha256:` of its configuration): the key of every cache entry.
    pub id: String,
    pub repo_digests: Vec<String>,
    /// `Config.Env`, as `NAME=value`.
    pub env: Vec<String>,
    /// `Config.Labels`.
    pub labels: BTreeMap<String, String>,
    /// `Config.WorkingDir`, empty when unset.
    pub working_dir: String,
    /// `Config.Entrypoint` and `Config.Cmd` (hardrun passes them on itself when it puts
    /// its init in front: a create body with an Entrypoint does not get the image's Cmd).
    pub entrypoint: Vec<String>,
    pub cmd: Vec<String>,
    /// `Config.ExposedPorts` keys (`80/tcp`), which `-P` publishes.
    pub exposed_ports: Vec<String>,
    /// Bytes, as the daemon reports them.
    pub size: u64,
    /// Filesystem layers (`RootFS.Layers`).
    pub layers: usize,
    /// `Config.Volumes`: anonymous volumes the daemon mounts.
    pub volumes: Vec<String>,
    /// `created_by` of each history entry, oldest first; `None` when not read.
    pub history: Option<Vec<String>>,
    /// What a look inside found; `None` when hardrun did not look.
    pub contents: Option<Contents>,
    /// The registry's digest for the reference's repository, when one is known.
    pub digest: Option<String>,
    /// The scanner's findings; `None` when the profile asks for no scan.
    pub scan: Option<ScanResult>,
}

/// Files read from the image through a container that was created and never started.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contents {
    /// Shells and package managers (`minimal::programs`) found as executable files in
    /// the folders looked in (`minimal::folders`), by their path in the image.
    pub executables: Vec<String>,
    /// `/etc/passwd`, `None` when the image has none.
    pub passwd: Option<String>,
    /// `/etc/group`, `None` when the image has none.
    pub group: Option<String>,
}

/// What the profile's scanner said.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ScanResult {
    Findings {
        scanner: String,
        findings: Vec<Finding>,
    },
    /// The scanner is missing, failed, or printed something else than its JSON.
    Unavailable {
        scanner: String,
        reason: String,
    },
}
