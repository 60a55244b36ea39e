//! Image references as docker parses and normalises them: `nginx`, `nginx:1.25`,
//! `registry.example.com:5000/team/app@sha256:...`, `docker.io/library/nginx`.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    /// Registry host (with port), `docker.io` when none was written.
    pub domain: String,
    /// Repository path, with `library/` for official Docker Hub images.
    pub path: String,
    pub tag: Option<String>,
    /// `sha256:<64 hex>`.
    pub digest: Option<String>,
}

impl ImageRef {
    pub fn parse(reference: &str) -> Result<Self, String> {
        let bad = |why: &str| format!("invalid image reference {reference:?}: {why}");
        if reference.is_empty() {
            return Err(bad("it is empty"));
        }
        let (rest, digest) = match reference.split_once('@') {
            Some((r, d)) => (r, Some(d)),
            None => (reference, None),
        };
        if let Some(d) = digest {
            let (algo, hex) = d.split_once(':').ok_or_else(|| bad("the digest needs algorithm:hex"))?;
            let valid = match algo {
                "sha256" => hex.len() == 64,
                "sha384" => hex.len() == 96,
                "sha512" => hex.len() == 128,
                _ => false,
            } && hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
            if !valid {
                return Err(bad("the digest is not a valid sha256/sha384/sha512 digest"));
            }
        }
        // A tag follows the last ':' that comes after the last '/'.
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
            None => (rest, None),
        };
        if let Some(t) = tag {
            let mut chars = t.chars();
            let ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
                && t.len() <= 128
                && chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
            if !ok {
                return Err(bad("the tag may hold letters, digits, '_', '.', '-' (128 at most)"));
            }
        }
        let (domain, path) = match name.split_once('/') {
            Some((first, remainder))
                if first.contains('.')
                    || first.contains(':')
                    || first == "localhost"
                    || first.chars().any(|c| c.is_ascii_uppercase()) =>
            {
                (first.to_string(), remainder.to_string())
            }
            _ => ("docker.io".to_string(), name.to_string()),
        };
        let domain = if domain == "index.docker.io" { "docker.io".to_string() } else { domain };
        if path.chars().any(|c| c.is_ascii_uppercase()) {
            return Err(bad("repository names must be lowercase"));
        }
        for component in path.split('/') {
            if !valid_component(component) {
                return Err(bad(
                    "each path part must be lowercase letters and digits, separated by '.', '_', '__' or '-'",
                ));
            }
        }
        let path = if domain == "docker.io" && !path.contains('/') { format!("library/{path}") } else { path };
        Ok(ImageRef { domain, path, tag: tag.map(str::to_string), digest: digest.map(str::to_string) })
    }

    /// `latest` or no tag and no digest: the image behind it changes without notice.
    pub fn is_floating(&self) -> bool {
        self.digest.is_none() && self.tag.as_deref().is_none_or(|t| t == "latest")
    }

    /// The repository without tag or digest, fully qualified (`docker.io/library/nginx`).
    pub fn repository(&self) -> String {
        format!("{}/{}", self.domain, self.path)
    }

    /// The short form docker prints (`nginx:1.25`, `ghcr.io/x/y:1`).
    pub fn familiar(&self) -> String {
        let repo = match (self.domain.as_str(), self.path.strip_prefix("library/")) {
            ("docker.io", Some(short)) if !short.contains('/') => short.to_string(),
            ("docker.io", _) => self.path.clone(),
            _ => self.repository(),
        };
        let mut s = repo;
        if let Some(t) = &self.tag {
            s += &format!(":{t}");
        }
        if let Some(d) = &self.digest {
            s += &format!("@{d}");
        }
        s
    }

    /// The same repository pinned to `digest` (the tag kept for readers).
    pub fn pinned(&self, digest: &str) -> ImageRef {
        ImageRef { digest: Some(digest.to_string()), ..self.clone() }
    }

    /// The digest docker recorded for this repository among an image's `RepoDigests`
    /// (`127.0.0.1:5000/app@sha256:...`), if it was pulled from or pushed to it.
    pub fn digest_among(&self, repo_digests: &[String]) -> Option<String> {
        let repo = self.repository();
        repo_digests.iter().filter_map(|r| ImageRef::parse(r).ok()).find(|r| r.repository() == repo)?.digest
    }

    /// Whether the tag names at least a major.minor version (`1.25`, `v2.3.1`, `1.25-alpine`).
    pub fn has_minor_version(&self) -> bool {
        let Some(tag) = &self.tag else { return self.digest.is_some() };
        let t = tag.strip_prefix('v').unwrap_or(tag);
        let mut parts = t.split(['.', '-', '_']);
        let major = parts.next().unwrap_or_default();
        let minor = parts.next().unwrap_or_default();
        !major.is_empty()
            && !minor.is_empty()
            && major.bytes().all(|b| b.is_ascii_digit())
            && minor.bytes().all(|b| b.is_ascii_digit())
            && t.as_bytes().get(major.len()) == Some(&b'.')
    }
}

fn valid_component(c: &str) -> bool {
    if c.is_empty() || !c.starts_with(|ch: char| ch.is_ascii_lowercase() || ch.is_ascii_digit()) {
        return false;
    }
    if !c.ends_with(|ch: char| ch.is_ascii_lowercase() || ch.is_ascii_digit()) {
        return false;
    }
    let bytes = c.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b.is_ascii_lowercase() || b.is_ascii_digit() {
            i += 1;
            continue;
        }
        // Separators: '.', '_', '__', or one or more '-'.
        let run_end = bytes[i..].iter().position(|x| !matches!(x, b'.' | b'_' | b'-')).map_or(bytes.len(), |p| i + p);
        let sep = &c[i..run_end];
        if !(sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|x| x == b'-')) {
            return false;
        }
        i = run_end;
    }
    true
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.familiar())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn normalises_like_docker() {
        let r = ImageRef::parse("nginx").unwrap();
        assert_eq!((r.repository().as_str(), r.tag.as_deref()), ("docker.io/library/nginx", None));
        assert!(r.is_floating());
        let r = ImageRef::parse("nginx:1.25").unwrap();
        assert_eq!(r.familiar(), "nginx:1.25");
        assert!(!r.is_floating());
        let r = ImageRef::parse("localhost:5000/team/app:2").unwrap();
        assert_eq!((r.domain.as_str(), r.path.as_str(), r.tag.as_deref()), ("localhost:5000", "team/app", Some("2")));
        let r = ImageRef::parse("127.0.0.1:5000/app").unwrap();
        assert_eq!(r.domain, "127.0.0.1:5000");
        let r = ImageRef::parse("user/app:latest").unwrap();
        assert_eq!(r.repository(), "docker.io/user/app");
        assert!(r.is_floating());
        let r = ImageRef::parse(&format!("app@{D}")).unwrap();
        assert!(!r.is_floating());
        assert_eq!(r.familiar(), format!("app@{D}"));
        assert_eq!(ImageRef::parse("index.docker.io/library/nginx:1").unwrap().familiar(), "nginx:1");
    }

    #[test]
    fn rejects_invalid() {
        for bad in ["", "UPPER", "app:", "app:-x", "app@sha256:xyz", "a//b", "app_:1", "-app", "app@md5:00"] {
            assert!(ImageRef::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn digests_of_the_same_repository() {
        let digests = vec![format!("127.0.0.1:5000/team/app@{D}"), format!("nginx@{D}")];
        let r = ImageRef::parse("127.0.0.1:5000/team/app:1").unwrap();
        assert_eq!(r.digest_among(&digests).as_deref(), Some(D));
        assert_eq!(ImageRef::parse("docker.io/library/nginx:1.25").unwrap().digest_among(&digests).as_deref(), Some(D));
        assert_eq!(ImageRef::parse("team/app:1").unwrap().digest_among(&digests), None, "another registry");
        assert_eq!(r.digest_among(&[]), None);
        assert_eq!(r.pinned(D).familiar(), format!("127.0.0.1:5000/team/app:1@{D}"));
    }

    #[test]
    fn minor_versions() {
        for t in ["app:1.25", "app:1.25.3", "app:v2.3", "app:1.25-alpine"] {
            assert!(ImageRef::parse(t).unwrap().has_minor_version(), "{t}");
        }
        for t in ["app:1", "app:stable", "app:latest", "app", "app:2-alpine"] {
            assert!(!ImageRef::parse(t).unwrap().has_minor_version(), "{t}");
        }
    }
}
