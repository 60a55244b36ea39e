//! The Plan: what hardrun will ask the engine for, and why. It holds the exact Engine
//! API create body, how to drive the container, what the kernel must show once it runs,
//! and one decision per control with its source, so `hardrun plan` can explain it.

pub mod docker_argv;
#[cfg(test)]
pub mod round_trip;
pub mod table;

use bollard::models::ContainerCreateBody;
use serde::Serialize;

use crate::image::ImageRef;
use crate::request::PullPolicy;

/// Where a setting came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Source {
    /// A profile key and the file that set it.
    Profile { key: String, file: String },
    /// A flag as the user typed it.
    Flag { flag: String },
    /// A rule hardrun applies whatever the profile says.
    Rule { rule: String },
    /// The image's own configuration.
    Image { field: String },
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Profile { key, file } => write!(f, "profile {key} ({file})"),
            Source::Flag { flag } => write!(f, "flag {flag}"),
            Source::Rule { rule } => write!(f, "rule: {rule}"),
            Source::Image { field } => write!(f, "image {field}"),
        }
    }
}

/// One control's final value and its source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    pub control: String,
    pub value: String,
    pub source: Source,
}

/// How hardrun drives the container: not part of the container itself.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Lifecycle {
    pub detach: bool,
    pub interactive: bool,
    pub tty: bool,
    pub auto_remove: bool,
    pub attach_stdin: bool,
    pub attach_stdout: bool,
    pub attach_stderr: bool,
    pub sig_proxy: bool,
    pub detach_keys: Option<String>,
    #[serde(skip)]
    pub pull: PullPolicy,
    pub quiet: bool,
    pub platform: Option<String>,
    pub cidfile: Option<String>,
}

/// What the kernel must show for the container's first process once it runs.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Expectation {
    /// Capabilities left in the bounding set (CapDrop ALL plus these).
    pub capabilities: Vec<String>,
    pub no_new_privileges: bool,
    pub seccomp: bool,
    /// The user as configured (`65532:65532`, `app`).
    pub user: Option<String>,
    pub read_only_root: bool,
    pub apparmor: Option<String>,
}

/// Which seccomp profile the plan sends, for the docker command line (which cannot take
/// the inline JSON the Engine API gets).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SeccompSource {
    Bundled(String),
    File(String),
}

/// A place the container may write: what is mounted there, who owns it, and whether
/// the user the container runs as can write it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WritablePath {
    /// The path in the container.
    pub path: String,
    /// `tmpfs`, `bind`, `volume`, `image volume` or `image folder`.
    pub kind: String,
    /// The host path or volume name behind it, when it has one.
    pub source: Option<String>,
    /// `uid:gid mode`, when known.
    pub owner: Option<String>,
    /// Whether the run user can write it; `None` when unknown.
    pub writable: Option<bool>,
    /// Why, or what happens.
    pub note: String,
}

/// A bind source hardrun creates before the container, so that it belongs to the user
/// the container runs as (docker would create it owned by root).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Prepare {
    pub path: String,
    /// Given to this user and group (`None`: left to whoever hardrun runs as).
    pub owner: Option<(u32, u32)>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub name: Option<String>,
    #[serde(skip)]
    pub image: ImageRef,
    pub create: ContainerCreateBody,
    pub decisions: Vec<Decision>,
    pub notices: Vec<String>,
    pub warnings: Vec<String>,
    pub writable: Vec<WritablePath>,
    pub prepare: Vec<Prepare>,
    /// The user the container runs as, in numbers (`999:999`), when known.
    pub run_as: Option<String>,
    #[serde(skip)]
    pub lifecycle: Lifecycle,
    #[serde(skip)]
    pub expect: Expectation,
    #[serde(skip)]
    pub seccomp: SeccompSource,
}

/// The `--format json` document, borrowed from the plan: serialized straight to text, so
/// a body with one entry per published port costs its text, not a JSON tree besides.
#[derive(Serialize)]
pub struct PlanDocument<'a> {
    name: &'a Option<String>,
    image: String,
    /// The Engine API body, verbatim.
    create: &'a ContainerCreateBody,
    decisions: &'a [Decision],
    notices: &'a [String],
    warnings: &'a [String],
    writable: &'a [WritablePath],
    prepare: &'a [Prepare],
    run_as: &'a Option<String>,
}

impl Plan {
    /// The `--format json` document: `create` is the Engine API body, verbatim.
    pub fn document(&self) -> PlanDocument<'_> {
        PlanDocument {
            name: &self.name,
            image: self.image.familiar(),
            create: &self.create,
            decisions: &self.decisions,
            notices: &self.notices,
            warnings: &self.warnings,
            writable: &self.writable,
            prepare: &self.prepare,
            run_as: &self.run_as,
        }
    }
}
