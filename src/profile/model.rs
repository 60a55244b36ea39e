//! The resolved profile: every `extends` applied, built-in defaults filled in, values
//! checked, and for each key the file that set it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::load::{Kind, Untrusted};
use super::schema::{self, ProfileFile, SecretsRule, TagRule, UNLIMITED};
use crate::capability::Capability;
use crate::policy::host_paths::exposed_system_path;
use crate::policy::volume::SAFE_TYPES;
use crate::request::{NetworkAttachment, NetworkMode, UserSpec, mount, path, ulimit};

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
/// `None` means no default (or no ceiling); [`schema::UNLIMITED`] is an explicit "unlimited".
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

/// A problem with a profile value, before the loader adds the file and line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    pub key: String,
    /// The offending value as written, to find its line.
    pub value: String,
    pub message: String,
}

fn invalid(key: &str, value: impl Into<String>, message: impl Into<String>) -> Invalid {
    Invalid { key: key.into(), value: value.into(), message: message.into() }
}

fn to_i64<T>(b: Option<schema::Bounds<T>>, f: fn(T) -> i64) -> Option<schema::Bounds<i64>> {
    b.map(|b| schema::Bounds { default: b.default.map(f), max: b.max.map(f) })
}

/// A seccomp file as the loader read it: `None` when there is no such file, else its
/// path and text, or why it cannot be used.
pub type SeccompFile = Option<Result<(PathBuf, String), String>>;

/// Turns a merged profile file into a `Profile`, filling built-in defaults and
/// checking every value. `seccomp_file` reads a seccomp path the profile names.
pub fn resolve(
    name: &str,
    file: ProfileFile,
    origins: BTreeMap<String, Origin>,
    seccomp_file: impl Fn(&str) -> SeccompFile,
) -> Result<Profile, Invalid> {
    let user = file.user.unwrap_or_default();
    let allow_root = user.allow_root.unwrap_or(false);
    let default_user = match user.default.as_deref() {
        None => DefaultUser::Fixed(UserSpec::parse("65532:65532").expect("valid built-in user")),
        Some("image") => DefaultUser::Image,
        Some(spec) => {
            let u = UserSpec::parse(spec).map_err(|e| invalid("user.default", spec, e))?;
            if u.is_root() && !allow_root {
                return Err(invalid("user.default", spec, "runs as root; pick a non-root UID:GID"));
            }
            DefaultUser::Fixed(u)
        }
    };

    let caps = file.capabilities.unwrap_or_default();
    let cap_list = |key: &str, names: Option<Vec<String>>| -> Result<Vec<Capability>, Invalid> {
        let mut out = Vec::new();
        for n in names.unwrap_or_default() {
            let c = Capability::parse(&n).map_err(|e| invalid(key, &n, e))?;
            if c.is_host_root() {
                return Err(invalid(key, &n, format!("{c} amounts to root on the host and can never be granted")));
            }
            out.push(c);
        }
        Ok(out)
    };
    let capabilities = Capabilities {
        add: cap_list("capabilities.add", caps.add)?,
        allow: cap_list("capabilities.allow", caps.allow)?,
    };

    let fs = file.filesystem.unwrap_or_default();
    let mut tmpfs = Vec::new();
    for (target, options) in fs.tmpfs.unwrap_or_default() {
        let path = path::clean(&target);
        let spec = if options.is_empty() { path.clone() } else { format!("{path}:{options}") };
        let parsed = mount::parse_tmpfs(&spec).map_err(|e| invalid("filesystem.tmpfs", &path, e))?;
        if let Some(fs) = crate::policy::paths::kernel_fs(&parsed.0) {
            return Err(invalid("filesystem.tmpfs", &path, format!("covers the kernel's {fs}; mount it elsewhere")));
        }
        tmpfs.push(parsed);
    }
    let binds = fs.binds.unwrap_or_default();
    let mut binds_allow = Vec::new();
    for p in binds.allow.unwrap_or_default() {
        if !p.starts_with('/') {
            return Err(invalid("filesystem.binds.allow", &p, "must be an absolute path"));
        }
        let clean = mount::clean(Path::new(&p));
        if let Some(sys) = exposed_system_path(&clean) {
            return Err(invalid(
                "filesystem.binds.allow",
                &p,
                format!("exposes the host's {sys}, which can never be bound into a container"),
            ));
        }
        binds_allow.push(clean);
    }
    if !fs.tmpfs_exec.unwrap_or(false)
        && let Some((path, opts)) =
            tmpfs.iter().find(|(_, o)| o.split(',').any(|x| matches!(x, "exec" | "suid" | "dev")))
    {
        return Err(invalid(
            "filesystem.tmpfs",
            path,
            format!("{opts} undoes noexec/nosuid/nodev; set filesystem.tmpfs_exec: true if that is really meant"),
        ));
    }
    let filesystem = Filesystem {
        read_only: fs.read_only.unwrap_or(true),
        tmpfs,
        tmpfs_exec: fs.tmpfs_exec.unwrap_or(false),
        binds_project: binds.project.unwrap_or(true),
        binds_allow,
        binds_propagation: binds.propagation.unwrap_or(false),
        volume_drivers: fs.volume_drivers.unwrap_or_else(|| vec!["local".into()]),
        image_tmpfs: {
            let it = fs.image_tmpfs.unwrap_or_default();
            let size = it.size.map_or(16 << 20, |b| b.0);
            if size <= 0 {
                return Err(invalid("filesystem.image_tmpfs.size", "", "must be a size such as 16m"));
            }
            ImageTmpfs { size, max: it.max.unwrap_or(8) as usize }
        },
        volume_types: fs.volume_types.unwrap_or_else(|| SAFE_TYPES.iter().map(|t| t.to_string()).collect()),
    };
    if let Some(t) = filesystem.volume_types.iter().find(|t| !SAFE_TYPES.contains(&t.as_str())) {
        return Err(invalid(
            "filesystem.volume_types",
            t,
            format!(
                "is a host device or kernel filesystem, never mounted as a volume; known: {}",
                SAFE_TYPES.join(", ")
            ),
        ));
    }

    let seccomp_section = file.seccomp.unwrap_or_default();
    let seccomp = seccomp_section.profile.unwrap_or_else(|| "hardrun-default".into());
    if seccomp == "unconfined" {
        return Err(invalid("seccomp.profile", &seccomp, "unconfined turns seccomp off, which hardrun never does"));
    }
    let (seccomp, seccomp_text) = if crate::seccomp::bundled(&seccomp).is_some() {
        (seccomp, None)
    } else {
        match seccomp_file(&seccomp) {
            None => {
                return Err(invalid(
                    "seccomp.profile",
                    &seccomp,
                    "is neither a bundled profile (hardrun-default, hardrun-strict) nor a readable file",
                ));
            }
            Some(Err(why)) => return Err(invalid("seccomp.profile", &seccomp, why)),
            Some(Ok((path, text))) => (path.display().to_string(), Some(text)),
        }
    };
    let seccomp_escape_routes = seccomp_section.allow_escape_routes.unwrap_or_default();
    for route in &seccomp_escape_routes {
        if !crate::seccomp::ESCAPE_ROUTES.contains(&route.as_str()) {
            return Err(invalid(
                "seccomp.allow_escape_routes",
                route,
                format!("is not an escape route hardrun knows ({})", crate::seccomp::ESCAPE_ROUTES.join(", ")),
            ));
        }
    }

    let apparmor = file.apparmor.unwrap_or_default();
    let apparmor_profile = apparmor.profile.unwrap_or_else(|| "hardrun-default".into());
    if apparmor_profile == "unconfined" {
        return Err(invalid(
            "apparmor.profile",
            &apparmor_profile,
            "unconfined turns AppArmor off; omit the key instead",
        ));
    }

    let res = file.resources.unwrap_or_default();
    let limit = |key: &str, b: Option<schema::Bounds<i64>>, built_in: Limit| -> Result<Limit, Invalid> {
        let b = b.unwrap_or_default();
        let l = Limit { default: b.default.or(built_in.default), max: b.max.or(built_in.max) };
        if let (Some(d), Some(m)) = (l.default, l.max)
            && m != UNLIMITED
            && (d == UNLIMITED || d > m)
        {
            return Err(invalid(&format!("{key}.default"), "", "is above the profile's own max"));
        }
        Ok(l)
    };
    if res.memory.as_ref().is_some_and(|m| m.default == Some(schema::Bytes(0)) || m.max == Some(schema::Bytes(0))) {
        return Err(invalid(
            "resources.memory",
            "",
            "0 bytes means no limit to docker: write `unlimited` if that is meant",
        ));
    }
    let memory = limit("resources.memory", to_i64(res.memory, |b| b.0), Limit { default: Some(512 << 20), max: None })?;
    let cpus = limit("resources.cpus", to_i64(res.cpus, |c| c.0), Limit { default: Some(1_000_000_000), max: None })?;
    let pids = limit("resources.pids", to_i64(res.pids, |c| c.0), Limit { default: Some(256), max: Some(32768) })?;
    if pids.default == Some(UNLIMITED) || pids.max == Some(UNLIMITED) || pids.default.is_none() {
        return Err(invalid(
            "resources.pids",
            "pids",
            "must keep a finite default and max: a fork bomb would take the host",
        ));
    }
    let swap_max = res.swap.and_then(|s| s.max).map(|b| b.0).unwrap_or(0);
    let mut ulimits = Vec::new();
    for (name, u) in res.ulimits.unwrap_or_default() {
        let known = ulimit::NAMES
            .iter()
            .find(|n| **n == name)
            .ok_or_else(|| invalid("resources.ulimits", &name, format!("unknown ulimit {name:?}")))?;
        let key = format!("resources.ulimits.{name}");
        let (default, max) = match (u.soft.or(u.hard), u.hard.or(u.soft)) {
            (Some(soft), Some(hard)) => (Some((soft, hard)), u.max.unwrap_or(hard)),
            _ => (None, u.max.ok_or_else(|| invalid(&key, &name, "needs soft/hard or max: a ceiling for --ulimit"))?),
        };
        if default.is_some_and(|(soft, hard)| soft < 0 || soft > hard || hard > max) || max < 0 {
            return Err(invalid(&key, &name, "needs 0 <= soft <= hard <= max"));
        }
        ulimits.push(UlimitRule { name: known, default, max });
    }

    let net = file.network.unwrap_or_default();
    let allow = net.allow.unwrap_or_else(|| vec!["bridge".into(), "none".into(), "user".into()]);
    let shares = |n: &str| {
        matches!(
            NetworkAttachment { name: n.to_string(), ..Default::default() }.mode(),
            NetworkMode::Host | NetworkMode::Container(_)
        )
    };
    for n in &allow {
        if shares(n) {
            return Err(invalid(
                "network.allow",
                n,
                "shares a namespace with the host or another container; never allowed",
            ));
        }
    }
    let default = net.default.unwrap_or_else(|| "hardrun".into());
    let max_ports = match net.max_ports {
        None => Some(64),
        Some(schema::Count(UNLIMITED)) => None,
        Some(schema::Count(n)) => Some(n as u64),
    };
    let network = Network { default, allow, publish: net.publish.unwrap_or(true), max_ports };
    if shares(&network.default) {
        return Err(invalid("network.default", &network.default, "shares a namespace; never allowed"));
    }

    let img = file.image.unwrap_or_default();
    let scan = match img.scan {
        None => None,
        Some(s) => {
            let fail_on = s.fail_on.unwrap_or_else(|| "CRITICAL".into()).to_ascii_uppercase();
            if !SEVERITIES.contains(&fail_on.as_str()) {
                return Err(invalid("image.scan.fail_on", &fail_on, "use UNKNOWN, LOW, MEDIUM, HIGH or CRITICAL"));
            }
            let scanner = s.scanner.ok_or_else(|| invalid("image.scan.scanner", "scan", "names no scanner"))?;
            Some(Scan { scanner, fail_on, required: s.required.unwrap_or(true) })
        }
    };
    let image = ImageRule {
        tags: img.tags.unwrap_or(TagRule::Fixed),
        require_digest: img.require_digest.unwrap_or(false),
        registries: img.registries.unwrap_or_default(),
        secrets: img.secrets.unwrap_or(SecretsRule::Refuse),
        minimal: img.minimal.unwrap_or(false),
        scan,
        signatures: Default::default(),
    };

    if file.no_new_privileges == Some(false) {
        return Err(invalid(
            "no_new_privileges",
            "false",
            "hardrun never turns no-new-privileges off: setuid programs would regain dropped privileges",
        ));
    }
    let annotations_allow = file.annotations.and_then(|s| s.allow).unwrap_or_default();
    for a in &annotations_allow {
        if a == "*" || a.starts_with("cdi.k8s.io") || "cdi.k8s.io".starts_with(a.trim_end_matches('*')) {
            return Err(invalid(
                "annotations.allow",
                a,
                "would let --annotation inject devices (CDI), which hardrun never allows; list exact keys",
            ));
        }
    }
    let log = file.logging.unwrap_or_default();
    let logging = Logging {
        drivers: log.drivers.unwrap_or_else(|| DEFAULT_LOG_DRIVERS.iter().map(|d| d.to_string()).collect()),
        options: log.options.unwrap_or_else(|| DEFAULT_LOG_OPTIONS.iter().map(|d| d.to_string()).collect()),
        max_size: match log.max_size {
            None => 100 << 20,
            Some(schema::Bytes(n)) if n > 0 => n,
            Some(_) => {
                return Err(invalid("logging.max_size", "", "must be a finite size: logs would fill the host's disk"));
            }
        },
        max_file: match log.max_file {
            None => 10,
            Some(schema::Count(n)) if n > 0 => n,
            Some(_) => {
                return Err(invalid("logging.max_file", "", "must be a finite count: logs would fill the host's disk"));
            }
        },
    };
    let allow_flags = file.allow_flags.unwrap_or_default();
    for f in &allow_flags {
        if !LOOSENING_FLAGS.contains(&f.as_str()) {
            return Err(invalid("allow_flags", f, format!("unknown entry; known: {}", LOOSENING_FLAGS.join(", "))));
        }
    }

    Ok(Profile {
        name: name.to_string(),
        description: file.description.unwrap_or_default(),
        origins,
        user: UserRule { default: default_user, allow_root, from_image: user.from_image.unwrap_or(true) },
        capabilities,
        filesystem,
        no_new_privileges: true,
        seccomp,
        seccomp_text,
        seccomp_allow_custom: seccomp_section.allow_custom.unwrap_or(false),
        seccomp_escape_routes,
        apparmor: Some(apparmor_profile),
        apparmor_required: apparmor.required.unwrap_or(false),
        apparmor_allow_custom: apparmor.allow_custom.unwrap_or(false),
        resources: Resources { memory, swap_max, cpus, pids, ulimits },
        network,
        image,
        sysctls_allow: file.sysctls.and_then(|s| s.allow).unwrap_or_default(),
        annotations_allow,
        logging,
        runtimes_allow: file.runtimes.and_then(|s| s.allow).unwrap_or_default(),
        allow_flags,
        files: Vec::new(),
        untrusted: Vec::new(),
    })
}
