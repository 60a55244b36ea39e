//! The YAML schema of a profile file, exactly as written: every field optional (a file
//! may set only what it changes from the profile it extends) and unknown keys rejected.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer};

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileFile {
    pub extends: Option<String>,
    pub description: Option<String>,
    pub user: Option<UserSection>,
    pub capabilities: Option<CapabilitiesSection>,
    pub filesystem: Option<FilesystemSection>,
    pub no_new_privileges: Option<bool>,
    pub seccomp: Option<SeccompSection>,
    pub apparmor: Option<AppArmorSection>,
    pub resources: Option<ResourcesSection>,
    pub network: Option<NetworkSection>,
    pub image: Option<ImageSection>,
    pub sysctls: Option<AllowSection>,
    pub annotations: Option<AllowSection>,
    pub logging: Option<LoggingSection>,
    pub runtimes: Option<AllowSection>,
    pub allow_flags: Option<Vec<String>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserSection {
    /// `UID:GID` (or a name) used when no `--user` is given, or `image`.
    pub default: Option<String>,
    pub allow_root: Option<bool>,
    /// Whether the image's non-root USER or service user comes before `default`.
    pub from_image: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CapabilitiesSection {
    pub add: Option<Vec<String>>,
    pub allow: Option<Vec<String>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilesystemSection {
    pub read_only: Option<bool>,
    /// Container path → tmpfs options (`size=64m`); hardrun adds `noexec,nosuid,nodev`.
    pub tmpfs: Option<BTreeMap<String, String>>,
    pub tmpfs_exec: Option<bool>,
    pub binds: Option<BindsSection>,
    pub volume_drivers: Option<Vec<String>>,
    /// Filesystem types a local volume may be (`type=` in its options).
    pub volume_types: Option<Vec<String>>,
    pub image_tmpfs: Option<ImageTmpfsSection>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageTmpfsSection {
    /// Size of each tmpfs given to an empty folder the image made writable for its user.
    pub size: Option<Bytes>,
    /// How many such folders get one (0: none).
    pub max: Option<u32>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BindsSection {
    /// Whether sources inside the working directory may be bound.
    pub project: Option<bool>,
    /// Further host path prefixes that may be bound.
    pub allow: Option<Vec<String>>,
    pub propagation: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeccompSection {
    pub profile: Option<String>,
    pub allow_custom: Option<bool>,
    /// Escape-route syscalls (unshare, mount, ptrace...) a custom seccomp profile may allow.
    pub allow_escape_routes: Option<Vec<String>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppArmorSection {
    pub profile: Option<String>,
    pub required: Option<bool>,
    pub allow_custom: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourcesSection {
    pub memory: Option<Bounds<Bytes>>,
    pub swap: Option<SwapSection>,
    pub cpus: Option<Bounds<Cpus>>,
    pub pids: Option<Bounds<Count>>,
    pub ulimits: Option<BTreeMap<String, UlimitSection>>,
}

/// A default applied when the flag is absent and a ceiling the flag may not exceed.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bounds<T> {
    pub default: Option<T>,
    pub max: Option<T>,
}

impl<T> Default for Bounds<T> {
    fn default() -> Self {
        Bounds { default: None, max: None }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SwapSection {
    /// Swap a container may use on top of its memory; 0 means none.
    pub max: Option<Bytes>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UlimitSection {
    pub soft: Option<i64>,
    pub hard: Option<i64>,
    pub max: Option<i64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkSection {
    pub default: Option<String>,
    pub allow: Option<Vec<String>>,
    pub publish: Option<bool>,
    /// The most host ports `-p`/`-P` may bind.
    pub max_ports: Option<Count>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoggingSection {
    /// Drivers `--log-driver` may name.
    pub drivers: Option<Vec<String>>,
    /// Keys `--log-opt` may set.
    pub options: Option<Vec<String>>,
    /// Ceilings for `max-size` and `max-file`.
    pub max_size: Option<Bytes>,
    pub max_file: Option<Count>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageSection {
    pub tags: Option<TagRule>,
    pub require_digest: Option<bool>,
    pub registries: Option<Vec<String>>,
    pub secrets: Option<SecretsRule>,
    pub minimal: Option<bool>,
    pub scan: Option<ScanSection>,
    pub signatures: Option<SignaturesSection>,
}

/// `image.signatures`: cosign signature verification before anything runs.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignaturesSection {
    /// Every run verifies (refuses an unsigned or wrongly signed image).
    pub required: Option<bool>,
    /// Public key files (cosign.pub) for images no `registries` entry names.
    pub keys: Option<Vec<String>>,
    /// A registry (`ghcr.io`) or repository prefix (`ghcr.io/team`) → its own keys.
    pub registries: Option<BTreeMap<String, SignatureScopeSection>>,
    /// Registries reached over plain HTTP for signatures (loopback ones always may be).
    pub plain_http: Option<Vec<String>>,
    /// A containers policy.json deciding instead of `keys`/`registries`.
    pub policy: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignatureScopeSection {
    pub keys: Option<Vec<String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TagRule {
    /// Anything, floating `latest` included.
    Any,
    /// Any tag but `latest` (or none).
    Fixed,
    /// A version tag with at least major.minor (`1.25`, `1.25.3`).
    Minor,
    /// A digest (`@sha256:...`).
    Digest,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SecretsRule {
    Refuse,
    Warn,
    Off,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScanSection {
    /// `trivy`, `grype`, or a command printing Trivy- or Grype-shaped JSON.
    pub scanner: Option<String>,
    pub fail_on: Option<String>,
    pub required: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllowSection {
    pub allow: Option<Vec<String>>,
}

/// A byte size: `512m`, `1g`, a number of bytes, or `unlimited` (-1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bytes(pub i64);

/// A CPU count in nano-CPUs: `1.5`, `"0.5"`, or `unlimited` (-1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cpus(pub i64);

/// A count: `256`, or `unlimited` (-1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Count(pub i64);

pub const UNLIMITED: i64 = -1;

#[derive(Deserialize)]
#[serde(untagged)]
enum Scalar {
    Int(i64),
    Float(f64),
    Text(String),
}

fn scalar<'de, D: Deserializer<'de>, T>(
    d: D,
    what: &str,
    parse: impl Fn(&str) -> Option<i64>,
    wrap: fn(i64) -> T,
) -> Result<T, D::Error> {
    let s = match Scalar::deserialize(d).map_err(|_| serde::de::Error::custom(format!("expected {what}")))? {
        Scalar::Int(i) => i.to_string(),
        Scalar::Float(f) => f.to_string(),
        Scalar::Text(t) => t,
    };
    if s == "unlimited" {
        return Ok(wrap(UNLIMITED));
    }
    parse(&s).map(wrap).ok_or_else(|| serde::de::Error::custom(format!("{s:?} is not {what}")))
}

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        scalar(d, "a size (512m, 1g) or unlimited", crate::request::size::parse_bytes, Bytes)
    }
}

impl<'de> Deserialize<'de> for Cpus {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let positive = |s: &str| crate::request::parse_nano_cpus(s).ok().filter(|n| *n > 0);
        scalar(d, "a CPU count (0.5, 2) or unlimited", positive, Cpus)
    }
}

impl<'de> Deserialize<'de> for Count {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        scalar(d, "a positive whole number or unlimited", |s| s.parse::<i64>().ok().filter(|n| *n > 0), Count)
    }
}
