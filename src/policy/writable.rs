//! Where the container may write, made to work for the user it runs as: every tmpfs is
//! owned by that user (`uid=`/`gid=`: docker 20.10 ignores `mode=` over a folder the
//! image has), the empty folders the image made writable for that user get a small
//! tmpfs, missing bind sources are created for that user (docker would make them
//! root's), and every bind, volume and VOLUME whose owner that user cannot write is
//! reported before the service starts and fails. The image only ever adds small
//! `noexec,nosuid,nodev` tmpfs mounts here, capped in number and size by the profile.

use std::path::Path;

use super::{Hardening, Owner, PathState, Refusal};
use crate::image::look;
use crate::image::tree::Folder;
use crate::image::user;
use crate::plan::{Prepare, Source, WritablePath};
use crate::request::{UserSpec, VolumeSource};

/// The user the container runs as, as numbers: uid and (when known) gid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct RunIds {
    pub uid: u32,
    pub gid: Option<u32>,
}

impl RunIds {
    fn shown(&self) -> String {
        match self.gid {
            Some(g) => format!("{}:{g}", self.uid),
            None => self.uid.to_string(),
        }
    }

    fn can_write(&self, o: &Owner) -> bool {
        Folder { path: String::new(), uid: o.uid, gid: o.gid, mode: o.mode, empty: true }
            .writable_by(self.uid, self.gid)
    }

    /// `uid=U,gid=G` for a tmpfs.
    fn tmpfs_owner(&self) -> String {
        match self.gid {
            Some(g) => format!("uid={},gid={g}", self.uid),
            None => format!("uid={}", self.uid),
        }
    }
}

/// The run user's ids, once identity chose it; `None` when names cannot be resolved yet
/// (`plan` before the image is local).
pub(super) fn run_ids(h: &Hardening) -> Option<RunIds> {
    let spec = UserSpec::parse(h.config.user.as_deref()?).ok()?;
    let contents = h.host.image.as_ref().and_then(|f| f.contents.as_ref());
    let ids = user::resolve(&spec, &[], contents).ok()?;
    Some(RunIds { uid: ids.uid, gid: Some(ids.gid) })
}

/// Tmpfs options owned by the run user, unless they already name an owner.
pub(super) fn owned(options: &str, ids: Option<RunIds>) -> String {
    let Some(ids) = ids else { return options.to_string() };
    let has = |k: &str| options.split(',').any(|o| o.starts_with(k));
    if has("uid=") || has("gid=") {
        return options.to_string();
    }
    match options {
        "" => ids.tmpfs_owner(),
        o => format!("{o},{}", ids.tmpfs_owner()),
    }
}

pub(super) fn apply(h: &mut Hardening) {
    let ids = run_ids(h);
    h.run_as = ids.map(|i| i.shown());
    mount_tmpfs(h, ids);
    let mut paths: Vec<WritablePath> = Vec::new();
    let mut taken: Vec<String> = Vec::new();
    mounts_from_flags(h, &mut paths, &mut taken);
    if let Some(ids) = ids {
        binds(h, ids, &mut paths);
        named_volumes(h, ids, &mut paths);
        image_volumes(h, ids, &mut paths, &mut taken);
        image_folders(h, ids, &mut paths, &mut taken);
    }
    paths.sort_by(|a, b| a.path.cmp(&b.path));
    h.writable = paths;
}

/// `--mount type=tmpfs` as a `HostConfig.Tmpfs` entry: the Mount API takes no owner
/// before Engine API 1.46, the tmpfs map does (same mount, same defaults).
fn mount_tmpfs(h: &mut Hardening, ids: Option<RunIds>) {
    let Some(mounts) = h.hc.mounts.as_mut() else { return };
    let tmpfs = h.hc.tmpfs.get_or_insert_with(Default::default);
    mounts.retain(|m| {
        let Some(target) = m.target.clone().filter(|_| m.typ == Some(bollard::models::MountType::TMPFS)) else {
            return true;
        };
        if tmpfs.contains_key(&target) {
            return true;
        }
        let mut options = Vec::new();
        if m.read_only == Some(true) {
            options.push("ro".to_string());
        }
        if let Some(t) = &m.tmpfs_options {
            options.extend(t.size_bytes.map(|s| format!("size={s}")));
            options.extend(t.mode.map(|m| format!("mode={m:o}")));
        }
        tmpfs.insert(target, owned(&options.join(","), ids));
        false
    });
    if mounts.is_empty() {
        h.hc.mounts = None;
    }
    if h.hc.tmpfs.as_ref().is_some_and(|t| t.is_empty()) {
        h.hc.tmpfs = None;
    }
}

fn under(path: &str, folder: &str) -> bool {
    path == folder || path.strip_prefix(folder).is_some_and(|r| r.starts_with('/')) || folder == "/"
}

/// Every mount the user and the profile asked for, as decisions (so `plan` lists them),
/// and the tmpfs mounts as writable paths.
fn mounts_from_flags(h: &mut Hardening, paths: &mut Vec<WritablePath>, taken: &mut Vec<String>) {
    for v in &h.req.volumes {
        taken.push(v.target.clone());
    }
    for m in &h.req.mounts {
        taken.push(m.target.clone());
    }
    let mut tmpfs: Vec<(String, String)> = h.hc.tmpfs.iter().flatten().map(|(k, v)| (k.clone(), v.clone())).collect();
    tmpfs.sort();
    for (path, options) in tmpfs {
        paths.push(WritablePath {
            path: path.clone(),
            kind: "tmpfs".into(),
            source: None,
            owner: owner_in(&options),
            writable: Some(true),
            note: format!("in memory, {options}"),
        });
        taken.push(path);
    }
    let asked: Vec<(String, Source)> = h
        .req
        .volumes
        .iter()
        .map(|v| {
            let shown = v.bind_string().unwrap_or_else(|| v.target.clone());
            (shown.clone(), Hardening::flag(format!("-v {shown}")))
        })
        .chain(h.req.mounts.iter().map(|m| {
            let src = m.source.as_deref().map(|s| format!("{s} → ")).unwrap_or_default();
            (format!("{} {src}{}", m.kind, m.target), Hardening::flag(format!("--mount type={}", m.kind)))
        }))
        .collect();
    for (value, source) in asked {
        h.decide("mount", value, source);
    }
}

fn owner_in(options: &str) -> Option<String> {
    let get = |k: &str| options.split(',').find_map(|o| o.strip_prefix(k));
    Some(format!("{}:{}", get("uid=")?, get("gid=").unwrap_or("0")))
}

/// Host-path binds: a missing source is created for the run user (or refused with the
/// command that makes it), an existing folder the run user cannot write is reported.
fn binds(h: &mut Hardening, ids: RunIds, paths: &mut Vec<WritablePath>) {
    let binds: Vec<(std::path::PathBuf, String, bool)> = h
        .req
        .volumes
        .iter()
        .filter_map(|v| match &v.source {
            VolumeSource::Host(p) => Some((p.clone(), v.target.clone(), v.mode.split(',').any(|m| m == "ro"))),
            _ => None,
        })
        .collect();
    for (typed, target, read_only) in binds {
        let real = h.host.real(&typed);
        let shown = real.display().to_string();
        let Some(state) = h.host.bind_sources.get(&real).copied() else {
            paths.push(bind_path(&target, &shown, None, None, "not checked (the daemon is not on this machine)"));
            continue;
        };
        match state {
            PathState::Missing => missing_source(h, ids, &typed, &real, &target, paths),
            PathState::File(o) => {
                paths.push(bind_path(&target, &shown, Some(o), Some(ids.can_write(&o)), "a file"));
            }
            PathState::Dir(o) => {
                let ok = ids.can_write(&o);
                let note = if read_only {
                    "read-only"
                } else if ok {
                    "the run user can write it"
                } else {
                    ""
                };
                paths.push(bind_path(&target, &shown, Some(o), Some(ok), note));
                if !ok && !read_only {
                    h.warnings.push(format!(
                        "-v {}:{target}: {} belongs to {} (mode {:o}), so the container's user {} cannot write \
                         it; give it to that user (sudo chown -R {} {}){}",
                        typed.display(),
                        shown,
                        owner_shown(&o),
                        o.mode,
                        ids.shown(),
                        ids.shown(),
                        shown,
                        other_user_fix(&o),
                    ));
                }
            }
        }
    }
}

fn owner_shown(o: &Owner) -> String {
    format!("{}:{}", o.uid, o.gid)
}

/// `, or run as its owner (--user U:G)` when the owner is not root.
fn other_user_fix(o: &Owner) -> String {
    if o.uid == 0 || o.gid == 0 { String::new() } else { format!(", or run as its owner (--user {}:{})", o.uid, o.gid) }
}

fn bind_path(target: &str, source: &str, o: Option<Owner>, writable: Option<bool>, note: &str) -> WritablePath {
    WritablePath {
        path: target.into(),
        kind: "bind".into(),
        source: Some(source.into()),
        owner: o.map(|o| format!("{} {:o}", owner_shown(&o), o.mode)),
        writable,
        note: note.into(),
    }
}

fn missing_source(
    h: &mut Hardening,
    ids: RunIds,
    typed: &Path,
    real: &Path,
    target: &str,
    paths: &mut Vec<WritablePath>,
) {
    let shown = real.display().to_string();
    let gid = ids.gid.unwrap_or(ids.uid);
    let owner = match h.host.euid {
        Some(me) if me == ids.uid => None,
        Some(0) => Some((ids.uid, gid)),
        _ => {
            h.refuse(Refusal::never(
                format!("-v {}:{target}", typed.display()),
                format!(
                    "{shown} does not exist: docker would create it owned by root, and the container's user {} \
                     could not write it",
                    ids.shown()
                ),
                format!("create it for that user first: mkdir -p {shown} && sudo chown {}:{gid} {shown}", ids.uid),
            ));
            return;
        }
    };
    h.prepare.push(Prepare { path: shown.clone(), owner });
    h.decide(
        "bind source",
        format!("{shown} created for {}", ids.shown()),
        Hardening::rule("a missing bind source is made for the run user"),
    );
    paths.push(WritablePath {
        path: target.into(),
        kind: "bind".into(),
        source: Some(shown),
        owner: Some(format!("{}:{gid}", ids.uid)),
        writable: Some(true),
        note: "created by hardrun for the run user".into(),
    });
}

/// Named volumes: an existing one whose owner hardrun could read, or a new one (docker
/// copies the image folder's owner into it, or makes it root's where the image has none).
fn named_volumes(h: &mut Hardening, ids: RunIds, paths: &mut Vec<WritablePath>) {
    let named: Vec<(String, String, bool)> = h
        .req
        .volumes
        .iter()
        .filter_map(|v| match &v.source {
            VolumeSource::Named(n) => Some((n.clone(), v.target.clone(), v.mode.split(',').any(|m| m == "ro"))),
            _ => None,
        })
        .chain(
            h.req
                .mounts
                .iter()
                .filter(|m| m.kind == crate::request::MountKind::Volume)
                .filter_map(|m| Some((m.source.clone()?, m.target.clone(), m.read_only))),
        )
        .collect();
    for (name, target, read_only) in named {
        let (owner, note) = match h.host.volumes.get(&name) {
            Some(v) => (v.owner, "existing volume"),
            None if h.host.daemon_asked => {
                (image_owner(h, &target), "new volume, docker copies the image folder's owner")
            }
            None => (None, "checked once the daemon is asked"),
        };
        let writable = owner.map(|o| ids.can_write(&o));
        paths.push(WritablePath {
            path: target.clone(),
            kind: "volume".into(),
            source: Some(name.clone()),
            owner: owner.map(|o| format!("{} {:o}", owner_shown(&o), o.mode)),
            writable,
            note: if read_only { "read-only".into() } else { note.into() },
        });
        if let (Some(o), Some(false), false) = (owner, writable, read_only) {
            h.warnings.push(format!(
                "-v {name}:{target}: the volume belongs to {} (mode {:o}), so the container's user {} cannot write it; \
                 use a project folder instead (-v ./{}:{target}, made for that user){}",
                owner_shown(&o),
                o.mode,
                ids.shown(),
                name,
                other_user_fix(&o),
            ));
        }
    }
}

/// The owner a path has in the image: its folder when the look recorded it, root when
/// the look covered it and found nothing unusual (plain root, or absent: docker then
/// makes it root's), `None` when the look did not cover it.
fn image_owner(h: &Hardening, path: &str) -> Option<Owner> {
    let facts = h.host.image.as_ref()?;
    let contents = facts.contents.as_ref()?;
    let path = look::clean(path)?;
    if let Some(f) = contents.folders.iter().find(|f| f.path == path) {
        return Some(Owner { uid: f.uid, gid: f.gid, mode: f.mode });
    }
    let roots = look::look_for(facts).roots;
    let covered = contents.folders_complete && roots.iter().any(|r| under(&path, r));
    covered.then_some(Owner { uid: 0, gid: 0, mode: 0o755 })
}

/// The image's VOLUMEs that no mount replaces: docker gives each an anonymous volume
/// with the image folder's owner.
fn image_volumes(h: &mut Hardening, ids: RunIds, paths: &mut Vec<WritablePath>, taken: &mut Vec<String>) {
    let volumes: Vec<String> =
        h.host.image.iter().flat_map(|f| f.volumes.iter().filter_map(|v| look::clean(v))).collect();
    for v in volumes {
        if taken.iter().any(|t| look::clean(t).as_deref() == Some(v.as_str())) {
            continue;
        }
        taken.push(v.clone());
        let owner = image_owner(h, &v);
        let writable = owner.map(|o| ids.can_write(&o));
        paths.push(WritablePath {
            path: v.clone(),
            kind: "image volume".into(),
            source: None,
            owner: owner.map(|o| format!("{} {:o}", owner_shown(&o), o.mode)),
            writable,
            note: "an anonymous volume with the image folder's owner".into(),
        });
        if let (Some(o), Some(false)) = (owner, writable) {
            h.warnings.push(format!(
                "the image's VOLUME {v} belongs to {} (mode {:o}), so the container's user {} cannot write it; \
                 run as the user the image was built for{}",
                owner_shown(&o),
                o.mode,
                ids.shown(),
                if o.uid == 0 { String::new() } else { format!(" (--user {}:{}, or no --user)", o.uid, o.gid) },
            ));
        }
    }
}

/// Folders the image made writable for the run user (world-writable, or owned by it)
/// and left empty: a small tmpfs each, owned by the run user, within the profile's cap.
/// One that holds files gets none (it would hide them) and is listed as such.
fn image_folders(h: &mut Hardening, ids: RunIds, paths: &mut Vec<WritablePath>, taken: &mut Vec<String>) {
    let Some(contents) = h.host.image.as_ref().and_then(|f| f.contents.as_ref()) else { return };
    let rule = h.profile.filesystem.image_tmpfs;
    let mut added: Vec<(String, String)> = Vec::new();
    let mut skipped = Vec::new();
    let mut folders: Vec<&Folder> = contents.folders.iter().filter(|f| f.writable_by(ids.uid, ids.gid)).collect();
    folders.sort_by(|a, b| a.path.cmp(&b.path));
    for f in folders {
        let forbidden = f.path == "/" || ["/proc", "/sys", "/dev"].iter().any(|s| under(&f.path, s));
        if forbidden || f.path.contains([',', ':']) || taken.iter().any(|t| under(&f.path, t)) {
            continue;
        }
        if !f.empty {
            paths.push(WritablePath {
                path: f.path.clone(),
                kind: "image folder".into(),
                source: None,
                owner: Some(f.owner()),
                writable: Some(false),
                note: "writable for the run user in the image but holds files: no tmpfs (it would hide them); \
                       mount a volume there if the service writes to it"
                    .into(),
            });
            continue;
        }
        if added.len() >= rule.max {
            skipped.push(f.path.clone());
            continue;
        }
        let options = format!("size={},{}", crate::request::size::format_bytes(rule.size), ids.tmpfs_owner());
        taken.push(f.path.clone());
        paths.push(WritablePath {
            path: f.path.clone(),
            kind: "tmpfs".into(),
            source: None,
            owner: Some(format!("{} (image: {})", ids.shown(), f.owner())),
            writable: Some(true),
            note: "the image made this folder writable for the run user".into(),
        });
        added.push((f.path.clone(), options));
    }
    if !skipped.is_empty() {
        h.notices.push(format!(
            "the image has more empty folders its user may write than filesystem.image_tmpfs.max ({}) allows: {} get \
             no tmpfs and stay read-only",
            rule.max,
            skipped.join(", ")
        ));
    }
    for (path, options) in added {
        h.decide("tmpfs", format!("{path} {options}"), h.profile_source("filesystem.image_tmpfs"));
        h.hc.tmpfs.get_or_insert_with(Default::default).insert(path, options);
    }
}

#[cfg(test)]
mod tests;
