//! Verdicts already reached, so a second run of a verified digest asks no registry. An
//! entry is keyed by the repository, the digest and the fingerprint of the rule it was
//! judged by (the keys' fingerprints), and holds them again: an entry copied or linked
//! under another name does not match. The repository is part of the key because
//! signatures are stored, and may be bound, per repository. Only acceptances are kept: a missing signature may appear later.
//! Entries are read as the gate's cache reads (size cap, regular file, owned by this user).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use super::judge::Accepted;
use super::key::hex;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Entry {
    repository: String,
    digest: String,
    rule: String,
    accepted: Vec<Accepted>,
}

pub struct VerdictCache {
    dir: PathBuf,
}

impl VerdictCache {
    /// Under `base/hardrun/signatures` (`base` is the user's cache folder).
    pub fn new(base: &Path) -> VerdictCache {
        VerdictCache { dir: base.join("hardrun").join("signatures") }
    }

    fn path(&self, repository: &str, digest: &str, rule: &str) -> PathBuf {
        let name = hex(&Sha256::digest(format!("{repository}\n{digest}\n{rule}").as_bytes()));
        self.dir.join(format!("{name}.json"))
    }

    pub fn get(&self, repository: &str, digest: &str, rule: &str) -> Option<Vec<Accepted>> {
        let e: Entry = crate::image::cache::read(&self.path(repository, digest, rule))?;
        (e.repository == repository
            && e.digest == digest
            && e.rule == rule
            && e.accepted.iter().all(|a| a.digest == digest))
        .then_some(e.accepted)
    }

    pub fn put(&self, repository: &str, digest: &str, rule: &str, accepted: &[Accepted]) {
        let e = Entry {
            repository: repository.into(),
            digest: digest.into(),
            rule: rule.into(),
            accepted: accepted.to_vec(),
        };
        crate::image::cache::write(&self.path(repository, digest, rule), &e);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accepted(digest: &str) -> Accepted {
        Accepted {
            digest: digest.into(),
            key_path: "k.pub".into(),
            key_fingerprint: "sha256:00".into(),
            key_kind: "Ed25519".into(),
            docker_reference: "r".into(),
        }
    }

    #[test]
    fn verdicts_hold_for_their_digest_and_rule_only() {
        let d = tempfile::tempdir().unwrap();
        let c = VerdictCache::new(d.path());
        assert_eq!(c.get("reg/app", "sha256:a", "r1"), None);
        c.put("reg/app", "sha256:a", "r1", &[accepted("sha256:a")]);
        assert_eq!(c.get("reg/app", "sha256:a", "r1"), Some(vec![accepted("sha256:a")]));
        assert_eq!(c.get("reg/app", "sha256:a", "r2"), None, "another rule (other keys)");
        assert_eq!(c.get("reg/app", "sha256:b", "r1"), None);
        assert_eq!(c.get("reg/other", "sha256:a", "r1"), None, "another repository");
        // An entry moved under another digest's name does not count.
        std::fs::copy(c.path("reg/app", "sha256:a", "r1"), c.path("reg/app", "sha256:b", "r1")).unwrap();
        assert_eq!(c.get("reg/app", "sha256:b", "r1"), None);
        std::fs::write(c.path("reg/app", "sha256:a", "r1"), "not json").unwrap();
        assert_eq!(c.get("reg/app", "sha256:a", "r1"), None);
    }
}
