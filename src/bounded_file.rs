//! Reading a file hardrun does not control (env and label files, profiles, seccomp and
//! AppArmor files, docker's config and contexts, caches): regular files only, never more
//! than a cap. `/dev/zero` would grow without end and a FIFO would wait forever for a
//! writer, so the file is opened without blocking and its kind is checked on the opened
//! descriptor, where a path swapped after a first look cannot slip a device in.

use std::fmt;
use std::fs::{File, Metadata, OpenOptions};
use std::io::Read as _;
use std::os::unix::fs::{FileTypeExt as _, OpenOptionsExt as _};
use std::path::Path;

/// Env and label files, profiles, AppArmor profiles, docker's config files, the trust list.
pub const TEXT_MAX: u64 = 1 << 20;

/// Seccomp profiles: docker's own default is about 25 KiB, a generated one can be larger.
pub const SECCOMP_MAX: u64 = 4 << 20;

/// hardrun's own cache entries (an image's history and the files read from it).
pub const CACHE_MAX: u64 = 16 << 20;

/// Why a file was not read.
#[derive(Debug)]
pub enum ReadError {
    /// Nothing at that path.
    Missing,
    /// A FIFO, device, socket or directory: `what` names it.
    NotRegular(&'static str),
    /// Larger than the cap.
    TooLarge(u64),
    NotUtf8,
    Io(std::io::Error),
}

impl ReadError {
    pub fn is_missing(&self) -> bool {
        matches!(self, ReadError::Missing)
    }
}

impl From<std::io::Error> for ReadError {
    fn from(e: std::io::Error) -> Self {
        match e.kind() {
            std::io::ErrorKind::NotFound => ReadError::Missing,
            _ => ReadError::Io(e),
        }
    }
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::Missing => f.write_str("no such file"),
            ReadError::NotRegular(what) => write!(f, "{what}, not a regular file; hardrun reads only regular files"),
            ReadError::TooLarge(max) => {
                write!(f, "larger than {}, the most hardrun reads from such a file", size(*max))
            }
            ReadError::NotUtf8 => f.write_str("not UTF-8 text"),
            ReadError::Io(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for ReadError {}

fn size(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 20 && b % (1 << 20) == 0 => format!("{} MiB", b >> 20),
        b if b >= 1 << 10 && b % (1 << 10) == 0 => format!("{} KiB", b >> 10),
        b => format!("{b} bytes"),
    }
}

/// What a file that is not a regular one is.
fn kind(meta: &Metadata) -> Result<(), ReadError> {
    let t = meta.file_type();
    let what = match () {
        _ if t.is_file() => return Ok(()),
        _ if t.is_dir() => "a directory",
        _ if t.is_fifo() => "a FIFO",
        _ if t.is_socket() => "a socket",
        _ if t.is_char_device() => "a character device",
        _ if t.is_block_device() => "a block device",
        _ => "a special file",
    };
    Err(ReadError::NotRegular(what))
}

/// The bytes of the regular file at `path` (symlinks followed), at most `max` of them,
/// and the metadata of the file that was read.
pub fn read_with_metadata(path: &Path, max: u64) -> Result<(Vec<u8>, Metadata), ReadError> {
    // Look first: opening a device can have effects of its own.
    let first = std::fs::metadata(path)?;
    kind(&first)?;
    if first.len() > max {
        return Err(ReadError::TooLarge(max));
    }
    let file: File = OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY).open(path)?;
    // Then judge what was opened, whatever the path points at now.
    let meta = file.metadata()?;
    kind(&meta)?;
    let mut bytes = Vec::with_capacity(meta.len().min(max) as usize);
    file.take(max + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max {
        return Err(ReadError::TooLarge(max));
    }
    Ok((bytes, meta))
}

/// The bytes of the regular file at `path`, at most `max` of them.
pub fn read(path: &Path, max: u64) -> Result<Vec<u8>, ReadError> {
    read_with_metadata(path, max).map(|(bytes, _)| bytes)
}

/// The UTF-8 text of the regular file at `path`, at most `max` bytes of it.
pub fn read_text(path: &Path, max: u64) -> Result<String, ReadError> {
    String::from_utf8(read(path, max)?).map_err(|_| ReadError::NotUtf8)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn regular_files_are_read_whole() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("f");
        std::fs::write(&p, "A=1\n").unwrap();
        assert_eq!(read_text(&p, 4).unwrap(), "A=1\n");
        let link = d.path().join("link");
        std::os::unix::fs::symlink(&p, &link).unwrap();
        assert_eq!(read_text(&link, TEXT_MAX).unwrap(), "A=1\n", "a symlink to a regular file is that file");
    }

    #[test]
    fn what_is_too_large_is_refused_before_reading() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("big");
        std::fs::write(&p, "12345").unwrap();
        let e = read(&p, 4).unwrap_err();
        assert!(matches!(e, ReadError::TooLarge(4)), "{e}");
        let sparse = d.path().join("sparse");
        File::create(&sparse).unwrap().set_len(1 << 40).unwrap();
        let start = Instant::now();
        assert!(matches!(read(&sparse, TEXT_MAX), Err(ReadError::TooLarge(_))));
        assert!(start.elapsed() < Duration::from_secs(1));
        assert_eq!(read(&sparse, TEXT_MAX).unwrap_err().to_string(), format!("larger than 1 MiB, {}", TOO_MUCH));
    }

    const TOO_MUCH: &str = "the most hardrun reads from such a file";

    #[test]
    fn devices_fifos_and_directories_are_refused_without_blocking() {
        let d = tempfile::tempdir().unwrap();
        let fifo = d.path().join("fifo");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status().unwrap();
        assert!(made.success());
        let start = Instant::now();
        for (path, what) in [
            (fifo.as_path(), "a FIFO"),
            (Path::new("/dev/zero"), "a character device"),
            (Path::new("/dev/urandom"), "a character device"),
            (d.path(), "a directory"),
        ] {
            let e = read(path, TEXT_MAX).unwrap_err();
            assert!(matches!(e, ReadError::NotRegular(w) if w == what), "{}: {e}", path.display());
            assert!(e.to_string().contains("not a regular file"), "{e}");
        }
        assert!(start.elapsed() < Duration::from_secs(1), "{:?}", start.elapsed());
    }

    #[test]
    fn missing_and_non_utf8_files_say_so() {
        let d = tempfile::tempdir().unwrap();
        assert!(read(&d.path().join("none"), TEXT_MAX).unwrap_err().is_missing());
        let p = d.path().join("latin1");
        std::fs::write(&p, b"caf\xe9").unwrap();
        assert!(matches!(read_text(&p, TEXT_MAX), Err(ReadError::NotUtf8)));
    }
}
