//! Which signatures an image needs, from the profile (`image.signatures`): pure. Keys
//! apply by scope (the longest matching `registries` entry, else the top-level `keys`),
//! or a containers `policy.json` decides (`policy: PATH`).

use sha2::{Digest as _, Sha256};

use super::containers::ContainersPolicy;
use super::judge::TrustedKey;
use crate::image::ImageRef;

/// `image.signatures`, resolved: key files read and parsed.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SignaturePolicy {
    /// Every run must verify (else only `image verify` and `--disable-content-trust=false` do).
    pub required: bool,
    /// Keys for an image no scope names.
    pub keys: Vec<TrustedKey>,
    /// `registries`: a registry (`ghcr.io`) or repository prefix (`ghcr.io/team`) and its keys.
    pub scopes: Vec<Scope>,
    /// Registries reached over plain HTTP (loopback ones always may be).
    pub plain_http: Vec<String>,
    pub containers: Option<ContainersPolicy>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Scope {
    pub scope: String,
    pub keys: Vec<TrustedKey>,
}

/// What an image needs.
#[derive(Debug, Clone, PartialEq)]
pub enum Rule {
    /// `insecureAcceptAnything`: nothing to verify.
    Anything,
    /// `reject`: never runs.
    Reject,
    /// One signature by a key of each set.
    Signed(Vec<KeySet>),
}

/// Keys any one of which must have signed; with `same_repository`, the payload's
/// `docker-reference` must also name the image's repository (containers' default
/// `matchRepoDigestOrExact`, for an image run by digest).
#[derive(Debug, Clone, PartialEq)]
pub struct KeySet {
    pub keys: Vec<TrustedKey>,
    pub same_repository: bool,
}

impl KeySet {
    pub fn any_of(keys: Vec<TrustedKey>) -> KeySet {
        KeySet { keys, same_repository: false }
    }
}

/// The rule for one image and the setting it came from (a profile key, or
/// `policy.json` and its scope).
#[derive(Debug, Clone, PartialEq)]
pub struct Requirement {
    pub rule: Rule,
    pub source: String,
}

impl Requirement {
    /// The keys expected, for messages: `cosign.pub (ECDSA P-256)`.
    pub fn expected(&self) -> String {
        match &self.rule {
            Rule::Anything => "nothing (any image is accepted)".into(),
            Rule::Reject => "nothing (every image is rejected)".into(),
            Rule::Signed(sets) if sets.iter().all(|s| s.keys.is_empty()) => "no keys are configured".into(),
            Rule::Signed(sets) => sets
                .iter()
                .map(|s| {
                    s.keys.iter().map(|k| format!("{} ({})", k.path, k.key.kind())).collect::<Vec<_>>().join(" or ")
                })
                .collect::<Vec<_>>()
                .join(", and "),
        }
    }

    /// Names the rule's content (keys by fingerprint): a cached verdict holds only for the
    /// same rule.
    pub fn fingerprint(&self) -> String {
        let text = match &self.rule {
            Rule::Anything => "anything".to_string(),
            Rule::Reject => "reject".to_string(),
            Rule::Signed(sets) => sets
                .iter()
                .map(|s| {
                    let mut f: Vec<String> = s.keys.iter().map(|k| k.key.fingerprint()).collect();
                    f.sort();
                    format!("{}{}", f.join(","), if s.same_repository { "+repo" } else { "" })
                })
                .collect::<Vec<_>>()
                .join(";"),
        };
        super::key::hex(&Sha256::digest(text.as_bytes()))
    }
}

impl SignaturePolicy {
    /// The requirement for `image`.
    pub fn requirement(&self, image: &ImageRef) -> Requirement {
        if let Some(c) = &self.containers {
            return c.requirement(image);
        }
        let repo = image.repository();
        let best =
            self.scopes.iter().filter(|s| scope_matches(&s.scope, &image.domain, &repo)).max_by_key(|s| s.scope.len());
        match best {
            Some(s) => Requirement {
                rule: Rule::Signed(vec![KeySet::any_of(s.keys.clone())]),
                source: format!("image.signatures.registries.{}", s.scope),
            },
            None => Requirement {
                rule: Rule::Signed(vec![KeySet::any_of(self.keys.clone())]),
                source: "image.signatures.keys".into(),
            },
        }
    }

    /// Whether `domain` may be reached over plain HTTP: loopback, or listed.
    pub fn plain_http_allowed(&self, domain: &str) -> bool {
        is_loopback(domain) || self.plain_http.iter().any(|d| d == domain)
    }
}

/// `ghcr.io` matches every repository there, `ghcr.io/team` those under `team/`.
pub fn scope_matches(scope: &str, domain: &str, repository: &str) -> bool {
    scope == domain || repository == scope || repository.strip_prefix(scope).is_some_and(|r| r.starts_with('/'))
}

/// `localhost`, `127.x.y.z` and `[::1]`, with or without a port.
pub fn is_loopback(domain: &str) -> bool {
    let host = if let Some(rest) = domain.strip_prefix('[') {
        rest.split(']').next().unwrap_or_default()
    } else {
        domain.split(':').next().unwrap_or_default()
    };
    host == "localhost" || host == "::1" || host.parse::<std::net::Ipv4Addr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::pkcs8::EncodePublicKey as _;

    fn key(seed: u8) -> TrustedKey {
        let sk = p256::ecdsa::SigningKey::from_slice(&[seed; 32]).unwrap();
        let pem = sk.verifying_key().to_public_key_pem(Default::default()).unwrap();
        TrustedKey { path: format!("k{seed}.pub"), key: super::super::key::PublicKey::from_pem(&pem).unwrap() }
    }

    #[test]
    fn the_longest_matching_scope_gives_the_keys() {
        let p = SignaturePolicy {
            required: true,
            keys: vec![key(1)],
            scopes: vec![
                Scope { scope: "ghcr.io".into(), keys: vec![key(2)] },
                Scope { scope: "ghcr.io/team".into(), keys: vec![key(3)] },
            ],
            ..Default::default()
        };
        let r = |s: &str| p.requirement(&ImageRef::parse(s).unwrap());
        assert_eq!(r("nginx:1").rule, Rule::Signed(vec![KeySet::any_of(vec![key(1)])]));
        assert_eq!(r("ghcr.io/other/x:1").rule, Rule::Signed(vec![KeySet::any_of(vec![key(2)])]));
        assert_eq!(r("ghcr.io/team/x:1").rule, Rule::Signed(vec![KeySet::any_of(vec![key(3)])]));
        assert_eq!(
            r("ghcr.io/teamx/x:1").rule,
            Rule::Signed(vec![KeySet::any_of(vec![key(2)])]),
            "a prefix stops at '/'"
        );
        assert_eq!(r("ghcr.io/team/x:1").source, "image.signatures.registries.ghcr.io/team");
        assert_ne!(r("ghcr.io/team/x:1").fingerprint(), r("nginx:1").fingerprint());
        assert_eq!(r("nginx:1").expected(), "k1.pub (ECDSA P-256)");
    }

    #[test]
    fn only_loopback_and_listed_registries_use_plain_http() {
        let p = SignaturePolicy { plain_http: vec!["reg.lan:5000".into()], ..Default::default() };
        for d in ["127.0.0.1:5000", "localhost", "[::1]:80", "reg.lan:5000", "127.9.9.9"] {
            assert!(p.plain_http_allowed(d), "{d}");
        }
        for d in ["reg.lan", "ghcr.io", "128.0.0.1:5000", "localhost.evil.com"] {
            assert!(!p.plain_http_allowed(d), "{d}");
        }
    }
}
