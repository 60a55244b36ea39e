//! The folders of an image that matter to who may write where: read from a tar stream
//! of a folder (as the archive API sends it), keeping only folders with an owner or
//! mode that is not plain root's, and whether each holds anything. The stream is the
//! image's, so hostile: entries, records and bytes are capped, and a cut-short stream
//! keeps what was read, marked incomplete.

use std::collections::HashMap;
use std::io::Read;

use serde::{Deserialize, Serialize};

/// One folder in the image, as its tar entry says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Folder {
    /// Absolute, clean, no trailing slash.
    pub path: String,
    pub uid: u32,
    pub gid: u32,
    /// Permission bits (`0o1777`).
    pub mode: u32,
    /// Nothing below it in the image (a tmpfs over it hides nothing).
    pub empty: bool,
}

impl Folder {
    /// Whether `uid`/`gid` may create files in it, as the kernel decides for a
    /// non-root process without capabilities.
    pub fn writable_by(&self, uid: u32, gid: Option<u32>) -> bool {
        // The owner's bits for the owner, the group's for the group, else the others'.
        let shift = if self.uid == uid {
            6
        } else if gid == Some(self.gid) {
            3
        } else {
            0
        };
        let bits = (self.mode >> shift) & 0o7;
        // Write, and search too, or nothing inside can be reached.
        bits & 0o2 != 0 && bits & 0o1 != 0
    }

    /// `uid:gid mode` as people read it (`999:999 1777`).
    pub fn owner(&self) -> String {
        format!("{}:{} {:o}", self.uid, self.gid, self.mode)
    }
}

/// How much of a stream is read.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub entries: usize,
    /// Folders kept (those not plainly root's are few in real images).
    pub folders: usize,
}

pub const LIMITS: Limits = Limits { entries: 200_000, folders: 2_000 };

/// What one stream gave.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scan {
    pub folders: Vec<Folder>,
    /// False when a limit or a malformed entry cut the reading short.
    pub complete: bool,
}

/// Reads the tar stream of the folder `parent`/NAME (`parent` is the folder it sits in,
/// `/` for a top-level one), keeping folders in `keep` (always) and those whose owner
/// or mode is not plain root's.
pub fn scan(reader: impl Read, parent: &str, keep: &[String], limits: Limits) -> Scan {
    let mut archive = tar::Archive::new(reader);
    let mut out = Scan { folders: Vec::new(), complete: true };
    // Folder path → its index in `out.folders`, for marking it non-empty.
    let mut index: HashMap<String, usize> = HashMap::new();
    let entries = match archive.entries() {
        Ok(e) => e,
        Err(_) => return Scan { complete: false, ..out },
    };
    for (n, entry) in entries.enumerate() {
        if n >= limits.entries {
            out.complete = false;
            break;
        }
        let Ok(entry) = entry else {
            out.complete = false;
            break;
        };
        let Ok(raw) = entry.path() else { continue };
        let Some(path) = absolute(parent, &raw.to_string_lossy()) else { continue };
        if let Some(up) = parent_of(&path)
            && let Some(&i) = index.get(up)
        {
            out.folders[i].empty = false;
        }
        let header = entry.header();
        if !header.entry_type().is_dir() {
            continue;
        }
        let (Ok(uid), Ok(gid), Ok(mode)) = (header.uid(), header.gid(), header.mode()) else { continue };
        let (Ok(uid), Ok(gid)) = (u32::try_from(uid), u32::try_from(gid)) else { continue };
        let plain_root = uid == 0 && gid == 0 && mode & 0o022 == 0;
        if plain_root && !keep.contains(&path) {
            continue;
        }
        if out.folders.len() >= limits.folders {
            out.complete = false;
            continue;
        }
        index.insert(path.clone(), out.folders.len());
        out.folders.push(Folder { path, uid, gid, mode: mode & 0o7777, empty: true });
    }
    out
}

/// `parent` joined with an entry name, cleaned; `None` for names that climb out or hold
/// control characters (never printed or mounted).
fn absolute(parent: &str, name: &str) -> Option<String> {
    if name.chars().any(char::is_control) {
        return None;
    }
    let mut parts: Vec<&str> = parent.split('/').filter(|p| !p.is_empty()).collect();
    for part in name.split('/') {
        match part {
            "" | "." => {}
            ".." => return None,
            p => parts.push(p),
        }
    }
    Some(format!("/{}", parts.join("/")))
}

fn parent_of(path: &str) -> Option<&str> {
    match path.rfind('/') {
        Some(0) if path.len() > 1 => Some("/"),
        Some(0) | None => None,
        Some(i) => Some(&path[..i]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Path, uid, gid, mode, and the data of a file (`None`: a folder).
    type Entry<'a> = (&'a str, u32, u32, u32, Option<&'a [u8]>);

    /// A tar archive as the archive API sends one, built with the tar crate's writer.
    fn archive(entries: &[Entry]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (path, uid, gid, mode, data) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_uid(*uid as u64);
            h.set_gid(*gid as u64);
            h.set_mode(*mode);
            match data {
                None => {
                    h.set_entry_type(tar::EntryType::Directory);
                    h.set_size(0);
                    b.append_data(&mut h, path, &[][..]).unwrap();
                }
                Some(d) => {
                    h.set_entry_type(tar::EntryType::Regular);
                    h.set_size(d.len() as u64);
                    b.append_data(&mut h, path, *d).unwrap();
                }
            }
        }
        b.into_inner().unwrap()
    }

    #[test]
    fn keeps_folders_that_are_not_plainly_roots() {
        let tar = archive(&[
            ("var/", 0, 0, 0o755, None),
            ("var/lib/", 0, 0, 0o755, None),
            ("var/lib/nginx/", 33, 33, 0o755, None),
            ("var/lib/dpkg/", 0, 0, 0o755, None),
            ("var/lib/dpkg/status", 0, 0, 0o644, Some(b"Package: x\n")),
            ("var/tmp/", 0, 0, 0o1777, None),
            ("var/tmp/keep", 0, 0, 0o644, Some(b"")),
            ("var/lib/pg/", 999, 999, 0o700, None),
            ("var/lib/pg/sub/", 0, 0, 0o755, None),
        ]);
        let s = scan(&tar[..], "/", &["/var".into()], LIMITS);
        assert!(s.complete);
        let got: Vec<(&str, String, bool)> = s.folders.iter().map(|f| (f.path.as_str(), f.owner(), f.empty)).collect();
        assert_eq!(
            got,
            [
                ("/var", "0:0 755".to_string(), false),
                ("/var/lib/nginx", "33:33 755".into(), true),
                ("/var/tmp", "0:0 1777".into(), false),
                ("/var/lib/pg", "999:999 700".into(), false),
            ]
        );
    }

    #[test]
    fn nested_roots_and_hostile_names() {
        let tar = archive(&[("nginx/", 33, 33, 0o755, None), ("nginx/body/", 33, 33, 0o700, None)]);
        let s = scan(&tar[..], "/var/lib", &[], LIMITS);
        assert_eq!(s.folders[0].path, "/var/lib/nginx");
        assert!(!s.folders[0].empty);
        assert_eq!(s.folders[1].path, "/var/lib/nginx/body");
        assert_eq!(absolute("/", "a/../../etc"), None);
        assert_eq!(absolute("/", "a\x1b[2J/"), None);
        assert_eq!(absolute("/", "./a//b/"), Some("/a/b".into()));
    }

    #[test]
    fn limits_and_garbage_cut_the_reading_short() {
        let tar = archive(&[("a/", 1, 1, 0o755, None), ("b/", 1, 1, 0o755, None), ("c/", 1, 1, 0o755, None)]);
        let s = scan(&tar[..], "/", &[], Limits { entries: 2, folders: 10 });
        assert_eq!((s.folders.len(), s.complete), (2, false));
        let s = scan(&tar[..], "/", &[], Limits { entries: 10, folders: 1 });
        assert_eq!((s.folders.len(), s.complete), (1, false));
        let s = scan(&tar[..700], "/", &[], LIMITS);
        assert!(!s.complete, "a stream cut in the middle");
        let s = scan(&b"not a tar archive at all"[..], "/", &[], LIMITS);
        assert!(s.folders.is_empty());
    }

    #[test]
    fn who_may_write() {
        let f = |uid, gid, mode| Folder { path: "/x".into(), uid, gid, mode, empty: true };
        assert!(f(33, 33, 0o755).writable_by(33, Some(33)));
        assert!(!f(33, 33, 0o755).writable_by(65532, Some(65532)));
        assert!(f(0, 0, 0o1777).writable_by(65532, None));
        assert!(f(0, 50, 0o775).writable_by(1000, Some(50)));
        assert!(!f(0, 50, 0o775).writable_by(1000, Some(51)));
        assert!(!f(33, 33, 0o577).writable_by(33, Some(33)), "the owner's bits decide for the owner");
        assert!(!f(0, 0, 0o1776).writable_by(1, None), "no search permission");
    }
}
