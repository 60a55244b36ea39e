//! From a merged profile file to the `Profile` policy reads: one function per section of
//! the file (user, capabilities, filesystem, seccomp, AppArmor, resources, network,
//! image, the allow-lists), each filling built-in defaults and checking its values.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::model::{
    Capabilities, DEFAULT_LOG_DRIVERS, DEFAULT_LOG_OPTIONS, DefaultUser, Filesystem, ImageRule, ImageTmpfs,
    LOOSENING_FLAGS, Limit, Logging, Network, Origin, Profile, Resources, SEVERITIES, Scan, UlimitRule, UserRule,
};
use super::schema::{self, ProfileFile, SecretsRule, TagRule, UNLIMITED};
use crate::capability::Capability;
use crate::policy::host_paths::exposed_system_path;
use crate::policy::volume::SAFE_TYPES;
use crate::request::{NetworkAttachment, NetworkMode, UserSpec, mount, path, ulimit};

/// A problem with a profile value, before the loader adds the file and line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    pub key: String,
    /// The offending value as written, to find its line.
    pub value: String,
    pub message: String,
}

pub(super) fn invalid(key: &str, value: impl Into<String>, message: impl Into<String>) -> Invalid {
    Invalid { key: key.into(), value: value.into(), message: message.into() }
}

fn to_i64<T>(b: Option<schema::Bounds<T>>, f: fn(T) -> i64) -> Option<schema::Bounds<i64>> {
    b.map(|b| schema::Bounds { default: b.default.map(f), max: b.max.map(f) })
}

/// A seccomp file as the loader read it: `None` when there is no such file, else its
/// path and text, or why it cannot be used.
pub type SeccompFile = Option<Result<(PathBuf, String), String>>;

/// Turns a merged profile file into a `Profile`, filling built-in defaults and
/// checking every value, one section of the file after another (the first invalid value
/// is the error). `seccomp_file` reads a seccomp path the profile names.
pub fn resolve(
    name: &str,
    file: ProfileFile,
    origins: BTreeMap<String, Origin>,
    seccomp_file: impl Fn(&str) -> SeccompFile,
) -> Result<Profile, Invalid> {
    let user = user(file.user.unwrap_or_default())?;
    let capabilities = capabilities(file.capabilities.unwrap_or_default())?;
    let filesystem = filesystem(file.filesystem.unwrap_or_default())?;
    let seccomp = seccomp(file.seccomp.unwrap_or_default(), seccomp_file)?;
    let apparmor = apparmor(file.apparmor.unwrap_or_default())?;
    let resources = resources(file.resources.unwrap_or_default())?;
    let network = network(file.network.unwrap_or_default())?;
    let image = image(file.image.unwrap_or_default())?;
    no_new_privileges(file.no_new_privileges)?;
    let annotations_allow = annotations(file.annotations.and_then(|s| s.allow).unwrap_or_default())?;
    let logging = logging(file.logging.unwrap_or_default())?;
    let allow_flags = allow_flags(file.allow_flags.unwrap_or_default())?;

    Ok(Profile {
        name: name.to_string(),
        description: file.description.unwrap_or_default(),
        origins,
        user,
        capabilities,
        filesystem,
        no_new_privileges: true,
        seccomp: seccomp.profile,
        seccomp_text: seccomp.text,
        seccomp_allow_custom: seccomp.allow_custom,
        seccomp_escape_routes: seccomp.escape_routes,
        apparmor: Some(apparmor.profile),
        apparmor_required: apparmor.required,
        apparmor_allow_custom: apparmor.allow_custom,
        resources,
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

/// `user`: the default when `--user` is absent, never root unless root is allowed.
fn user(user: schema::UserSection) -> Result<UserRule, Invalid> {
    let allow_root = user.allow_root.unwrap_or(false);
    let default = match user.default.as_deref() {
        None => DefaultUser::Fixed(UserSpec { user: "65532".into(), group: Some("65532".into()) }),
        Some("image") => DefaultUser::Image,
        Some(spec) => {
            let u = UserSpec::parse(spec).map_err(|e| invalid("user.default", spec, e))?;
            if u.is_root() && !allow_root {
                return Err(invalid("user.default", spec, "runs as root; pick a non-root UID:GID"));
            }
            DefaultUser::Fixed(u)
        }
    };
    Ok(UserRule { default, allow_root, from_image: user.from_image.unwrap_or(true) })
}

/// `capabilities`: what every container gets and what `--cap-add` may add, never one
/// that amounts to host root.
fn capabilities(caps: schema::CapabilitiesSection) -> Result<Capabilities, Invalid> {
    let list = |key: &str, names: Option<Vec<String>>| -> Result<Vec<Capability>, Invalid> {
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
    Ok(Capabilities { add: list("capabilities.add", caps.add)?, allow: list("capabilities.allow", caps.allow)? })
}

/// `filesystem`: the tmpfs mounts (noexec unless said otherwise, never over the
/// kernel's filesystems), the binds allowed (never a host system path), the volumes.
fn filesystem(fs: schema::FilesystemSection) -> Result<Filesystem, Invalid> {
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
    Ok(filesystem)
}

/// The `seccomp` section as the profile keeps it (flat in `Profile`).
struct SeccompRule {
    /// A bundled name or the path of the file read.
    profile: String,
    text: Option<String>,
    allow_custom: bool,
    escape_routes: Vec<String>,
}

/// `seccomp`: a bundled profile or a readable file, never unconfined; only escape
/// routes hardrun knows may be let through.
fn seccomp(section: schema::SeccompSection, file: impl Fn(&str) -> SeccompFile) -> Result<SeccompRule, Invalid> {
    let named = section.profile.unwrap_or_else(|| "hardrun-default".into());
    if named == "unconfined" {
        return Err(invalid("seccomp.profile", &named, "unconfined turns seccomp off, which hardrun never does"));
    }
    let (profile, text) = if crate::seccomp::bundled(&named).is_some() {
        (named, None)
    } else {
        match file(&named) {
            None => {
                return Err(invalid(
                    "seccomp.profile",
                    &named,
                    "is neither a bundled profile (hardrun-default, hardrun-strict) nor a readable file",
                ));
            }
            Some(Err(why)) => return Err(invalid("seccomp.profile", &named, why)),
            Some(Ok((path, text))) => (path.display().to_string(), Some(text)),
        }
    };
    let escape_routes = section.allow_escape_routes.unwrap_or_default();
    for route in &escape_routes {
        if !crate::seccomp::ESCAPE_ROUTES.contains(&route.as_str()) {
            return Err(invalid(
                "seccomp.allow_escape_routes",
                route,
                format!("is not an escape route hardrun knows ({})", crate::seccomp::ESCAPE_ROUTES.join(", ")),
            ));
        }
    }
    Ok(SeccompRule { profile, text, allow_custom: section.allow_custom.unwrap_or(false), escape_routes })
}

/// The `apparmor` section as the profile keeps it (flat in `Profile`).
struct AppArmorRule {
    profile: String,
    required: bool,
    allow_custom: bool,
}

/// `apparmor`: a profile name, never unconfined.
fn apparmor(section: schema::AppArmorSection) -> Result<AppArmorRule, Invalid> {
    let profile = section.profile.unwrap_or_else(|| "hardrun-default".into());
    if profile == "unconfined" {
        return Err(invalid("apparmor.profile", &profile, "unconfined turns AppArmor off; omit the key instead"));
    }
    Ok(AppArmorRule {
        profile,
        required: section.required.unwrap_or(false),
        allow_custom: section.allow_custom.unwrap_or(false),
    })
}

/// `resources`: each limit's default within its own ceiling; memory never 0 (docker's
/// "no limit"); pids always finite; ulimits only the known ones, with a ceiling.
fn resources(res: schema::ResourcesSection) -> Result<Resources, Invalid> {
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
    Ok(Resources { memory, swap_max, cpus, pids, ulimits })
}

/// `network`: the default and the allowed networks, never one that shares the host's
/// or another container's namespace; a ceiling on published ports.
fn network(net: schema::NetworkSection) -> Result<Network, Invalid> {
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
    Ok(network)
}

/// `image`: which references, registries and contents the gate accepts, and the
/// scanner it runs.
fn image(img: schema::ImageSection) -> Result<ImageRule, Invalid> {
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
    Ok(ImageRule {
        tags: img.tags.unwrap_or(TagRule::Fixed),
        require_digest: img.require_digest.unwrap_or(false),
        registries: img.registries.unwrap_or_default(),
        secrets: img.secrets.unwrap_or(SecretsRule::Refuse),
        minimal: img.minimal.unwrap_or(false),
        scan,
        // Filled by the loader, which reads the key files.
        signatures: Default::default(),
    })
}

/// `no_new_privileges`: may be said, never turned off.
fn no_new_privileges(value: Option<bool>) -> Result<(), Invalid> {
    match value {
        Some(false) => Err(invalid(
            "no_new_privileges",
            "false",
            "hardrun never turns no-new-privileges off: setuid programs would regain dropped privileges",
        )),
        _ => Ok(()),
    }
}

/// `annotations.allow`: exact keys or prefixes, never ones that reach CDI devices.
fn annotations(allow: Vec<String>) -> Result<Vec<String>, Invalid> {
    for a in &allow {
        if a == "*" || a.starts_with("cdi.k8s.io") || "cdi.k8s.io".starts_with(a.trim_end_matches('*')) {
            return Err(invalid(
                "annotations.allow",
                a,
                "would let --annotation inject devices (CDI), which hardrun never allows; list exact keys",
            ));
        }
    }
    Ok(allow)
}

/// `logging`: the drivers and options allowed, and finite bounds on what is kept.
fn logging(log: schema::LoggingSection) -> Result<Logging, Invalid> {
    Ok(Logging {
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
    })
}

/// `allow_flags`: only the loosening flags hardrun knows.
fn allow_flags(flags: Vec<String>) -> Result<Vec<String>, Invalid> {
    if let Some(f) = flags.iter().find(|f| !LOOSENING_FLAGS.contains(&f.as_str())) {
        return Err(invalid("allow_flags", f, format!("unknown entry; known: {}", LOOSENING_FLAGS.join(", "))));
    }
    Ok(flags)
}
