//! The gate's on-disk cache, so a run of an image already checked costs one inspect and
//! two small file reads. What is read from an image (history, a look inside) is keyed by
//! the image ID, a digest of the image's configuration, and never goes stale. Scan
//! findings are keyed by image ID and scanner, and expire: vulnerability databases move.
//! Best effort throughout: an entry that cannot be read or written is gathered again.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::facts::Contents;
use super::scan::Finding;

/// How long scan findings are trusted.
pub const SCAN_TTL: Duration = Duration::from_secs(24 * 60 * 60);

/// Bumped when what is gathered changes (e.g. the probed paths), so old entries are redone.
const FORMAT: u32 = 3;

/// What is read from an image once.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageEntry {
    #[serde(default)]
    format: u32,
    pub history: Option<Vec<String>>,
    pub contents: Option<Contents>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct ScanEntry {
    scanner: String,
    /// Seconds since the epoch.
    scanned_at: u64,
    findings: Vec<Finding>,
}

/// The cache folder: `$XDG_CACHE_HOME/hardrun` (`~/.cache/hardrun` when unset).
pub struct Cache {
    dir: PathBuf,
}

/// `sha256:abc` → `abc`, or `None` for anything that is not a plain digest (never a path).
fn file_stem(image_id: &str) -> Option<&str> {
    let hex = image_id.strip_prefix("sha256:").unwrap_or(image_id);
    (!hex.is_empty() && hex.len() <= 128 && hex.bytes().all(|b| b.is_ascii_hexdigit())).then_some(hex)
}

/// A short stable name for a scanner command (FNV-1a, as the seccomp cache names files).
fn scanner_key(scanner: &str) -> String {
    let hash = scanner.bytes().fold(0xcbf29ce484222325u64, |h, b| (h ^ b as u64).wrapping_mul(0x100000001b3));
    format!("{hash:016x}")
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

impl Cache {
    pub fn new(base: &Path) -> Cache {
        Cache { dir: base.join("hardrun") }
    }

    fn image_path(&self, image_id: &str) -> Option<PathBuf> {
        Some(self.dir.join("image").join(format!("{}.json", file_stem(image_id)?)))
    }

    fn scan_path(&self, image_id: &str, scanner: &str) -> Option<PathBuf> {
        Some(self.dir.join("scan").join(format!("{}-{}.json", file_stem(image_id)?, scanner_key(scanner))))
    }

    pub fn image(&self, image_id: &str) -> ImageEntry {
        let entry: Option<ImageEntry> = self.image_path(image_id).and_then(|p| read(&p));
        entry.filter(|e| e.format == FORMAT).unwrap_or_default()
    }

    pub fn store_image(&self, image_id: &str, entry: &ImageEntry) {
        let entry = ImageEntry { format: FORMAT, ..entry.clone() };
        if let Some(p) = self.image_path(image_id) {
            write(&p, &entry);
        }
    }

    /// Findings of `scanner` for the image, if scanned within [`SCAN_TTL`].
    pub fn scan(&self, image_id: &str, scanner: &str) -> Option<Vec<Finding>> {
        let entry: ScanEntry = read(&self.scan_path(image_id, scanner)?)?;
        let fresh = now().saturating_sub(entry.scanned_at) < SCAN_TTL.as_secs();
        (entry.scanner == scanner && fresh).then_some(entry.findings)
    }

    pub fn store_scan(&self, image_id: &str, scanner: &str, findings: &[Finding]) {
        let entry = ScanEntry { scanner: scanner.into(), scanned_at: now(), findings: findings.to_vec() };
        if let Some(p) = self.scan_path(image_id, scanner) {
            write(&p, &entry);
        }
    }
}

/// An entry, when it is there, parses, and was written by this user: in a shared folder
/// (a temporary one, when no home is known) another user could plant a verdict.
pub(crate) fn read<T: for<'de> Deserialize<'de>>(path: &Path) -> Option<T> {
    use std::os::unix::fs::MetadataExt as _;
    let (bytes, meta) = crate::bounded_file::read_with_metadata(path, crate::bounded_file::CACHE_MAX).ok()?;
    let me = std::fs::metadata("/proc/self").map(|m| m.uid()).ok();
    if me.is_some_and(|uid| meta.uid() != uid) {
        return None;
    }
    serde_json::from_slice(&bytes).ok()
}

/// Write then rename, so a concurrent reader never sees half a file.
pub(crate) fn write<T: Serialize>(path: &Path, value: &T) {
    let Ok(json) = serde_json::to_vec(value) else { return };
    if let Some(parent) = path.parent() {
        let _ = std::fs::create_dir_all(parent);
    }
    let tmp = path.with_extension(format!("{}.tmp", std::process::id()));
    if std::fs::write(&tmp, json).is_ok() && std::fs::rename(&tmp, path).is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::scan::Severity;

    const ID: &str = "sha256:3b94ab57f58c853598ddbc5edb7848aa385b1f68031306a5cdbb6dc2fc256359";

    #[test]
    fn image_entries_round_trip_by_id() {
        let d = tempfile::tempdir().unwrap();
        let cache = Cache::new(d.path());
        assert_eq!(cache.image(ID), ImageEntry::default());
        let entry = ImageEntry { history: Some(vec!["Imported from -".into()]), ..ImageEntry::default() };
        cache.store_image(ID, &entry);
        assert_eq!(cache.image(ID).history, entry.history);
        assert!(d.path().join("hardrun/image").join(&ID[7..]).with_extension("json").exists());
        assert_eq!(cache.image("sha256:0000").history, None, "another image");
        assert_eq!(file_stem("../../etc/passwd"), None, "an ID is never a path");
    }

    #[test]
    fn scans_are_kept_per_scanner_and_expire() {
        let d = tempfile::tempdir().unwrap();
        let cache = Cache::new(d.path());
        let f = Finding {
            id: "CVE-1".into(),
            package: "p".into(),
            installed: "1".into(),
            fixed: None,
            severity: Severity::High,
            title: String::new(),
        };
        cache.store_scan(ID, "trivy", std::slice::from_ref(&f));
        assert_eq!(cache.scan(ID, "trivy"), Some(vec![f.clone()]));
        assert_eq!(cache.scan(ID, "grype"), None);
        let path = cache.scan_path(ID, "trivy").unwrap();
        let old = ScanEntry { scanner: "trivy".into(), scanned_at: now() - SCAN_TTL.as_secs() - 1, findings: vec![f] };
        write(&path, &old);
        assert_eq!(cache.scan(ID, "trivy"), None, "expired");
    }
}
