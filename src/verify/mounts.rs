//! What the container's mount table must hold, derived from the create body hardrun
//! sends (not from what the user typed): every bind, volume and tmpfs, the image's
//! volumes and those of `--volumes-from`. For binds, where the source is on the host:
//! the device, filesystem and root inside that filesystem the kernel will show, read
//! from the host's own mountinfo at plan time, so a source swapped between the check
//! and the mount (a symlink race) shows as a different mount. The source is the path
//! policy judged, never resolved again: a second resolution would follow the swap.

use std::path::{Component, Path, PathBuf};

use bollard::models::{ContainerCreateBody, MountType};

use crate::policy::{Host, MountFacts};

/// One mount of the container as the plan has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlannedMount {
    /// A host path; `recursive` as docker's default rbind (its submounts come along).
    Bind {
        target: String,
        source: PathBuf,
        read_only: bool,
        recursive: bool,
    },
    /// A volume of the daemon's; `None` for an anonymous one.
    Volume {
        target: String,
        name: Option<String>,
    },
    /// A volume whose driver options mount a filesystem of that type (tmpfs, nfs).
    Filesystem {
        target: String,
        fstype: String,
    },
    Tmpfs {
        target: String,
        exec: bool,
        read_only: bool,
    },
    /// A mount hardrun cannot predict more of than its place (another volume driver).
    Any {
        target: String,
    },
}

impl PlannedMount {
    pub fn target(&self) -> &str {
        match self {
            PlannedMount::Bind { target, .. }
            | PlannedMount::Volume { target, .. }
            | PlannedMount::Filesystem { target, .. }
            | PlannedMount::Tmpfs { target, .. }
            | PlannedMount::Any { target } => target,
        }
    }
}

/// The mounts of `body`, with the image's volumes (`image_volumes`) and those of the
/// containers `--volumes-from` names; the user's own mounts win at the same place, as
/// in docker.
pub fn planned(body: &ContainerCreateBody, image_volumes: &[String], host: &Host) -> Vec<PlannedMount> {
    let mut out: Vec<PlannedMount> = Vec::new();
    let hc = body.host_config.clone().unwrap_or_default();
    for b in hc.binds.iter().flatten() {
        if let Some(m) = from_bind_string(b, host) {
            out.push(m);
        }
    }
    for m in hc.mounts.iter().flatten() {
        let target = clean(m.target.as_deref().unwrap_or(""));
        let read_only = m.read_only == Some(true);
        let source = m.source.clone().filter(|s| !s.is_empty());
        out.push(match m.typ {
            Some(MountType::BIND) => PlannedMount::Bind {
                target,
                source: host.real(Path::new(&source.unwrap_or_default())),
                read_only,
                recursive: m.bind_options.as_ref().is_none_or(|o| o.non_recursive != Some(true)),
            },
            Some(MountType::VOLUME) => {
                let driver =
                    m.volume_options.as_ref().and_then(|o| o.driver_config.as_ref()).and_then(|d| d.name.clone());
                volume(target, source, driver.as_deref(), host)
            }
            Some(MountType::TMPFS) => PlannedMount::Tmpfs { target, exec: false, read_only },
            _ => PlannedMount::Any { target },
        });
    }
    for (target, options) in hc.tmpfs.iter().flatten() {
        let has = |o: &str| options.split(',').any(|x| x == o);
        out.push(PlannedMount::Tmpfs { target: clean(target), exec: has("exec"), read_only: has("ro") });
    }
    let anonymous = body.volumes.iter().flatten().chain(image_volumes);
    for target in anonymous {
        let target = clean(target);
        if !out.iter().any(|m| m.target() == target) {
            out.push(PlannedMount::Volume { target, name: None });
        }
    }
    for spec in hc.volumes_from.iter().flatten() {
        let (name, mode) = spec.split_once(':').unwrap_or((spec, ""));
        for m in host.containers.get(name).into_iter().flatten() {
            let target = clean(&m.destination);
            if !out.iter().any(|p| p.target() == target) {
                out.push(inherited(target, m, mode == "ro", host));
            }
        }
    }
    out
}

/// `SRC:DST[:OPTIONS]` of HostConfig.Binds: a host path when SRC is absolute, else a
/// named volume.
fn from_bind_string(b: &str, host: &Host) -> Option<PlannedMount> {
    let mut parts = b.splitn(3, ':');
    let (src, dst) = (parts.next()?, parts.next()?);
    let options = parts.next().unwrap_or("");
    let read_only = options.split(',').any(|o| o == "ro");
    let target = clean(dst);
    Some(if src.starts_with('/') {
        PlannedMount::Bind { target, source: host.real(Path::new(src)), read_only, recursive: true }
    } else {
        volume(target, Some(src.to_string()), host.volumes.get(src).map(|v| v.driver.as_str()), host)
    })
}

/// A named volume: the daemon's folder, or the filesystem its options mount.
fn volume(target: String, name: Option<String>, driver: Option<&str>, host: &Host) -> PlannedMount {
    let facts = name.as_ref().and_then(|n| host.volumes.get(n));
    let driver = facts.map(|f| f.driver.as_str()).or(driver).unwrap_or("local");
    if driver != "local" {
        return PlannedMount::Any { target };
    }
    match facts.and_then(|f| f.options.get("type")) {
        Some(t) if t != "none" && !t.is_empty() => PlannedMount::Filesystem { target, fstype: t.clone() },
        _ => PlannedMount::Volume { target, name },
    }
}

fn inherited(target: String, m: &MountFacts, read_only: bool, host: &Host) -> PlannedMount {
    match m.kind.as_str() {
        "bind" => PlannedMount::Bind { target, source: PathBuf::from(&m.source), read_only, recursive: true },
        "volume" => volume(target, m.name.clone(), None, host),
        _ => PlannedMount::Any { target },
    }
}

/// Go's `path.Clean` of a container path, as the daemon applies it.
fn clean(p: &str) -> String {
    crate::request::mount::clean(Path::new(p)).display().to_string()
}

/// One line of the host's /proc/self/mountinfo; paths as the kernel escapes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostMount {
    pub device: String,
    pub root: String,
    /// The mount point, unescaped.
    pub point: PathBuf,
    pub fstype: String,
    pub source: String,
}

/// The host's mount table, in the kernel's order (a later mount on the same point
/// covers an earlier one).
#[derive(Debug, Clone, Default)]
pub struct MountTable(pub Vec<HostMount>);

impl MountTable {
    pub fn read() -> std::io::Result<MountTable> {
        Ok(MountTable::parse(&std::fs::read_to_string("/proc/self/mountinfo")?))
    }

    pub fn parse(text: &str) -> MountTable {
        let lines = text.lines().filter_map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            let dash = f.iter().position(|x| *x == "-")?;
            Some(HostMount {
                device: f.get(2)?.to_string(),
                root: f.get(3)?.to_string(),
                point: PathBuf::from(unescape(f.get(4)?)),
                fstype: f.get(dash + 1)?.to_string(),
                source: f.get(dash + 2)?.to_string(),
            })
        });
        MountTable(lines.collect())
    }

    /// The mount `path` (a real path, symlinks resolved) lies on: the deepest mount
    /// point above it, the last one mounted there.
    pub fn containing(&self, path: &Path) -> Option<&HostMount> {
        self.0
            .iter()
            .enumerate()
            .filter(|(_, m)| path.starts_with(&m.point))
            .max_by_key(|(i, m)| (m.point.components().count(), *i))
            .map(|(_, m)| m)
    }

    /// What the kernel will show for a bind of `real`: device, root inside its
    /// filesystem (escaped), filesystem type and source.
    pub fn bind_of(&self, real: &Path) -> Option<BindOrigin> {
        let m = self.containing(real)?;
        let rest = real.strip_prefix(&m.point).ok()?;
        let mut root = m.root.clone();
        for c in rest.components() {
            if let Component::Normal(name) = c {
                if !root.ends_with('/') {
                    root.push('/');
                }
                root.push_str(&escape(&name.to_string_lossy()));
            }
        }
        Some(BindOrigin { device: m.device.clone(), root, fstype: m.fstype.clone(), source: m.source.clone() })
    }

    /// The mounts below `real` (not on it): what a recursive bind brings along, with
    /// their path relative to `real`.
    pub fn below(&self, real: &Path) -> Vec<(PathBuf, &HostMount)> {
        self.0
            .iter()
            .filter(|m| m.point != real && m.point.starts_with(real))
            .filter_map(|m| Some((m.point.strip_prefix(real).ok()?.to_path_buf(), m)))
            .collect()
    }
}

/// Where a bind's source is, as the container's mountinfo will show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindOrigin {
    pub device: String,
    pub root: String,
    pub fstype: String,
    pub source: String,
}

/// The kernel's escaping in mountinfo: space, tab, newline and backslash as `\ooo`.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            ' ' | '\t' | '\n' | '\\' => out.push_str(&format!("\\{:03o}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

pub fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let octal = |c: u8| (b'0'..=b'7').contains(&c);
        if b[i] == b'\\' && b.len() - i >= 4 && b[i + 1..i + 4].iter().all(|c| octal(*c)) {
            out.push(((b[i + 1] - b'0') << 6) | ((b[i + 2] - b'0') << 3) | (b[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::VolumeFacts;
    use bollard::models::{HostConfig, Mount, MountBindOptions};

    const HOST: &str = "27 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n\
        42 27 254:0 /var/lib/docker /var/lib/docker rw,relatime shared:1 - ext4 /dev/vda rw\n\
        50 27 0:50 / /srv/app/data/cache rw - tmpfs tmpfs rw\n\
        51 27 0:51 /sub /srv/my\\040dir rw - btrfs /dev/sdb rw\n\
        52 27 0:52 / /srv/app/data/cache rw - tmpfs tmpfs2 rw\n";

    #[test]
    fn bind_sources_are_located_in_the_hosts_mount_table() {
        let t = MountTable::parse(HOST);
        let o = t.bind_of(Path::new("/srv/app/data")).unwrap();
        assert_eq!(
            o,
            BindOrigin {
                device: "254:0".into(),
                root: "/srv/app/data".into(),
                fstype: "ext4".into(),
                source: "/dev/vda".into()
            }
        );
        let o = t.bind_of(Path::new("/var/lib/docker/volumes/v/_data")).unwrap();
        assert_eq!(o.root, "/var/lib/docker/volumes/v/_data");
        // A bind of a subvolume's folder: its root inside that filesystem, escaped.
        let o = t.bind_of(Path::new("/srv/my dir/a b")).unwrap();
        assert_eq!((o.device.as_str(), o.root.as_str()), ("0:51", "/sub/a\\040b"));
        // The later of two mounts on one point is the one seen.
        let o = t.bind_of(Path::new("/srv/app/data/cache")).unwrap();
        assert_eq!((o.device.as_str(), o.root.as_str(), o.source.as_str()), ("0:52", "/", "tmpfs2"));
        assert_eq!(t.below(Path::new("/srv/app/data")).len(), 2);
        assert!(t.below(Path::new("/srv/app/data/cache")).is_empty());
    }

    #[test]
    fn the_body_decides_the_mounts() {
        let mut host = Host::default();
        host.volumes.insert("cache".into(), VolumeFacts { driver: "local".into(), ..Default::default() });
        let mut opts = std::collections::BTreeMap::new();
        opts.insert("type".to_string(), "tmpfs".to_string());
        host.volumes.insert("ram".into(), VolumeFacts { driver: "local".into(), options: opts });
        host.containers.insert(
            "other".into(),
            vec![
                MountFacts { kind: "bind".into(), source: "/srv/x".into(), name: None, destination: "/x".into() },
                MountFacts {
                    kind: "volume".into(),
                    source: String::new(),
                    name: Some("cache".into()),
                    destination: "/data".into(),
                },
            ],
        );
        let body = ContainerCreateBody {
            volumes: Some(vec!["/anon/".into()]),
            host_config: Some(HostConfig {
                binds: Some(vec!["/srv/app/data:/data:ro".into(), "cache:/cache".into(), "ram:/ram:rw".into()]),
                mounts: Some(vec![Mount {
                    target: Some("/b".into()),
                    source: Some("/srv/app/b".into()),
                    typ: Some(MountType::BIND),
                    bind_options: Some(MountBindOptions { non_recursive: Some(true), ..Default::default() }),
                    ..Default::default()
                }]),
                tmpfs: Some([("/tmp".to_string(), "rw,exec".to_string())].into_iter().collect()),
                volumes_from: Some(vec!["other:ro".into()]),
                ..Default::default()
            }),
            ..Default::default()
        };
        let planned = planned(&body, &["/var/lib/app".into(), "/cache".into()], &host);
        assert_eq!(
            planned,
            vec![
                PlannedMount::Bind {
                    target: "/data".into(),
                    source: "/srv/app/data".into(),
                    read_only: true,
                    recursive: true
                },
                PlannedMount::Volume { target: "/cache".into(), name: Some("cache".into()) },
                PlannedMount::Filesystem { target: "/ram".into(), fstype: "tmpfs".into() },
                PlannedMount::Bind {
                    target: "/b".into(),
                    source: "/srv/app/b".into(),
                    read_only: false,
                    recursive: false
                },
                PlannedMount::Tmpfs { target: "/tmp".into(), exec: true, read_only: false },
                PlannedMount::Volume { target: "/anon".into(), name: None },
                PlannedMount::Volume { target: "/var/lib/app".into(), name: None },
                PlannedMount::Bind { target: "/x".into(), source: "/srv/x".into(), read_only: true, recursive: true },
            ]
        );
    }

    #[test]
    fn binds_keep_the_path_policy_judged() {
        let mut host = Host::default();
        host.real_paths.insert("/proj/data".into(), "/proj/data.real".into());
        let body = ContainerCreateBody {
            host_config: Some(HostConfig { binds: Some(vec!["/proj/data:/data".into()]), ..Default::default() }),
            ..Default::default()
        };
        let PlannedMount::Bind { source, .. } = &planned(&body, &[], &host)[0] else { panic!() };
        assert_eq!(source, Path::new("/proj/data.real"));
    }

    #[test]
    fn escaping_round_trips() {
        assert_eq!(escape("/a b\\c"), "/a\\040b\\134c");
        assert_eq!(unescape("/a\\040b\\134c"), "/a b\\c");
        assert_eq!(unescape("/trailing\\04"), "/trailing\\04");
    }
}
