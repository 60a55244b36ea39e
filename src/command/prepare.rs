//! Making what the plan needs on this machine before the container is created: bind
//! sources that do not exist yet, owned by the user the container runs as (docker would
//! create them owned by root, and that user could not write them).

use std::path::Path;

use anyhow::{Context as _, Result};

use crate::plan::Prepare;

pub fn bind_sources(prepare: &[Prepare]) -> Result<()> {
    for p in prepare {
        let path = Path::new(&p.path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
        }
        match std::fs::create_dir(path) {
            Ok(()) => {}
            // Made meanwhile by someone else: theirs, left as it is.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e).with_context(|| format!("cannot create {}", path.display())),
        }
        if let Some((uid, gid)) = p.owner {
            // lchown: should the folder be swapped for a symlink meanwhile, only the link changes.
            std::os::unix::fs::lchown(path, Some(uid), Some(gid))
                .with_context(|| format!("cannot give {} to {uid}:{gid}", path.display()))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_missing_folders_and_leaves_existing_ones() {
        let d = tempfile::tempdir().unwrap();
        let made = d.path().join("a/b/data");
        let existing = d.path().join("kept");
        std::fs::create_dir(&existing).unwrap();
        let me = crate::host::effective_uid().unwrap();
        bind_sources(&[
            Prepare { path: made.display().to_string(), owner: Some((me, me)) },
            Prepare { path: existing.display().to_string(), owner: Some((4242, 4242)) },
        ])
        .unwrap();
        assert!(made.is_dir());
        use std::os::unix::fs::MetadataExt;
        assert_ne!(std::fs::metadata(&existing).unwrap().uid(), 4242, "not ours: left alone");
    }
}
