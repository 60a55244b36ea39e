//! Storage flags: `-v/--volume`, `--mount` (CSV) and `--tmpfs`, parsed as the docker CLI
//! parses them, including its resolution of relative bind sources.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use super::{gobool, size};

/// Where a `-v` mount comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VolumeSource {
    /// A host path, made absolute and cleaned as the docker CLI does.
    Host(PathBuf),
    /// A named volume.
    Named(String),
    /// `-v /data`: an anonymous volume.
    Anonymous,
}

/// One `-v SRC:DST[:MODE]` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeSpec {
    pub source: VolumeSource,
    pub target: String,
    /// Comma-separated modes as typed (`ro`, `rw,z`, `rshared`...), possibly empty.
    pub mode: String,
}

impl VolumeSpec {
    pub fn propagation(&self) -> Option<&str> {
        self.mode.split(',').find(|m| PROPAGATIONS.contains(m))
    }

    /// The `HostConfig.Binds` entry the docker CLI would send (none for anonymous volumes).
    pub fn bind_string(&self) -> Option<String> {
        let source = match &self.source {
            VolumeSource::Host(p) => p.display().to_string(),
            VolumeSource::Named(n) => n.clone(),
            VolumeSource::Anonymous => return None,
        };
        Some(match self.mode.as_str() {
            "" => format!("{source}:{}", self.target),
            mode => format!("{source}:{}:{mode}", self.target),
        })
    }
}

const PROPAGATIONS: [&str; 6] = ["shared", "rshared", "slave", "rslave", "private", "rprivate"];

/// Makes `path` absolute against `cwd` and removes `.` and `..` lexically, like Go's
/// `filepath.Abs`. Symlinks are left for the host layer to resolve.
pub fn absolute(path: &str, cwd: &Path) -> PathBuf {
    let joined = if Path::new(path).is_absolute() { PathBuf::from(path) } else { cwd.join(path) };
    clean(&joined)
}

/// Lexical clean of an absolute path: `/a/./b/../c` is `/a/c`, `/..` is `/`.
pub fn clean(path: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for c in path.components() {
        match c {
            Component::Normal(part) => out.push(part),
            Component::ParentDir => {
                out.pop();
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    out
}

fn check_target(target: &str, what: &str) -> Result<(), String> {
    if !target.starts_with('/') {
        return Err(format!("{what}: destination {target:?} must be an absolute path"));
    }
    if super::path::clean(target) == "/" {
        return Err(format!("{what}: destination can't be '/'"));
    }
    Ok(())
}

fn valid_volume_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && name.len() >= 2
        && chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
}

/// Parses one `-v` value.
pub fn parse_volume(spec: &str, cwd: &Path) -> Result<VolumeSpec, String> {
    let what = format!("-v {spec}");
    let parts: Vec<&str> = spec.split(':').collect();
    let (source, target, mode) = match parts.as_slice() {
        [target] => (None, *target, ""),
        [source, target] => (Some(*source), *target, ""),
        [source, target, mode] => (Some(*source), *target, *mode),
        _ => return Err(format!("{what}: invalid volume specification (expected SRC:DST[:MODE])")),
    };
    check_target(target, &what)?;
    let source = match source {
        None => VolumeSource::Anonymous,
        Some("") => return Err(format!("{what}: the source is empty")),
        Some(s) if s.starts_with('/') || s.starts_with('.') => VolumeSource::Host(absolute(s, cwd)),
        Some(s) if s.starts_with('~') => {
            return Err(format!("{what}: '~' is not expanded here; write the absolute path ($HOME/...)"));
        }
        Some(s) if valid_volume_name(s) => VolumeSource::Named(s.to_string()),
        Some(s) => {
            return Err(format!(
                "{what}: {s:?} is neither an absolute/relative path (start it with ./) nor a valid volume name"
            ));
        }
    };
    check_volume_mode(mode, &source).map_err(|e| format!("{what}: {e}"))?;
    Ok(VolumeSpec { source, target: target.to_string(), mode: mode.to_string() })
}

fn check_volume_mode(mode: &str, source: &VolumeSource) -> Result<(), String> {
    if mode.is_empty() {
        return Ok(());
    }
    let (mut rw, mut label, mut propagation, mut consistency) = (0, 0, 0, 0);
    for m in mode.split(',') {
        match m {
            "rw" | "ro" => rw += 1,
            "z" | "Z" => label += 1,
            "consistent" | "cached" | "delegated" => consistency += 1,
            "nocopy" if matches!(source, VolumeSource::Host(_)) => {
                return Err("nocopy applies to volumes, not to bind mounts".into());
            }
            "nocopy" => {}
            m if PROPAGATIONS.contains(&m) => propagation += 1,
            other => return Err(format!("invalid mode {other:?}")),
        }
    }
    if rw > 1 || label > 1 || propagation > 1 || consistency > 1 {
        return Err(format!("invalid mode {mode:?}: conflicting options"));
    }
    Ok(())
}

/// What a `--mount` mounts (the Engine API's `Mount.Type` values Linux accepts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MountKind {
    Bind,
    #[default]
    Volume,
    Tmpfs,
    Image,
}

impl MountKind {
    /// The kind a `type=` value or an inspect `Type` names; `None` for kinds Linux has not.
    pub fn parse(s: &str) -> Option<MountKind> {
        match s.to_ascii_lowercase().as_str() {
            "bind" => Some(MountKind::Bind),
            "volume" => Some(MountKind::Volume),
            "tmpfs" => Some(MountKind::Tmpfs),
            "image" => Some(MountKind::Image),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            MountKind::Bind => "bind",
            MountKind::Volume => "volume",
            MountKind::Tmpfs => "tmpfs",
            MountKind::Image => "image",
        }
    }
}

impl std::fmt::Display for MountKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One `--mount` value, in the Engine API's `Mount` vocabulary. Map-valued keys keep the
/// last value, as the docker CLI builds the map the daemon gets; every key given more
/// than once is recorded in `repeated`, for policy to refuse.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MountSpec {
    pub kind: MountKind,
    pub source: Option<String>,
    /// As typed; policy cleans it (Go's `path.Clean`) before judging and sending it.
    pub target: String,
    pub read_only: bool,
    pub consistency: Option<String>,
    pub bind_propagation: Option<String>,
    pub bind_non_recursive: bool,
    pub bind_create_host_path: bool,
    pub volume_no_copy: bool,
    pub volume_labels: BTreeMap<String, String>,
    pub volume_driver: Option<String>,
    pub volume_options: BTreeMap<String, String>,
    pub volume_subpath: Option<String>,
    pub tmpfs_size: Option<i64>,
    pub tmpfs_mode: Option<i64>,
    /// Keys given more than once (`target`, `volume-opt type`).
    pub repeated: Vec<String>,
}

/// Splits a CSV record as Go's encoding/csv does for one line: commas separate fields,
/// a field may be double-quoted, `""` inside quotes is a quote.
pub(crate) fn csv_fields(s: &str) -> Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        let mut field = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    Some('"') => break,
                    Some(c) => field.push(c),
                    None => return Err("unterminated quote".into()),
                }
            }
            match chars.next() {
                None => {
                    fields.push(field);
                    return Ok(fields);
                }
                Some(',') => {}
                Some(_) => return Err("extraneous characters after a quoted field".into()),
            }
        } else {
            loop {
                match chars.next() {
                    Some(',') => break,
                    Some('"') => return Err("bare \" in a field (quote the whole field)".into()),
                    Some(c) => field.push(c),
                    None => {
                        fields.push(field);
                        return Ok(fields);
                    }
                }
            }
        }
        fields.push(field);
    }
}

fn flag_bool(key: &str, value: Option<&str>) -> Result<bool, String> {
    match value {
        None => Ok(true),
        Some(v) => gobool::parse(v).ok_or_else(|| format!("invalid value for {key}: {v:?} (expected true or false)")),
    }
}

fn key_value(key: &str, value: Option<&str>) -> Result<(String, String), String> {
    let v = value.ok_or_else(|| format!("{key} needs a value"))?;
    match v.split_once('=').unwrap_or((v, "")) {
        ("", _) => Err(format!("{key} {v:?}: the key is empty")),
        (k, val) => Ok((k.to_string(), val.to_string())),
    }
}

/// The one name of a `--mount` key and its aliases, to tell when a key is repeated.
fn canonical(key: &str) -> &str {
    match key {
        "src" => "source",
        "dst" | "destination" => "target",
        "ro" => "readonly",
        "bind-recursive" => "bind-nonrecursive",
        other => other,
    }
}

/// Parses one `--mount` value.
pub fn parse_mount(spec: &str, cwd: &Path) -> Result<MountSpec, String> {
    let what = format!("--mount {spec}");
    let fields = csv_fields(spec).map_err(|e| format!("{what}: {e}"))?;
    let mut m = MountSpec::default();
    let mut target = None;
    let mut seen: Vec<String> = Vec::new();
    let mut note = |m: &mut MountSpec, key: String| {
        if seen.contains(&key) {
            if !m.repeated.contains(&key) {
                m.repeated.push(key);
            }
        } else {
            seen.push(key);
        }
    };
    for field in &fields {
        let (key, value) = match field.split_once('=') {
            Some((k, v)) => (k.trim().to_ascii_lowercase(), Some(v.trim())),
            None => (field.trim().to_ascii_lowercase(), None),
        };
        let need = |v: Option<&str>| v.map(str::to_string).ok_or_else(|| format!("{what}: {key} needs a value"));
        match key.as_str() {
            "volume-label" | "volume-opt" => {}
            k => note(&mut m, canonical(k).to_string()),
        }
        match key.as_str() {
            "type" => {
                let kind = need(value)?;
                m.kind = match kind.to_ascii_lowercase().as_str() {
                    "npipe" | "cluster" => return Err(format!("{what}: type={kind} is not supported on Linux")),
                    k => MountKind::parse(k).ok_or_else(|| format!("{what}: unknown mount type {kind:?}"))?,
                };
            }
            "source" | "src" => m.source = Some(need(value)?),
            "target" | "dst" | "destination" => target = Some(need(value)?),
            "readonly" | "ro" => m.read_only = flag_bool(&key, value).map_err(|e| format!("{what}: {e}"))?,
            "consistency" => m.consistency = Some(need(value)?),
            "bind-propagation" => {
                let p = need(value)?;
                if !PROPAGATIONS.contains(&p.as_str()) {
                    return Err(format!("{what}: invalid bind-propagation {p:?}"));
                }
                m.bind_propagation = Some(p);
            }
            "bind-nonrecursive" => m.bind_non_recursive = flag_bool(&key, value).map_err(|e| format!("{what}: {e}"))?,
            "bind-recursive" => match need(value)?.as_str() {
                "enabled" => m.bind_non_recursive = false,
                "disabled" => m.bind_non_recursive = true,
                other => {
                    return Err(format!("{what}: bind-recursive={other} is not supported (use enabled or disabled)"));
                }
            },
            "bind-create-host-path" => {
                m.bind_create_host_path = flag_bool(&key, value).map_err(|e| format!("{what}: {e}"))?
            }
            "volume-nocopy" => m.volume_no_copy = flag_bool(&key, value).map_err(|e| format!("{what}: {e}"))?,
            "volume-label" => {
                let (k, v) = key_value(&key, value).map_err(|e| format!("{what}: {e}"))?;
                note(&mut m, format!("volume-label {k}"));
                m.volume_labels.insert(k, v);
            }
            "volume-driver" => m.volume_driver = Some(need(value)?),
            "volume-opt" => {
                let (k, v) = key_value(&key, value).map_err(|e| format!("{what}: {e}"))?;
                note(&mut m, format!("volume-opt {k}"));
                m.volume_options.insert(k, v);
            }
            "volume-subpath" => m.volume_subpath = Some(need(value)?),
            "tmpfs-size" => {
                let v = need(value)?;
                m.tmpfs_size = Some(size::parse_bytes(&v).ok_or_else(|| format!("{what}: invalid tmpfs-size {v:?}"))?);
            }
            "tmpfs-mode" => {
                let v = need(value)?;
                let mode =
                    i64::from_str_radix(&v, 8).map_err(|_| format!("{what}: invalid tmpfs-mode {v:?} (octal)"))?;
                m.tmpfs_mode = Some(mode);
            }
            _ => return Err(format!("{what}: unexpected key {key:?}")),
        }
    }
    let target = target.ok_or_else(|| format!("{what}: target is required"))?;
    check_target(&target, &what)?;
    m.target = target;
    match m.kind {
        MountKind::Bind => {
            let src = m.source.as_deref().ok_or_else(|| format!("{what}: source is required for a bind mount"))?;
            if !src.starts_with('/') && !src.starts_with('.') {
                return Err(format!("{what}: bind source {src:?} must be an absolute path or start with ./"));
            }
            m.source = Some(absolute(src, cwd).display().to_string());
        }
        MountKind::Volume => {
            if let Some(name) = &m.source
                && !valid_volume_name(name)
            {
                return Err(format!("{what}: invalid volume name {name:?}"));
            }
        }
        MountKind::Tmpfs if m.source.is_some() => return Err(format!("{what}: a tmpfs mount takes no source")),
        MountKind::Tmpfs | MountKind::Image => {}
    }
    let option_kinds: [(MountKind, bool); 3] = [
        (MountKind::Bind, m.bind_propagation.is_some() || m.bind_non_recursive || m.bind_create_host_path),
        (
            MountKind::Volume,
            m.volume_no_copy
                || !m.volume_labels.is_empty()
                || m.volume_driver.is_some()
                || !m.volume_options.is_empty()
                || m.volume_subpath.is_some(),
        ),
        (MountKind::Tmpfs, m.tmpfs_size.is_some() || m.tmpfs_mode.is_some()),
    ];
    for (kind, used) in option_kinds {
        if used && m.kind != kind {
            return Err(format!("{what}: {kind} options cannot be used with type={}", m.kind));
        }
    }
    Ok(m)
}

/// One `--tmpfs PATH[:OPTIONS]` value.
pub fn parse_tmpfs(spec: &str) -> Result<(String, String), String> {
    let (path, options) = spec.split_once(':').unwrap_or((spec, ""));
    check_target(path, &format!("--tmpfs {spec}"))?;
    for opt in options.split(',').filter(|o| !o.is_empty()) {
        let (key, value) = opt.split_once('=').unwrap_or((opt, ""));
        let ok = match key {
            "size" => size::parse_bytes(value).is_some(),
            "mode" => u32::from_str_radix(value, 8).is_ok(),
            "uid" | "gid" | "nr_inodes" | "nr_blocks" => value.parse::<u64>().is_ok() || key.starts_with("nr_"),
            "rw" | "ro" | "exec" | "noexec" | "suid" | "nosuid" | "dev" | "nodev" | "atime" | "noatime"
            | "diratime" | "nodiratime" | "relatime" | "norelatime" | "strictatime" | "nostrictatime" | "sync"
            | "async" | "dirsync" | "mand" | "nomand" | "tmpcopyup" | "notmpcopyup" => value.is_empty(),
            _ => false,
        };
        if !ok {
            return Err(format!("--tmpfs {spec}: invalid option {opt:?}"));
        }
    }
    Ok((path.to_string(), options.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cwd() -> PathBuf {
        PathBuf::from("/home/dev/project")
    }

    #[test]
    fn volume_forms() {
        let v = parse_volume("./data:/data", &cwd()).unwrap();
        assert_eq!(v.source, VolumeSource::Host("/home/dev/project/data".into()));
        assert_eq!(v.bind_string().unwrap(), "/home/dev/project/data:/data");
        let v = parse_volume("/etc/../:/h", &cwd()).unwrap();
        assert_eq!(v.source, VolumeSource::Host("/".into()));
        let v = parse_volume("cache:/cache:ro", &cwd()).unwrap();
        assert_eq!(v.source, VolumeSource::Named("cache".into()));
        assert_eq!(v.mode, "ro");
        let v = parse_volume("/data", &cwd()).unwrap();
        assert_eq!((v.bind_string(), v.source), (None, VolumeSource::Anonymous));
        let v = parse_volume("../up:/up:rw,rshared", &cwd()).unwrap();
        assert_eq!(v.source, VolumeSource::Host("/home/dev/up".into()));
        assert_eq!(v.propagation(), Some("rshared"));
    }

    #[test]
    fn volume_errors() {
        for bad in ["", "a:b", "/x:/", "/x:/y:bogus", "/x:/y:ro,rw", "~/x:/y", "/x:/y:nocopy", "a:b:c:d", "$x:/y"] {
            assert!(parse_volume(bad, &cwd()).is_err(), "{bad}");
        }
    }

    #[test]
    fn mount_csv() {
        let m = parse_mount("type=bind,src=/var/run/docker.sock,dst=/s", &cwd()).unwrap();
        assert_eq!(
            (m.kind, m.source.as_deref(), m.target.as_str()),
            (MountKind::Bind, Some("/var/run/docker.sock"), "/s")
        );
        let m = parse_mount("type=bind,source=./x,target=/x,readonly", &cwd()).unwrap();
        assert_eq!(m.source.as_deref(), Some("/home/dev/project/x"));
        assert!(m.read_only);
        let m = parse_mount(
            "type=volume,src=vol,dst=/v,volume-opt=type=none,volume-opt=o=bind,\"volume-opt=device=/etc\"",
            &cwd(),
        )
        .unwrap();
        assert_eq!(m.volume_options.len(), 3);
        assert_eq!(m.volume_options["o"], "bind");
        assert!(m.repeated.is_empty());
        let m = parse_mount("type=tmpfs,dst=/t,tmpfs-size=64m,tmpfs-mode=1770", &cwd()).unwrap();
        assert_eq!((m.tmpfs_size, m.tmpfs_mode), (Some(64 << 20), Some(0o1770)));
        assert_eq!(parse_mount("dst=/anon", &cwd()).unwrap().kind, MountKind::Volume);
    }

    /// The docker CLI builds the driver options as a map: the last value of a key is the
    /// one the daemon gets. Every repeated key is recorded for policy.
    #[test]
    fn repeated_keys_keep_the_last_value_and_are_recorded() {
        let m = parse_mount(
            "type=volume,src=vv,dst=/h,volume-opt=type=nfs,volume-opt=device=:/x,volume-opt=type=none,\
             volume-opt=o=bind,volume-opt=device=/",
            &cwd(),
        )
        .unwrap();
        assert_eq!((m.volume_options["type"].as_str(), m.volume_options["device"].as_str()), ("none", "/"));
        assert_eq!(m.repeated, ["volume-opt type", "volume-opt device"]);
        let m = parse_mount("type=tmpfs,dst=/a,target=/b,ro,readonly=false", &cwd()).unwrap();
        assert_eq!((m.target.as_str(), m.read_only), ("/b", false));
        assert_eq!(m.repeated, ["target", "readonly"]);
        let m = parse_mount("type=volume,type=bind,src=./x,dst=/x", &cwd()).unwrap();
        assert_eq!((m.kind, m.repeated.as_slice()), (MountKind::Bind, &["type".to_string()][..]));
        assert!(parse_mount("type=volume,dst=/x,volume-opt==x", &cwd()).is_err(), "an empty key");
    }

    #[test]
    fn mount_errors() {
        for bad in [
            "type=bind,dst=/x",
            "type=bind,src=rel,dst=/x",
            "src=/x",
            "type=tmpfs,src=a,dst=/x",
            "type=bogus,dst=/x",
            "type=tmpfs,dst=/x,volume-opt=o=bind",
            "type=bind,src=/a,dst=/x,foo=bar",
            "type=bind,src=/a,dst=/x,readonly=maybe",
            "type=bind,src=\"/a,dst=/x",
        ] {
            assert!(parse_mount(bad, &cwd()).is_err(), "{bad}");
        }
    }

    #[test]
    fn tmpfs() {
        assert_eq!(parse_tmpfs("/cache:rw,size=64m").unwrap(), ("/cache".into(), "rw,size=64m".into()));
        assert_eq!(parse_tmpfs("/run").unwrap(), ("/run".into(), "".into()));
        assert!(parse_tmpfs("cache").is_err());
        assert!(parse_tmpfs("/c:size=huge").is_err());
    }
}
