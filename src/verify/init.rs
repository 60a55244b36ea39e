//! hardrun-init on the host's side: the binary (built from init/ by build.rs and
//! embedded), the folder it is kept in and mounted from, the FIFO it reports on, and
//! the create body that runs it in front of the user's command.

use std::io::{self, Read as _};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use bollard::models::{ContainerCreateBody, Mount, MountType};
use sha2::{Digest, Sha256};

/// The static init for this build's target (empty where build.rs made none).
pub const BINARY: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/hardrun-init"));

/// Where the init's folder is mounted in the container (the init knows it too).
pub const CONTAINER_DIR: &str = "/.hardrun";
pub const CONTAINER_PATH: &str = "/.hardrun/init";

/// hardrun's data folder: `$XDG_DATA_HOME`, else `~/.local/share`. The init lives
/// there rather than in a cache: containers made with it need it at every restart.
pub fn data_home(env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    env("XDG_DATA_HOME")
        .filter(|v| v.starts_with('/'))
        .map(PathBuf::from)
        .or_else(|| env("HOME").filter(|h| h.starts_with('/')).map(|h| PathBuf::from(h).join(".local/share")))
}

/// The folder holding this build's init, named by its content: `.../init/<digest>`,
/// mode 0711 (the container may run the init and open a report FIFO it is told the
/// name of, not list what is there).
#[derive(Debug, Clone)]
pub struct InitDir {
    pub path: PathBuf,
}

impl InitDir {
    /// The folder, with the init written on first use and checked on every use: owned
    /// by this user, the right modes, the same bytes as the embedded binary.
    pub fn ensure(data_home: &Path) -> io::Result<InitDir> {
        if BINARY.is_empty() {
            return Err(io::Error::new(io::ErrorKind::Unsupported, "no init was built for this platform"));
        }
        let digest: String = Sha256::digest(BINARY).iter().take(8).map(|b| format!("{b:02x}")).collect();
        let base = data_home.join("hardrun/init");
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(&base)?;
        let dir = base.join(digest);
        match std::fs::DirBuilder::new().mode(0o711).create(&dir) {
            Err(e) if e.kind() != io::ErrorKind::AlreadyExists => return Err(e),
            _ => {}
        }
        let euid = effective_uid();
        let meta = std::fs::symlink_metadata(&dir)?;
        if !meta.is_dir() || meta.uid() != euid {
            return Err(io::Error::other(format!("{} is not a folder of this user's", dir.display())));
        }
        if meta.mode() & 0o7777 != 0o711 {
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o711))?;
        }
        let file = dir.join("init");
        if !intact(&file, euid) {
            let tmp = dir.join(format!(".init-{}", std::process::id()));
            let _ = std::fs::remove_file(&tmp);
            std::fs::write(&tmp, BINARY)?;
            std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o555))?;
            std::fs::rename(&tmp, &file)?;
            if !intact(&file, euid) {
                return Err(io::Error::other(format!(
                    "{} does not hold hardrun's init after writing it",
                    file.display()
                )));
            }
        }
        Ok(InitDir { path: dir })
    }
}

/// The init at `file` is this build's, owned by `euid`, mode 0555, not a link.
fn intact(file: &Path, euid: u32) -> bool {
    let Ok(meta) = std::fs::symlink_metadata(file) else { return false };
    if !meta.is_file() || meta.uid() != euid || meta.mode() & 0o7777 != 0o555 || meta.len() != BINARY.len() as u64 {
        return false;
    }
    let mut bytes = Vec::with_capacity(BINARY.len());
    std::fs::File::open(file).and_then(|mut f| f.read_to_end(&mut bytes)).is_ok() && bytes == BINARY
}

pub fn effective_uid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// The FIFO the init writes its verdict to: one line, right before it execs the
/// command (or instead of it). hardrun opens it before the container starts and
/// removes it once it has read the line.
pub struct ReportFifo {
    path: PathBuf,
    pub name: String,
    receiver: tokio::net::unix::pipe::Receiver,
    read: Vec<u8>,
}

/// Report FIFOs older than this were left by a hardrun that was killed.
const STALE: std::time::Duration = std::time::Duration::from_secs(600);

impl ReportFifo {
    pub fn create(dir: &InitDir) -> io::Result<ReportFifo> {
        sweep(&dir.path);
        let mut random = [0u8; 16];
        std::fs::File::open("/dev/urandom")?.read_exact(&mut random)?;
        let name = format!("report-{}", random.iter().map(|b| format!("{b:02x}")).collect::<String>());
        let path = dir.path.join(&name);
        let c_path = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).map_err(io::Error::other)?;
        // SAFETY: a valid NUL-terminated path; mkfifo only creates the node.
        if unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) } != 0 {
            return Err(io::Error::last_os_error());
        }
        // Whoever the container runs as may write it (the umask would not let mkfifo say so).
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o622))?;
        // Read and write: the init's non-blocking open finds a reader, and reads never
        // see an end of file before the init has written.
        let receiver = tokio::net::unix::pipe::OpenOptions::new().read_write(true).open_receiver(&path);
        let receiver = match receiver {
            Ok(r) => r,
            Err(e) => {
                let _ = std::fs::remove_file(&path);
                return Err(e);
            }
        };
        Ok(ReportFifo { path, name, receiver, read: Vec::new() })
    }

    /// The first line the init wrote, once it has.
    pub async fn line(&mut self) -> io::Result<String> {
        loop {
            if let Some(line) = self.take_line() {
                return Ok(line);
            }
            self.receiver.readable().await?;
            self.fill()?;
        }
    }

    /// The line, if it is already there.
    pub fn try_line(&mut self) -> Option<String> {
        let _ = self.fill();
        self.take_line()
    }

    fn fill(&mut self) -> io::Result<()> {
        let mut chunk = [0u8; 4096];
        loop {
            match self.receiver.try_read(&mut chunk) {
                Ok(0) => return Ok(()),
                Ok(n) => {
                    self.read.extend_from_slice(&chunk[..n]);
                    // One line is all the init writes; more is not read.
                    if self.read.len() > 64 * 1024 {
                        return Err(io::Error::other("the init's report is too long"));
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) => return Err(e),
            }
        }
    }

    fn take_line(&mut self) -> Option<String> {
        let end = self.read.iter().position(|&b| b == b'\n')?;
        Some(String::from_utf8_lossy(&self.read[..end]).into_owned())
    }
}

impl Drop for ReportFifo {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn sweep(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let stale = e
            .metadata()
            .ok()
            .and_then(|m| m.modified().ok())
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > STALE);
        if stale && e.file_name().to_string_lossy().starts_with("report-") {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// What the daemon will run for this body on this image: docker's merge of the create
/// body's Entrypoint and Cmd with the image's (a body Entrypoint keeps the image's Cmd
/// out; `[""]` means none), as (entrypoint, cmd).
pub fn command_line(
    entrypoint: Option<&[String]>,
    cmd: Option<&[String]>,
    image_entrypoint: Option<&[String]>,
    image_cmd: Option<&[String]>,
) -> (Vec<String>, Vec<String>) {
    let mut ep = entrypoint.map(<[String]>::to_vec);
    let mut cmd = cmd.map(<[String]>::to_vec).unwrap_or_default();
    if ep.as_ref().is_none_or(Vec::is_empty) {
        if cmd.is_empty() {
            cmd = image_cmd.map(<[String]>::to_vec).unwrap_or_default();
        }
        if ep.is_none() {
            ep = image_entrypoint.map(<[String]>::to_vec);
        }
    }
    let mut ep = ep.unwrap_or_default();
    if ep.len() == 1 && ep[0].is_empty() {
        ep.clear();
    }
    (ep, cmd)
}

/// Puts the init in front of the command docker would run: it becomes the entrypoint,
/// with the expectations and `--` before the real entrypoint, and the image's Cmd is
/// passed on explicitly. Returns false, leaving the body alone, when there is no
/// command at all (the daemon says so itself).
pub fn wrap(
    body: &mut ContainerCreateBody,
    image_entrypoint: Option<&[String]>,
    image_cmd: Option<&[String]>,
    dir: &InitDir,
    spec: String,
    selinux: bool,
) -> bool {
    let (ep, cmd) = command_line(body.entrypoint.as_deref(), body.cmd.as_deref(), image_entrypoint, image_cmd);
    if ep.is_empty() && cmd.is_empty() {
        return false;
    }
    let mut entrypoint = vec![CONTAINER_PATH.to_string(), spec, "--".to_string()];
    entrypoint.extend(ep);
    body.entrypoint = Some(entrypoint);
    body.cmd = (!cmd.is_empty()).then_some(cmd);
    let hc = body.host_config.get_or_insert_default();
    let source = dir.path.display().to_string();
    if selinux {
        // Only the legacy form relabels, so an SELinux host lets the container read it.
        hc.binds.get_or_insert_default().push(format!("{source}:{CONTAINER_DIR}:ro,z"));
    } else {
        hc.mounts.get_or_insert_default().push(Mount {
            target: Some(CONTAINER_DIR.into()),
            source: Some(source),
            typ: Some(MountType::BIND),
            read_only: Some(true),
            ..Default::default()
        });
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn the_command_line_is_dockers_merge() {
        let (iep, icmd) = (Some(v(&["/entry"])), Some(v(&["serve"])));
        let merged = |ep: Option<Vec<String>>, cmd: Option<Vec<String>>| {
            command_line(ep.as_deref(), cmd.as_deref(), iep.as_deref(), icmd.as_deref())
        };
        // Nothing given: the image's entrypoint and cmd.
        assert_eq!(merged(None, None), (v(&["/entry"]), v(&["serve"])));
        // A command replaces the image's cmd only.
        assert_eq!(merged(None, Some(v(&["sh"]))), (v(&["/entry"]), v(&["sh"])));
        // An entrypoint keeps the image's cmd out.
        assert_eq!(merged(Some(v(&["/bin/echo"])), None), (v(&["/bin/echo"]), vec![]));
        // `--entrypoint ""`: no entrypoint, and no image cmd either.
        assert_eq!(merged(Some(v(&[""])), Some(v(&["echo", "hi"]))), (vec![], v(&["echo", "hi"])));
        assert_eq!(merged(Some(v(&[""])), None), (vec![], vec![]));
        // An empty entrypoint list counts as none given for the cmd, not for the entrypoint.
        assert_eq!(merged(Some(vec![]), None), (vec![], v(&["serve"])));
    }

    #[test]
    fn wrapping_keeps_the_command_after_the_marker() {
        let dir = InitDir { path: PathBuf::from("/home/u/.local/share/hardrun/init/ab") };
        let mut body = ContainerCreateBody { cmd: Some(v(&["true"])), ..Default::default() };
        assert!(wrap(&mut body, Some(&v(&["/entry"])), Some(&v(&["serve"])), &dir, "SPEC".into(), false));
        let ep = body.entrypoint.clone().unwrap();
        assert_eq!(ep, v(&[CONTAINER_PATH, "SPEC", "--", "/entry"]));
        assert_eq!(body.cmd, Some(v(&["true"])));
        let m = &body.host_config.unwrap().mounts.unwrap()[0];
        assert_eq!((m.target.as_deref(), m.read_only), (Some(CONTAINER_DIR), Some(true)));
        let mut nothing = ContainerCreateBody { entrypoint: Some(v(&[""])), ..Default::default() };
        assert!(!wrap(&mut nothing, None, Some(&v(&["sh"])), &dir, "SPEC".into(), false));
        assert_eq!(nothing.entrypoint, Some(v(&[""])));
    }

    #[test]
    fn the_init_is_written_once_and_rewritten_when_changed() {
        let home = tempfile::tempdir().unwrap();
        let dir = InitDir::ensure(home.path()).unwrap();
        let file = dir.path.join("init");
        assert_eq!(std::fs::read(&file).unwrap(), BINARY);
        assert_eq!(std::fs::metadata(&file).unwrap().mode() & 0o7777, 0o555);
        assert_eq!(std::fs::metadata(&dir.path).unwrap().mode() & 0o7777, 0o711);
        // Someone changed it: the next use puts the real one back.
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::write(&file, b"#!/bin/sh\nexec \"$@\"\n").unwrap();
        InitDir::ensure(home.path()).unwrap();
        assert_eq!(std::fs::read(&file).unwrap(), BINARY);
    }

    #[test]
    fn data_home_follows_xdg() {
        let env = |k: &str| match k {
            "HOME" => Some("/home/u".to_string()),
            "XDG_DATA_HOME" => Some("relative".to_string()),
            _ => None,
        };
        assert_eq!(data_home(&env), Some(PathBuf::from("/home/u/.local/share")));
        let env = |k: &str| (k == "XDG_DATA_HOME").then(|| "/data".to_string());
        assert_eq!(data_home(&env), Some(PathBuf::from("/data")));
    }
}
