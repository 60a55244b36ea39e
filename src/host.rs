//! Gathering the local facts policy needs, before it decides: the real working
//! directory and home folder, where bind sources really point, the daemon socket's path
//! and group, the host's groups, seccomp files.
//! Thin I/O; every decision about these facts is in `policy`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::policy::{Host, Owner, PathState};
use crate::profile::Profile;
use crate::request::{MountKind, SeccompChoice, SecurityOpt, VolumeSource, mount};

/// Follows symlinks in the part of `path` that exists; the rest is appended as written
/// (docker creates missing bind sources, so they cannot point anywhere yet).
pub fn real_path(path: &Path) -> PathBuf {
    let mut existing = path.to_path_buf();
    let mut rest = Vec::new();
    loop {
        if let Ok(real) = std::fs::canonicalize(&existing) {
            let mut out = real;
            for part in rest.iter().rev() {
                out.push(part);
            }
            return mount::clean(&out);
        }
        match (existing.file_name().map(|n| n.to_os_string()), existing.parent()) {
            (Some(name), Some(parent)) => {
                rest.push(name);
                existing = parent.to_path_buf();
            }
            _ => return mount::clean(path),
        }
    }
}

/// Who owns `path` (symlinks followed), `None` when it cannot be read.
pub fn owner_of(path: &str) -> Option<Owner> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(path).ok()?;
    Some(Owner { uid: m.uid(), gid: m.gid(), mode: m.mode() & 0o7777 })
}

/// A bind source as it is now.
fn path_state(path: &Path) -> Option<PathState> {
    use std::os::unix::fs::MetadataExt;
    match std::fs::metadata(path) {
        Ok(m) => {
            let owner = Owner { uid: m.uid(), gid: m.gid(), mode: m.mode() & 0o7777 };
            Some(if m.is_dir() { PathState::Dir(owner) } else { PathState::File(owner) })
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Some(PathState::Missing),
        Err(_) => None,
    }
}

/// hardrun's effective uid, from /proc (no libc binding needed for one number).
pub fn effective_uid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}

/// Where the Docker daemon's API socket usually is; binding one hands over the daemon.
pub const DAEMON_SOCKETS: [&str; 2] = ["/var/run/docker.sock", "/run/docker.sock"];

/// The host's groups as (name, gid), from /etc/group (a regular file of at most 1 MiB;
/// it is a few KiB on any real host); empty when it cannot be read.
pub fn host_groups(path: &Path) -> Vec<(String, u32)> {
    let Ok(text) = crate::bounded_file::read_text(path, crate::bounded_file::TEXT_MAX) else {
        return Vec::new();
    };
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.trim().split(':').collect();
            Some((f.first()?.to_string(), f.get(2)?.parse().ok()?))
        })
        .collect()
}

/// The unix socket path in a `unix://` address.
pub fn socket_path(address: &str) -> Option<PathBuf> {
    address.strip_prefix("unix://").map(PathBuf::from)
}

/// Facts about this machine for `req` under `profile`. `docker_host` is the address
/// hardrun talks to (its socket must never be bound into a container).
pub fn gather(req: &crate::request::RunRequest, profile: &Profile, cwd: &Path, docker_host: Option<&str>) -> Host {
    let cwd = real_path(cwd);
    let mut real_paths = BTreeMap::new();
    let mut note = |p: &Path| {
        real_paths.entry(p.to_path_buf()).or_insert_with(|| real_path(p));
    };
    for v in &req.volumes {
        if let VolumeSource::Host(p) = &v.source {
            note(p);
        }
    }
    for m in &req.mounts {
        if m.kind == MountKind::Bind
            && let Some(s) = &m.source
        {
            note(Path::new(s));
        }
        for (k, v) in &m.volume_options {
            if k == "device" && v.starts_with('/') {
                note(&mount::clean(Path::new(v)));
            }
        }
    }
    let mut daemon_sockets: Vec<PathBuf> = DAEMON_SOCKETS.iter().map(PathBuf::from).collect();
    if let Some(p) = docker_host.and_then(socket_path) {
        daemon_sockets.push(p);
    }
    let daemon_sockets: Vec<PathBuf> =
        daemon_sockets.iter().map(|p| real_path(p)).chain(daemon_sockets.clone()).collect();
    let socket_groups = daemon_sockets
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok().map(|m| (p.clone(), std::os::unix::fs::MetadataExt::gid(&m))))
        .collect();
    let home = std::env::var_os("HOME").filter(|h| !h.is_empty()).map(|h| real_path(Path::new(&h)));

    let mut files = BTreeMap::new();
    // The profile's own seccomp file was read (and, from the project, trusted) with it.
    if let Some(text) = &profile.seccomp_text {
        files.insert(PathBuf::from(&profile.seccomp), text.clone());
    }
    let mut read = |p: &Path| {
        if let Ok(text) = crate::bounded_file::read_text(p, crate::bounded_file::SECCOMP_MAX) {
            files.entry(p.to_path_buf()).or_insert(text);
        }
    };
    for opt in &req.security_opts {
        if let SecurityOpt::Seccomp(SeccompChoice::File(p)) = opt {
            read(p);
        }
    }
    // Bind sources are this machine's paths only when the daemon runs here.
    let local = docker_host.is_none_or(|h| h.starts_with("unix://"));
    let bind_sources = match local {
        true => real_paths.values().filter_map(|p| Some((p.clone(), path_state(p)?))).collect(),
        false => BTreeMap::new(),
    };
    Host {
        cwd,
        home,
        real_paths,
        daemon_sockets,
        socket_groups,
        groups: host_groups(Path::new("/etc/group")),
        apparmor: Some(crate::apparmor::host_enabled()),
        files,
        bind_sources,
        euid: effective_uid(),
        ..Host::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_symlinks_in_the_existing_part() {
        let d = tempfile::tempdir().unwrap();
        let real = real_path(d.path());
        std::os::unix::fs::symlink("/etc", d.path().join("link")).unwrap();
        assert_eq!(real_path(&d.path().join("link")), PathBuf::from("/etc"));
        assert_eq!(real_path(&d.path().join("link/passwd")), PathBuf::from("/etc/passwd"));
        assert_eq!(real_path(&d.path().join("missing/x")), real.join("missing/x"));
    }
}
