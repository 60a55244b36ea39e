//! The resolved profile: every `extends` applied, built-in defaults filled in, values
//! checked (by `resolve`), and for each key the file that set it.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::load::{Kind, Untrusted};
use super::schema::{SecretsRule, TagRule, UNLIMITED};
use crate::capability::Capability;
use crate::request::UserSpec;

/// Where a profile value came from: a file path, `bundled:NAME`, or `built-in`.
pub type Origin = String;

/// How the user is chosen when `--user` is absent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DefaultUser {
    Fixed(UserSpec),
    /// The image's own `USER`, when it is not root.
    Image,
}

#[derive(Debug, Clone, PartialEq)]
pub struct UserRule {
    pub default: DefaultUser,
    pub allow_root: bool,
    /// The image's non-root USER, else the service user it was built for, before
    /// `default`.
    pub from_image: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Capabilities {
    pub add: Vec<Capability>,
    pub allow: Vec<Capability>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Filesystem {
    pub read_only: bool,
    pub tmpfs: Vec<(String, String)>,
    pub tmpfs_exec: bool,
    pub binds_project: bool,
    pub binds_allow: Vec<PathBuf>,
    pub binds_propagation: bool,
    pub volume_drivers: Vec<String>,
    pub image_tmpfs: ImageTmpfs,
    pub volume_types: Vec<String>,
}

/// The tmpfs mounts given to empty folders the image made writable for its user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageTmpfs {
    /// Bytes per mount.
    pub size: i64,
    /// Mounts at most (0: none).
    pub max: usize,
}

/// A limit: the value used when the flag is absent, and the most a flag may ask for.
/// `None` means no default (or no ceiling); [`UNLIMITED`] is an explicit "unlimited".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub default: Option<i64>,
    pub max: Option<i64>,
}

impl Limit {
    pub fn allows_unlimited(&self) -> bool {
        self.max == Some(UNLIMITED)
    }

    /// Whether `value` (a finite amount) stays within the ceiling.
    pub fn within(&self, value: i64) -> bool {
        match self.max {
            None | Some(UNLIMITED) => true,
            Some(max) => value <= max,
        }
    }
}

/// A ulimit `--ulimit` may set, up to `max`; `default` (soft, hard) is applied when the
/// flag does not set it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UlimitRule {
    pub name: &'static str,
    pub default: Option<(i64, i64)>,
    pub max: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Resources {
    pub memory: Limit,
    pub swap_max: i64,
    pub cpus: Limit,
    pub pids: Limit,
    pub ulimits: Vec<UlimitRule>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Network {
    pub default: String,
    /// `bridge`, `none`, `user` (any user-defined network) or network names.
    pub allow: Vec<String>,
    pub publish: bool,
    /// The most host ports `-p`/`-P` may bind; `None` for no ceiling.
    pub max_ports: Option<u64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Logging {
    pub drivers: Vec<String>,
    pub options: Vec<String>,
    /// Bytes.
    pub max_size: i64,
    pub max_file: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Scan {
    pub scanner: String,
    pub fail_on: String,
    pub required: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ImageRule {
    pub tags: TagRule,
    pub require_digest: bool,
    pub registries: Vec<String>,
    pub secrets: SecretsRule,
    pub minimal: bool,
    pub scan: Option<Scan>,
    /// `image.signatures`, filled by the loader (it reads the key files).
    pub signatures: crate::image::signature::SignaturePolicy,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    pub name: String,
    pub description: String,
    /// Dotted key (`resources.memory.max`) → the file that set it.
    pub origins: BTreeMap<String, Origin>,
    pub user: UserRule,
    pub capabilities: Capabilities,
    pub filesystem: Filesystem,
    pub no_new_privileges: bool,
    /// A bundled seccomp profile name or an absolute path to one.
    pub seccomp: String,
    /// The text of the seccomp file, read (and, from the project, trusted) with the profile.
    pub seccomp_text: Option<String>,
    pub seccomp_allow_custom: bool,
    /// Escape routes (`seccomp::ESCAPE_ROUTES`) a custom seccomp profile may let run.
    pub seccomp_escape_routes: Vec<String>,
    pub apparmor: Option<String>,
    pub apparmor_required: bool,
    pub apparmor_allow_custom: bool,
    pub resources: Resources,
    pub network: Network,
    pub image: ImageRule,
    pub sysctls_allow: Vec<String>,
    pub annotations_allow: Vec<String>,
    pub logging: Logging,
    pub runtimes_allow: Vec<String>,
    pub allow_flags: Vec<String>,
    /// The files the profile was read from, leaf first, and how each came to be used.
    pub files: Vec<(String, Kind)>,
    /// Project profile files passed over because the user has not trusted them.
    pub untrusted: Vec<Untrusted>,
}

/// Flags that loosen a control without a dedicated profile key; `allow_flags` lists the
/// ones a profile accepts.
pub const LOOSENING_FLAGS: [&str; 5] =
    ["cgroup-parent", "cpu-rt-runtime", "oom-score-adj", "volumes-from", "security-opt-label"];

pub const SEVERITIES: [&str; 5] = ["LOW", "MEDIUM", "HIGH", "CRITICAL", "UNKNOWN"];

/// Log drivers that keep the output on the host's disk, where `docker logs` reads it.
pub const DEFAULT_LOG_DRIVERS: [&str; 3] = ["json-file", "local", "none"];

/// Log options that only shape or bound what those drivers keep.
pub const DEFAULT_LOG_OPTIONS: [&str; 8] =
    ["max-size", "max-file", "compress", "labels", "labels-regex", "env", "env-regex", "tag"];

impl Profile {
    /// The file that set `key`, or `built-in`.
    pub fn origin(&self, key: &str) -> &str {
        self.origins.get(key).map(String::as_str).unwrap_or("built-in")
    }

    /// The files in force, named for stderr, when any is not bundled: `profile "api":
    /// /p/.hardrun/profiles/api.yaml (trusted project file), then bundled:web`.
    pub fn files_in_force(&self) -> Option<String> {
        if self.files.iter().all(|(_, kind)| *kind == Kind::Bundled) {
            return None;
        }
        let named: Vec<String> = self
            .files
            .iter()
            .map(|(label, kind)| {
                let label = crate::sanitize::escape(label);
                match kind {
                    Kind::Bundled | Kind::Installed => label,
                    Kind::Chosen => format!("{label} (--profile-file)"),
                    Kind::Project => format!("{label} (trusted project file)"),
                }
            })
            .collect();
        Some(format!("profile {:?}: {}", self.name, named.join(", then ")))
    }
}
