//! `harden`: every security decision hardrun makes, as a pure function of what the
//! user asked (`RunRequest`), the profile, and facts about the host gathered beforehand.
//! No I/O happens here, so each rule is unit-tested without a daemon.

pub mod host_paths;
pub(crate) mod identity;
mod image;
mod image_user;
mod intent;
pub mod isolation;
mod limits;
mod logging;
mod network;
pub mod paths;
mod refusal;
mod repeated;
mod storage;
pub mod volume;
mod writable;

#[cfg(test)]
mod bypasses;
#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use bollard::models::{ContainerCreateBody, HostConfig};

use crate::image::ImageRef;
use crate::plan::{Decision, Expectation, Lifecycle, Plan, Prepare, SeccompSource, Source, WritablePath};
use crate::profile::Profile;
use crate::request::RunRequest;
pub use network::ISOLATED as ISOLATED_NETWORK;
pub use network::{IsolatedDefault, isolated_default};
pub use refusal::Refusal;

/// A named volume as the daemon reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VolumeFacts {
    pub driver: String,
    pub options: BTreeMap<String, String>,
    /// The owner of its folder on the daemon's host, when hardrun could read it.
    pub owner: Option<Owner>,
}

/// Who owns a file or folder, and its permission bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Owner {
    pub uid: u32,
    pub gid: u32,
    pub mode: u32,
}

/// A bind source as it is on the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathState {
    /// Docker would create it (owned by root).
    Missing,
    Dir(Owner),
    File(Owner),
}

/// One mount of an existing container (for `--volumes-from`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountFacts {
    /// `bind`, `volume`, `tmpfs`...
    pub kind: String,
    /// The host path behind it (for volumes, the daemon's volume folder).
    pub source: String,
    /// The volume name, for volumes.
    pub name: Option<String>,
    pub destination: String,
}

/// A network as the daemon resolved a name, ID or ID prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkFacts {
    /// The full ID: what hardrun sends once it judged the network.
    pub id: String,
    pub name: String,
    /// `bridge`, `host`, `null`, `macvlan`, `ipvlan`, `overlay` or a plugin's.
    pub driver: String,
    /// Whether containers on it may reach each other (a bridge's
    /// `com.docker.network.bridge.enable_icc`, on unless set to false).
    pub icc: bool,
}

/// The image's configuration and what the gate learnt about it, once it is local.
pub use crate::image::ImageFacts;

/// What hardrun knows about the machine before deciding. Gathered by thin I/O code
/// (`host::gather`, the engine) and passed in as values.
#[derive(Debug, Clone, Default)]
pub struct Host {
    pub cwd: PathBuf,
    /// The user's home folder (real path), never "the project".
    pub home: Option<PathBuf>,
    /// Bind sources with symlinks followed where they exist (typed path → real path).
    pub real_paths: BTreeMap<PathBuf, PathBuf>,
    /// Paths of the Docker API socket(s) on this host, never to be bound.
    pub daemon_sockets: Vec<PathBuf>,
    /// The gid owning each daemon socket.
    pub socket_groups: Vec<(PathBuf, u32)>,
    /// The host's /etc/group: (name, gid), for the groups that open host resources.
    pub groups: Vec<(String, u32)>,
    /// Whether the daemon's kernel enforces AppArmor; `None` when unknown.
    pub apparmor: Option<bool>,
    /// Bundled AppArmor profiles known not to be loaded in the kernel (and that hardrun
    /// could not load itself).
    pub apparmor_unloaded: Vec<String>,
    /// userns-remap or a rootless daemon: root inside is not root outside.
    pub userns_remapped: bool,
    /// Named volumes that already exist.
    pub volumes: BTreeMap<String, VolumeFacts>,
    /// Mounts of containers named by `--volumes-from`, when they could be inspected.
    pub containers: BTreeMap<String, Vec<MountFacts>>,
    pub image: Option<ImageFacts>,
    /// Seccomp profile files read ahead of time (path → text).
    pub files: BTreeMap<PathBuf, String>,
    /// hardrun's own isolated network, when the engine created or found it.
    pub isolated_network: Option<String>,
    /// The daemon's default `bridge` network, when the daemon was asked and has one.
    pub default_bridge: Option<NetworkFacts>,
    /// Networks named by `--network` (or the profile's default), as the daemon resolved
    /// them, keyed by the name, ID or ID prefix given; a term the daemon does not know is
    /// absent.
    pub networks: BTreeMap<String, NetworkFacts>,
    /// Whether the daemon's facts (volumes, containers) were gathered; before that, rules
    /// that need them wait instead of refusing.
    pub daemon_asked: bool,
    /// Host-path bind sources (real paths) as they are, when the daemon runs on this
    /// machine (otherwise its host's paths are not these).
    pub bind_sources: BTreeMap<PathBuf, PathState>,
    /// hardrun's own effective uid: whether it may give a folder it makes to another user.
    pub euid: Option<u32>,
}

impl Host {
    /// A bind source as it really is on the host, symlinks followed.
    pub fn real(&self, typed: &Path) -> PathBuf {
        self.real_paths.get(typed).cloned().unwrap_or_else(|| typed.to_path_buf())
    }
}

/// The state of one hardening pass: the create body as it is built, and what was
/// decided or refused on the way.
pub(crate) struct Hardening<'a> {
    pub req: &'a RunRequest,
    pub profile: &'a Profile,
    pub host: &'a Host,
    pub refusals: Vec<Refusal>,
    pub decisions: Vec<Decision>,
    pub notices: Vec<String>,
    /// What will likely break the service, said before it starts (printed even with -q).
    pub warnings: Vec<String>,
    /// Where the container may write, and whether its user can.
    pub writable: Vec<WritablePath>,
    /// Bind sources to create for the run user before the container is.
    pub prepare: Vec<Prepare>,
    /// The run user in numbers, once known.
    pub run_as: Option<String>,
    pub config: ContainerCreateBody,
    pub hc: HostConfig,
    pub expect: Expectation,
    pub image: Option<ImageRef>,
    pub seccomp: SeccompSource,
    /// How the container is driven (streams decide some create fields too).
    pub lifecycle: Lifecycle,
}

impl<'a> Hardening<'a> {
    pub fn refuse(&mut self, r: Refusal) {
        self.refusals.push(r);
    }

    pub fn decide(&mut self, control: &str, value: impl Into<String>, source: Source) {
        self.decisions.push(Decision { control: control.into(), value: value.into(), source });
    }

    /// The source for a value the profile set.
    pub fn profile_source(&self, key: &str) -> Source {
        Source::Profile { key: key.into(), file: self.profile.origin(key).into() }
    }

    pub fn rule(text: &str) -> Source {
        Source::Rule { rule: text.into() }
    }

    pub fn flag(text: impl Into<String>) -> Source {
        Source::Flag { flag: text.into() }
    }

    pub fn allows_flag(&self, name: &str) -> bool {
        self.profile.allow_flags.iter().any(|f| f == name)
    }
}

/// Decides everything: the hardened Plan, or every reason to refuse.
pub fn harden(req: &RunRequest, profile: &Profile, host: &Host) -> Result<Plan, Vec<Refusal>> {
    let mut h = Hardening {
        req,
        profile,
        host,
        refusals: Vec::new(),
        decisions: Vec::new(),
        notices: Vec::new(),
        warnings: Vec::new(),
        writable: Vec::new(),
        prepare: Vec::new(),
        run_as: None,
        config: ContainerCreateBody::default(),
        hc: HostConfig::default(),
        expect: Expectation::default(),
        image: None,
        seccomp: SeccompSource::Bundled(profile.seccomp.clone()),
        lifecycle: lifecycle(req),
    };
    image::apply(&mut h);
    repeated::apply(&mut h);
    identity::apply(&mut h);
    isolation::apply(&mut h);
    paths::apply(&mut h);
    storage::apply(&mut h);
    writable::apply(&mut h);
    network::apply(&mut h);
    logging::apply(&mut h);
    limits::apply(&mut h);
    intent::apply(&mut h);
    if !h.refusals.is_empty() {
        return Err(h.refusals);
    }
    let mut config = h.config;
    config.host_config = Some(h.hc);
    Ok(Plan {
        name: req.name.clone(),
        image: h.image.expect("image is set when nothing was refused"),
        create: config,
        decisions: h.decisions,
        notices: h.notices,
        warnings: h.warnings,
        writable: h.writable,
        prepare: h.prepare,
        run_as: h.run_as,
        lifecycle: h.lifecycle,
        expect: h.expect,
        seccomp: h.seccomp,
    })
}

/// Stream and driving options, following the docker CLI's rules for `-a`, `-i`, `-d`.
fn lifecycle(req: &RunRequest) -> Lifecycle {
    let explicit = |s: &str| req.attach.iter().any(|a| a == s);
    let default_streams = req.attach.is_empty();
    let (stdin, stdout, stderr) = if req.detach {
        (false, false, false)
    } else {
        (
            explicit("stdin") || req.interactive,
            default_streams || explicit("stdout"),
            default_streams || explicit("stderr"),
        )
    };
    Lifecycle {
        detach: req.detach,
        interactive: req.interactive,
        tty: req.tty,
        auto_remove: req.auto_remove,
        attach_stdin: stdin,
        attach_stdout: stdout,
        attach_stderr: stderr,
        sig_proxy: req.sig_proxy.unwrap_or(true),
        detach_keys: req.detach_keys.clone(),
        pull: req.pull,
        quiet: req.quiet,
        platform: req.platform.clone(),
        cidfile: req.cidfile.as_ref().map(|p| p.display().to_string()),
    }
}

/// Collects `(k, v)` pairs into the HashMap type the Engine API models use.
pub(crate) fn hashmap<'s>(pairs: impl IntoIterator<Item = (&'s String, &'s String)>) -> HashMap<String, String> {
    pairs.into_iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}
