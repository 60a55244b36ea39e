//! Host paths as policy sees them: the system paths no bind may expose, the container
//! runtimes' API sockets, and which working directories count as a project. The one home
//! of these rules: storage judges binds with them, `audit` judges existing containers
//! with them, and profile validation checks `filesystem.binds.allow` with them.

use std::path::{Path, PathBuf};

/// Host paths no bind mount may expose, whatever a profile says: the host's system
/// directories and the container runtime's state. Binding one of these, anything inside
/// it, or any parent of it is refused.
pub const HOST_SYSTEM_PATHS: [&str; 16] = [
    "/proc",
    "/sys",
    "/dev",
    "/etc",
    "/boot",
    "/run",
    "/var/run",
    "/var/lib/docker",
    "/var/lib/containerd",
    "/var/lib/kubelet",
    "/usr",
    "/bin",
    "/sbin",
    "/lib",
    "/lib32",
    "/lib64",
];

/// Folders that may not be bound whole (nor any parent of them), though a project
/// inside them may: the root, every user's home, the host's logs.
pub const HOST_WHOLE_PATHS: [&str; 4] = ["/", "/root", "/home", "/var/log"];

/// Shared scratch folders: a project may live inside one, but the folder itself holds
/// every user's files.
const SHARED_FOLDERS: [&str; 2] = ["/tmp", "/var/tmp"];

/// Socket file names that are a container runtime's API: binding one is root on the host.
pub const RUNTIME_SOCKETS: [&str; 5] =
    ["docker.sock", "containerd.sock", "podman.sock", "crio.sock", "dockershim.sock"];

/// The host system path a bind source exposes, if any.
pub fn exposed_system_path(source: &Path) -> Option<&'static str> {
    let all = HOST_SYSTEM_PATHS.iter().chain(HOST_WHOLE_PATHS.iter()).copied();
    if let Some(exact) = all.into_iter().find(|p| source == Path::new(p)) {
        return Some(exact);
    }
    let inside = HOST_SYSTEM_PATHS.iter().copied().find(|p| source.starts_with(p) || Path::new(p).starts_with(source));
    inside.or_else(|| HOST_WHOLE_PATHS.iter().copied().find(|p| Path::new(p).starts_with(source)))
}

/// Whether binding `path` (or the path it really is, `real`) hands over a container
/// runtime's API socket: one of the daemon's own sockets or a folder holding one, or any
/// file named like a runtime socket.
pub fn exposes_runtime_socket(typed: &Path, real: &Path, daemon_sockets: &[PathBuf]) -> bool {
    let named = |p: &Path| p.file_name().is_some_and(|n| RUNTIME_SOCKETS.iter().any(|s| n == *s));
    named(typed) || named(real) || daemon_sockets.iter().any(|s| s.starts_with(real) || s.starts_with(typed))
}

/// Why a working directory is not a project folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotProject {
    /// `/`: cron's and systemd's default working directory.
    Root,
    /// The user's home folder itself.
    Home,
    /// A host system path, or a parent of one.
    System(&'static str),
    /// `/tmp` or `/var/tmp` itself.
    Shared,
}

impl NotProject {
    pub fn describe(self) -> String {
        match self {
            NotProject::Root => "the root folder".into(),
            NotProject::Home => "your home folder".into(),
            NotProject::System("/") => "the root folder".into(),
            NotProject::System(p) => format!("a system folder (it exposes the host's {p})"),
            NotProject::Shared => "a folder shared by every user".into(),
        }
    }
}

/// The working directory as "the project" whose files may be bound: never `/`, the home
/// folder itself, a system path or a shared scratch folder.
pub fn project_root<'a>(cwd: &'a Path, home: Option<&Path>) -> Result<&'a Path, NotProject> {
    if cwd == Path::new("/") {
        return Err(NotProject::Root);
    }
    if home.is_some_and(|h| h == cwd) {
        return Err(NotProject::Home);
    }
    if let Some(sys) = exposed_system_path(cwd) {
        return Err(NotProject::System(sys));
    }
    if SHARED_FOLDERS.iter().any(|f| cwd == Path::new(f)) {
        return Err(NotProject::Shared);
    }
    Ok(cwd)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_paths_in_every_direction() {
        for p in ["/", "/etc", "/etc/shadow", "/var", "/var/run/docker.sock", "/var/lib", "/proc/1/root", "/usr/bin"] {
            assert!(exposed_system_path(Path::new(p)).is_some(), "{p}");
        }
        assert_eq!(exposed_system_path(Path::new("/")), Some("/"));
        assert_eq!(exposed_system_path(Path::new("/var")), Some("/var/run"));
        for p in ["/home", "/root", "/var/log"] {
            assert!(exposed_system_path(Path::new(p)).is_some(), "{p}");
        }
        for p in ["/home/dev/project", "/root/project", "/srv/data", "/tmp/x", "/opt/app", "/var/lib/app", "/mnt"] {
            assert!(exposed_system_path(Path::new(p)).is_none(), "{p}");
        }
    }

    #[test]
    fn runtime_sockets_by_name_or_by_place() {
        let sockets = [PathBuf::from("/var/run/docker.sock"), PathBuf::from("/srv/d/api.sock")];
        let yes = |p: &str| exposes_runtime_socket(Path::new(p), Path::new(p), &sockets);
        assert!(yes("/var/run/docker.sock") && yes("/x/containerd.sock") && yes("/srv/d") && yes("/srv/d/api.sock"));
        assert!(!yes("/srv/data") && !yes("/home/dev/project"));
        assert!(exposes_runtime_socket(Path::new("/p/link"), Path::new("/x/podman.sock"), &[]), "where it leads");
    }

    #[test]
    fn what_is_never_a_project() {
        let home = Some(Path::new("/home/dev"));
        assert_eq!(project_root(Path::new("/"), home), Err(NotProject::Root));
        assert_eq!(project_root(Path::new("/home/dev"), home), Err(NotProject::Home));
        assert_eq!(project_root(Path::new("/home"), home), Err(NotProject::System("/home")));
        assert_eq!(project_root(Path::new("/etc/app"), home), Err(NotProject::System("/etc")));
        assert_eq!(project_root(Path::new("/var"), home), Err(NotProject::System("/var/run")));
        assert_eq!(project_root(Path::new("/tmp"), home), Err(NotProject::Shared));
        for ok in ["/home/dev/project", "/srv/app", "/tmp/build-1", "/root/work", "/opt/svc"] {
            assert_eq!(project_root(Path::new(ok), home), Ok(Path::new(ok)), "{ok}");
        }
    }
}
