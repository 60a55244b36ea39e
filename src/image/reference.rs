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

/// The longest repository name docker accepts, registry included (`NameTotalLengthMax`).
pub const NAME_MAX: usize = 255;

/// The longest tag docker accepts.
pub const TAG_MAX: usize = 128;

/// The longest reference there can be: a name, a tag and a sha512 digest.
const REFERENCE_MAX: usize = NAME_MAX + 1 + TAG_MAX + 1 + "sha512:".len() + 128;

impl ImageRef {
    /// Parses and normalises a reference as docker does (distribution/reference's grammar
    /// and `ParseNormalizedNamed`). Linear in the length of the text; every error is one
    /// line saying what is wrong. Where docker's own two readings could differ (a first
    /// part docker takes for a registry that is not a valid host name), it is refused.
    pub fn parse(reference: &str) -> Result<Self, String> {
        let bad = |why: &str| {
            let shown = crate::sanitize::line(reference, 80);
            format!("invalid image reference \"{shown}\": {why}; write it as [REGISTRY[:PORT]/]NAME[:TAG][@DIGEST]")
        };
        if reference.is_empty() {
            return Err(bad("it is empty"));
        }
        if reference.len() > REFERENCE_MAX {
            return Err(bad(&format!("it is longer than the {REFERENCE_MAX} characters a reference can have")));
        }
        if is_image_id(reference) {
            return Err(bad("that is an image ID, not a reference: name the image (REPOSITORY:TAG, or \
                 REPOSITORY@sha256:... as `hardrun plan --pin` prints it)"));
        }
        let (rest, digest) = match reference.split_once('@') {
            Some((r, d)) => (r, Some(d)),
            None => (reference, None),
        };
        if let Some(d) = digest
            && !valid_digest(d)
        {
            return Err(bad("the digest must be sha256:<64 hex>, sha384:<96 hex> or sha512:<128 hex>, in lowercase"));
        }
        // A tag follows the last ':' after the last '/' (before it, ':' only opens a port).
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
            None => (rest, None),
        };
        if let Some(t) = tag
            && !valid_tag(t)
        {
            return Err(bad(
                "the tag may hold letters, digits, '_', '.' and '-', may not start with '.' or '-', and is at most \
                 128 characters",
            ));
        }
        let (domain, path) = split_domain(name);
        if domain != DEFAULT_DOMAIN && !valid_domain(domain) {
            return Err(bad(&format!(
                "the registry {domain:?} is not a host name, an IPv4 address or an [IPv6] address with an \
                 optional :PORT"
            )));
        }
        if path.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(bad("repository names must be lowercase"));
        }
        if let Some(c) = path.chars().find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || "._-/".contains(*c))) {
            return Err(bad(&format!("{c:?} cannot appear in a repository name")));
        }
        if !path.split('/').all(|c| valid_component(c.as_bytes())) {
            return Err(bad(
                "each part of the repository path must be lowercase letters and digits, joined by '.', '_', '__' or \
                 '-' (never at the start or the end)",
            ));
        }
        let path = if domain == DEFAULT_DOMAIN && !path.contains('/') { format!("library/{path}") } else { path };
        if domain.len() + 1 + path.len() > NAME_MAX {
            return Err(bad(&format!("the repository name is longer than {NAME_MAX} characters")));
        }
        Ok(ImageRef {
            domain: domain.to_string(),
            path,
            tag: tag.map(str::to_string),
            digest: digest.map(str::to_string),
        })
    }

    /// `latest` or no tag and no digest: the image behind it changes without notice.
    pub fn is_floating(&self) -> bool {
        self.digest.is_none() && self.tag.as_deref().is_none_or(|t| t == "latest")
    }

    /// The repository without tag or digest, fully qualified (`docker.io/library/nginx`).
    pub fn repository(&self) -> String {
        format!("{}/{}", self.domain, self.path)
    }

    /// The short form docker prints (`nginx:1.25`, `ghcr.io/x/y:1`), which parses back to
    /// the same reference: a Docker Hub path whose first part would read as a registry
    /// (`docker.io/a.b/c`) keeps its `docker.io/`, and an official image named like an
    /// image ID keeps its `library/`.
    pub fn familiar(&self) -> String {
        let first = self.path.split('/').next().unwrap_or_default();
        let reads_as_registry = self.path.contains('/') && (first.contains('.') || first == "localhost");
        let repo = match (self.domain.as_str(), self.path.strip_prefix("library/")) {
            ("docker.io", Some(short)) if !short.contains('/') && !is_image_id(short) => short.to_string(),
            ("docker.io", _) if !reads_as_registry => self.path.clone(),
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

/// Docker Hub, where a reference without a registry points.
const DEFAULT_DOMAIN: &str = "docker.io";

/// Docker's split of a name into registry and path (`splitDockerDomain`): the first part
/// is a registry when it holds a '.' or a ':', is `localhost`, or has an uppercase letter
/// (repository paths cannot). `index.docker.io` is Docker Hub's old name.
fn split_domain(name: &str) -> (&str, String) {
    match name.split_once('/') {
        Some((first, rest))
            if first.contains(['.', ':']) || first == "localhost" || first.bytes().any(|b| b.is_ascii_uppercase()) =>
        {
            let domain = if first == "index.docker.io" { DEFAULT_DOMAIN } else { first };
            (domain, rest.to_string())
        }
        _ => (DEFAULT_DOMAIN, name.to_string()),
    }
}

/// `alnum+ (separator alnum+)*`, where alnum is `[a-z0-9]` and a separator is `.`, `_`,
/// `__` or one or more `-`. Each step consumes at least one byte or ends the scan.
fn valid_component(c: &[u8]) -> bool {
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let mut i = 0;
    loop {
        let start = i;
        while i < c.len() && alnum(c[i]) {
            i += 1;
        }
        if i == start {
            return false;
        }
        if i == c.len() {
            return true;
        }
        match c[i] {
            b'.' => i += 1,
            b'_' => i += if c.get(i + 1) == Some(&b'_') { 2 } else { 1 },
            b'-' => {
                while c.get(i) == Some(&b'-') {
                    i += 1;
                }
            }
            _ => return false,
        }
    }
}

/// `host[:port]`: a host name or IPv4 address (`[a-zA-Z0-9]` labels with inner '-',
/// joined by '.'), or an IPv6 address in brackets; the port is digits.
fn valid_domain(domain: &str) -> bool {
    let (host_ok, port) = match domain.strip_prefix('[') {
        Some(inner) => match inner.split_once(']') {
            Some((v6, port)) => (!v6.is_empty() && v6.bytes().all(|b| b.is_ascii_hexdigit() || b == b':'), port),
            None => return false,
        },
        None => {
            let (host, port) = domain.find(':').map_or((domain, ""), |i| domain.split_at(i));
            (host.split('.').all(valid_label), port)
        }
    };
    let port_ok = port.is_empty()
        || port.strip_prefix(':').is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    host_ok && port_ok
}

/// A host name label: letters and digits, with '-' inside.
fn valid_label(label: &str) -> bool {
    let b = label.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
}

/// `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
fn valid_tag(tag: &str) -> bool {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let b = tag.as_bytes();
    !b.is_empty() && b.len() <= TAG_MAX && word(b[0]) && b.iter().all(|&c| word(c) || c == b'.' || c == b'-')
}

/// A digest docker can verify: a known algorithm and its exact length of lowercase hex.
fn valid_digest(digest: &str) -> bool {
    let Some((algorithm, hex)) = digest.split_once(':') else { return false };
    let len = match algorithm {
        "sha256" => 64,
        "sha384" => 96,
        "sha512" => 128,
        _ => return false,
    };
    hex.len() == len && hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// An image ID as docker writes it: 64 lowercase hex digits, bare or after `sha256:`.
fn is_image_id(text: &str) -> bool {
    let hex = text.strip_prefix("sha256:").unwrap_or(text);
    hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
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

    /// Each of these once spun forever in the path validator; each is now one line at once.
    #[test]
    fn invalid_characters_end_the_parse_with_one_line() {
        for (bad, says) in [
            ("a=b", "'=' cannot appear"),
            ("ok/a*b:1", "'*' cannot appear"),
            ("my image:1", "' ' cannot appear"),
            ("aéb:1", "'é' cannot appear"),
            ("a\x1b]0;x\x07:1", "'\\u{1b}' cannot appear"),
            (&"a".repeat(1 << 20), "longer than"),
            ("app/", "each part of the repository path"),
            ("a..b", "each part"),
            ("a___b", "each part"),
            ("a.-b", "each part"),
        ] {
            let e = ImageRef::parse(bad).unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
            assert!(!e.contains('\n') && !e.contains('\x1b'), "one line, no raw escape: {e:?}");
        }
    }

    /// distribution/reference's grammar, case by case.
    #[test]
    fn follows_the_distribution_grammar() {
        for good in [
            "a",
            "a-b",
            "a--b",
            "a---b",
            "a_b",
            "a__b",
            "a.b",
            "0",
            "a/b/c/d",
            "app:_tag",
            "app:Tag.1-x_y",
            &format!("app:{}", "t".repeat(128)),
            "localhost/app",
            "localhost:5000",
            "localhost:5000/app:1",
            "Registry.Example.COM/app",
            "Upper/app",
            "r-1.example.com:443/a/b",
            "127.0.0.1:5000/app",
            "[::1]:5000/app:1",
            "[fe80::1]/app",
            &format!("app@sha512:{}", "a".repeat(128)),
            &format!("app:1@sha384:{}", "0".repeat(96)),
        ] {
            assert!(ImageRef::parse(good).is_ok(), "{good}: {:?}", ImageRef::parse(good));
        }
        for bad in [
            "a_",
            "_a",
            "a-",
            "a.",
            "a.b.",
            "app:.x",
            &format!("app:{}", "t".repeat(129)),
            "-r.example.com/app",
            "r_x.example.com/app",
            "r.example.com:/app",
            "r.example.com:80x/app",
            "[::1/app",
            "[]:5000/app",
            "[xyz]/app",
            "docker.io/Upper",
            &format!("app@sha256:{}", "A".repeat(64)),
            &format!("app@sha256:{}", "a".repeat(63)),
            &format!("app@sha1:{}", "a".repeat(40)),
            "app@",
            "app@@sha256:x",
            &format!("{}/app", "a".repeat(250)),
        ] {
            assert!(ImageRef::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_name_is_at_most_255_characters_after_normalisation() {
        let longest = "a".repeat(NAME_MAX - "docker.io/library/".len());
        assert!(ImageRef::parse(&longest).is_ok());
        let e = ImageRef::parse(&format!("{longest}b")).unwrap_err();
        assert!(e.contains("longer than 255"), "{e}");
    }

    #[test]
    fn image_ids_are_not_references() {
        let id = "3b94ab57f58c853598ddbc5edb7848aa385b1f68031306a5cdbb6dc2fc256359";
        for bad in [id.to_string(), format!("sha256:{id}")] {
            assert!(ImageRef::parse(&bad).unwrap_err().contains("image ID"), "{bad}");
        }
        assert!(ImageRef::parse(&id[..12]).is_ok(), "a short hex string is a name");
    }

    #[test]
    fn the_short_form_parses_back_to_the_same_reference() {
        for r in [
            "nginx",
            "nginx:1.25",
            "user/app:2",
            "docker.io/library/a/b",
            "Upper/app",
            "localhost/app",
            "docker.io/a.b/c",
            "index.docker.io/localhost/c",
            "library/3b94ab57f58c853598ddbc5edb7848aa385b1f68031306a5cdbb6dc2fc256359",
            &format!("app@{D}"),
        ] {
            let parsed = ImageRef::parse(r).unwrap();
            assert_eq!(ImageRef::parse(&parsed.familiar()).unwrap(), parsed, "{r}");
        }
    }

    #[test]
    fn long_hostile_input_is_judged_in_linear_time() {
        let start = std::time::Instant::now();
        for filler in ["=", "a-", "-", "_", ".", "é", "a__", "a.", "a"] {
            let long = filler.repeat(1 << 20);
            assert!(!valid_component(long.as_bytes()) || filler == "a");
            assert!(ImageRef::parse(&long).is_err());
            assert!(ImageRef::parse(&filler.repeat(REFERENCE_MAX / filler.len())).is_err());
        }
        assert!(start.elapsed() < std::time::Duration::from_secs(2), "{:?}", start.elapsed());
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
