//! `image.signatures` resolved into a [`SignaturePolicy`]: every key file read (relative
//! to the profile file that names it) and parsed, scopes and the containers policy
//! checked, so a profile that cannot verify anything fails when it loads, not at a run.

use super::resolve::{Invalid, invalid};
use super::schema::SignaturesSection;
use crate::image::signature::containers::ContainersPolicy;
use crate::image::signature::judge::TrustedKey;
use crate::image::signature::key::PublicKey;
use crate::image::signature::policy::{Scope, SignaturePolicy};

/// Reads a file a profile key names: `(profile key, path as written)` → its text.
pub type ReadNamed<'a> = &'a dyn Fn(&str, &str) -> Result<String, String>;

pub fn resolve(section: Option<SignaturesSection>, read: ReadNamed) -> Result<SignaturePolicy, Invalid> {
    let Some(s) = section else { return Ok(SignaturePolicy::default()) };
    let keys = read_keys("image.signatures.keys", s.keys.unwrap_or_default(), read)?;
    let mut scopes = Vec::new();
    for (scope, section) in s.registries.unwrap_or_default() {
        let key = format!("image.signatures.registries.{scope}.keys");
        check_scope(&scope).map_err(|m| invalid("image.signatures.registries", &scope, m))?;
        let paths = section.keys.unwrap_or_default();
        if paths.is_empty() {
            return Err(invalid(&key, &scope, "lists no keys: name the public key files (cosign.pub) for this scope"));
        }
        scopes.push(Scope { scope, keys: read_keys(&key, paths, read)? });
    }
    let plain_http = s.plain_http.unwrap_or_default();
    if let Some(bad) = plain_http.iter().find(|d| d.is_empty() || d.contains('/') || d.contains("://")) {
        return Err(invalid(
            "image.signatures.plain_http",
            bad,
            "must be a registry HOST[:PORT], without scheme or path",
        ));
    }
    let containers = match &s.policy {
        None => None,
        Some(path) => {
            if !keys.is_empty() || !scopes.is_empty() {
                return Err(invalid(
                    "image.signatures.policy",
                    path,
                    "is set with keys or registries; use one: the policy file, or the profile's keys",
                ));
            }
            let text =
                read("image.signatures.policy", path).map_err(|e| invalid("image.signatures.policy", path, e))?;
            // Key files a policy names are read (and, for a project profile, trusted)
            // like the policy itself.
            let read_key = |p: &str| -> Result<String, String> {
                if !p.starts_with('/') {
                    return Err("must be an absolute path".into());
                }
                read("image.signatures.policy", p)
            };
            let parsed = ContainersPolicy::parse(path, &text, &read_key)
                .map_err(|e| invalid("image.signatures.policy", path, format!("{path} {e}")))?;
            Some(parsed)
        }
    };
    let required = s.required.unwrap_or(false);
    if required && keys.is_empty() && scopes.is_empty() && containers.is_none() {
        return Err(invalid(
            "image.signatures.required",
            "true",
            "requires signatures but names no keys: set image.signatures.keys (cosign.pub files) or policy",
        ));
    }
    Ok(SignaturePolicy { required, keys, scopes, plain_http, containers })
}

/// Public key files and policies are small; a larger file is neither.
pub const KEY_MAX: u64 = 64 << 10;

/// The files a profile's `image.signatures` names (key files, the policy and the keys it
/// names), as paths resolved against `dir`: what `profile trust` records with the profile.
pub fn named_files(section: &SignaturesSection, dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out: Vec<std::path::PathBuf> = Vec::new();
    let scoped = section.registries.iter().flatten().flat_map(|(_, s)| s.keys.iter().flatten());
    for p in section.keys.iter().flatten().chain(scoped) {
        out.push(dir.join(p));
    }
    if let Some(policy) = &section.policy {
        let path = dir.join(policy);
        let text = crate::bounded_file::read_text(&path, KEY_MAX).unwrap_or_default();
        out.push(path);
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) {
            collect_key_paths(&v, &mut out);
        }
    }
    out
}

fn collect_key_paths(v: &serde_json::Value, out: &mut Vec<std::path::PathBuf>) {
    match v {
        serde_json::Value::Object(o) => {
            for (k, child) in o {
                match (k.as_str(), child) {
                    ("keyPath", serde_json::Value::String(p)) => out.push(p.into()),
                    ("keyPaths", serde_json::Value::Array(a)) => {
                        out.extend(a.iter().filter_map(|x| x.as_str()).map(std::path::PathBuf::from))
                    }
                    _ => collect_key_paths(child, out),
                }
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(|x| collect_key_paths(x, out)),
        _ => {}
    }
}

fn read_keys(key: &str, paths: Vec<String>, read: ReadNamed) -> Result<Vec<TrustedKey>, Invalid> {
    let mut out = Vec::new();
    for p in paths {
        let text = read(key, &p).map_err(|e| invalid(key, &p, e))?;
        let parsed = PublicKey::from_pem(&text).map_err(|e| invalid(key, &p, format!("{p} {e}")))?;
        out.push(TrustedKey { path: p, key: parsed });
    }
    Ok(out)
}

/// A scope is a registry (`ghcr.io`, `127.0.0.1:5000`) or a repository prefix under one
/// (`ghcr.io/team`), written as docker would normalise it: no tag, no digest.
fn check_scope(scope: &str) -> Result<(), String> {
    let (domain, path) = scope.split_once('/').unwrap_or((scope, ""));
    // A port is digits (an IPv6 address keeps its colons inside brackets).
    let port_ok = match domain.rsplit_once(':') {
        Some((_, port)) if !domain.ends_with(']') => !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()),
        _ => true,
    };
    let host_like = port_ok && (domain.contains('.') || domain.contains(':') || domain == "localhost");
    let ok_chars = |s: &str, extra: &str| {
        !s.is_empty() && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || extra.contains(c))
    };
    if !host_like || !ok_chars(domain, ".-:[]") || (!path.is_empty() && !ok_chars(path, "._-/")) || path.ends_with('/')
    {
        return Err("must be a registry (ghcr.io, docker.io, 127.0.0.1:5000) or a repository prefix under one \
             (ghcr.io/team, docker.io/library/nginx), lowercase, without tag or digest"
            .into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::schema::SignatureScopeSection;
    use p256::pkcs8::EncodePublicKey as _;

    fn pem(seed: u8) -> String {
        let sk = p256::ecdsa::SigningKey::from_slice(&[seed; 32]).unwrap();
        sk.verifying_key().to_public_key_pem(Default::default()).unwrap()
    }

    fn reader(key: &str, path: &str) -> Result<String, String> {
        match path {
            "a.pub" => Ok(pem(1)),
            "b.pub" => Ok(pem(2)),
            "priv.pem" => Ok("-----BEGIN EC PRIVATE KEY-----\nAA==\n-----END EC PRIVATE KEY-----\n".into()),
            _ => Err(format!("{path}: no such file ({key})")),
        }
    }

    fn section(yaml: &str) -> SignaturesSection {
        serde_yaml::from_str(yaml).unwrap()
    }

    #[test]
    fn keys_and_scopes_resolve() {
        let s = section("required: true\nkeys: [a.pub]\nregistries:\n  ghcr.io/team: {keys: [b.pub]}\n");
        let p = resolve(Some(s), &reader).unwrap();
        assert!(p.required);
        assert_eq!(p.keys.len(), 1);
        assert_eq!(p.scopes[0].scope, "ghcr.io/team");
        assert_eq!(p.scopes[0].keys[0].path, "b.pub");
        assert_eq!(resolve(None, &reader).unwrap(), SignaturePolicy::default());
    }

    #[test]
    fn each_mistake_names_its_key() {
        let e = |y: &str| resolve(Some(section(y)), &reader).unwrap_err();
        assert_eq!(e("required: true").key, "image.signatures.required");
        let missing = e("keys: [nope.pub]");
        assert!(missing.key == "image.signatures.keys" && missing.message.contains("no such file"), "{missing:?}");
        assert!(e("keys: [priv.pem]").message.contains("private key"));
        assert_eq!(e("registries:\n  ghcr.io: {keys: []}").key, "image.signatures.registries.ghcr.io.keys");
        assert_eq!(e("registries:\n  ghcr.io/app:1: {keys: [a.pub]}").key, "image.signatures.registries");
        assert_eq!(e("registries:\n  Ghcr.io: {keys: [a.pub]}").key, "image.signatures.registries");
        assert_eq!(e("registries:\n  nginx: {keys: [a.pub]}").key, "image.signatures.registries");
        assert_eq!(e("registries:\n  reg:x: {keys: [a.pub]}").key, "image.signatures.registries");
        assert_eq!(e("plain_http: [http://x]").key, "image.signatures.plain_http");
        assert!(e("keys: [a.pub]\npolicy: /p.json").message.contains("use one"));
        let _ = SignatureScopeSection::default();
    }
}
