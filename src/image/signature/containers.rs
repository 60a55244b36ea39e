//! A containers `policy.json` (containers-policy.json(5)), the `docker` transport's part:
//! `insecureAcceptAnything`, `reject` and `sigstoreSigned` with public keys (`keyPath`,
//! `keyPaths`, `keyData`, `keyDatas`). Anything else, GPG `signedBy` and Fulcio keyless
//! included, is an error that names it: never silently accepted. Pure but for reading the
//! key files, which the caller does.

use base64::Engine as _;
use serde_json::Value;

use super::judge::TrustedKey;
use super::key::PublicKey;
use super::policy::{KeySet, Requirement, Rule};
use crate::image::ImageRef;

#[derive(Debug, Clone, PartialEq)]
enum Req {
    Anything,
    Reject,
    Sigstore(KeySet),
}

/// The parsed policy: the default requirements and the `docker` transport's scopes.
#[derive(Debug, Clone, PartialEq)]
pub struct ContainersPolicy {
    path: String,
    default: Vec<Req>,
    docker: Vec<(String, Vec<Req>)>,
}

impl ContainersPolicy {
    /// Parses `text` (from `path`); `read_key` reads a `keyPath` file.
    pub fn parse(path: &str, text: &str, read_key: &dyn Fn(&str) -> Result<String, String>) -> Result<Self, String> {
        let v: Value = serde_json::from_str(text).map_err(|e| format!("is not JSON: {e}"))?;
        let obj = v.as_object().ok_or("is not a JSON object")?;
        if let Some(k) = obj.keys().find(|k| !matches!(k.as_str(), "default" | "transports")) {
            return Err(format!("has an unknown key {k:?}"));
        }
        let default = reqs(obj.get("default").ok_or("has no \"default\" requirements")?, "default", read_key)?;
        let mut docker = Vec::new();
        if let Some(t) = obj.get("transports") {
            let t = t.as_object().ok_or("\"transports\" is not an object")?;
            if let Some(d) = t.get("docker") {
                let d = d.as_object().ok_or("\"transports.docker\" is not an object")?;
                for (scope, list) in d {
                    docker.push((scope.clone(), reqs(list, &format!("transports.docker.{scope}"), read_key)?));
                }
            }
            // Other transports (docker-daemon, oci, dir...) are not how hardrun gets images.
        }
        Ok(ContainersPolicy { path: path.to_string(), default, docker })
    }

    /// The requirements of the most specific scope naming `image`, as containers/image
    /// looks them up: the reference with its tag or digest, the repository, each parent
    /// namespace, the registry, `*.`-wildcards of the registry's domain, then `default`.
    pub fn requirement(&self, image: &ImageRef) -> Requirement {
        let repo = image.repository();
        let mut candidates = Vec::new();
        if let Some(d) = &image.digest {
            candidates.push(format!("{repo}@{d}"));
        }
        if let Some(t) = &image.tag {
            candidates.push(format!("{repo}:{t}"));
        }
        let mut prefix = repo.as_str();
        loop {
            candidates.push(prefix.to_string());
            match prefix.rfind('/') {
                Some(i) => prefix = &prefix[..i],
                None => break,
            }
        }
        let host = image.domain.split(':').next().unwrap_or_default();
        let mut rest = host;
        while let Some(i) = rest.find('.') {
            candidates.push(format!("*{}", &rest[i..]));
            rest = &rest[i + 1..];
        }
        let found = candidates.iter().find_map(|c| self.docker.iter().find(|(s, _)| s == c));
        let (reqs, source) = match found {
            Some((scope, reqs)) => (reqs, format!("{} transports.docker.\"{scope}\"", self.path)),
            None => (&self.default, format!("{} default", self.path)),
        };
        let rule = if reqs.contains(&Req::Reject) {
            Rule::Reject
        } else {
            let sets: Vec<KeySet> =
                reqs.iter().filter_map(|r| if let Req::Sigstore(s) = r { Some(s.clone()) } else { None }).collect();
            if sets.is_empty() { Rule::Anything } else { Rule::Signed(sets) }
        };
        Requirement { rule, source }
    }
}

fn reqs(v: &Value, at: &str, read_key: &dyn Fn(&str) -> Result<String, String>) -> Result<Vec<Req>, String> {
    let list = v.as_array().ok_or_else(|| format!("{at}: is not a list of requirements"))?;
    if list.is_empty() {
        return Err(format!("{at}: an empty list of requirements is invalid (containers-policy.json(5))"));
    }
    list.iter().map(|r| req(r, at, read_key)).collect()
}

fn req(v: &Value, at: &str, read_key: &dyn Fn(&str) -> Result<String, String>) -> Result<Req, String> {
    let o = v.as_object().ok_or_else(|| format!("{at}: a requirement is not an object"))?;
    let kind = o.get("type").and_then(Value::as_str).ok_or_else(|| format!("{at}: a requirement has no \"type\""))?;
    let only = |allowed: &[&str]| match o.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(format!("{at}: {kind}: the field {k:?} is not supported by hardrun")),
        None => Ok(()),
    };
    match kind {
        "insecureAcceptAnything" => only(&["type"]).map(|_| Req::Anything),
        "reject" => only(&["type"]).map(|_| Req::Reject),
        "signedBy" => Err(format!(
            "{at}: signedBy (GPG simple signing) is not supported: hardrun verifies cosign/sigstore signatures; \
             use sigstoreSigned with keyPath"
        )),
        "sigstoreSigned" => {
            only(&["type", "keyPath", "keyPaths", "keyData", "keyDatas", "signedIdentity"])?;
            let mut keys = Vec::new();
            let texts = |name: &str| -> Result<Vec<String>, String> {
                match o.get(name) {
                    None => Ok(Vec::new()),
                    Some(Value::String(s)) => Ok(vec![s.clone()]),
                    Some(Value::Array(a)) => a
                        .iter()
                        .map(|x| x.as_str().map(str::to_string).ok_or_else(|| format!("{at}: {name}: not a string")))
                        .collect(),
                    Some(_) => Err(format!("{at}: {name}: not a string or list")),
                }
            };
            for p in texts("keyPath")?.into_iter().chain(texts("keyPaths")?) {
                let pem = read_key(&p).map_err(|e| format!("{at}: keyPath {p}: {e}"))?;
                let key = PublicKey::from_pem(&pem).map_err(|e| format!("{at}: keyPath {p} {e}"))?;
                keys.push(TrustedKey { path: p, key });
            }
            for d in texts("keyData")?.into_iter().chain(texts("keyDatas")?) {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(d.trim())
                    .map_err(|_| format!("{at}: keyData is not base64"))?;
                let pem = String::from_utf8(bytes).map_err(|_| format!("{at}: keyData is not a PEM key"))?;
                let key = PublicKey::from_pem(&pem).map_err(|e| format!("{at}: keyData {e}"))?;
                keys.push(TrustedKey { path: "policy.json keyData".into(), key });
            }
            if keys.is_empty() {
                return Err(format!(
                    "{at}: sigstoreSigned without keyPath/keyData (Fulcio keyless) is not supported by hardrun yet"
                ));
            }
            let same_repository = match o.get("signedIdentity").map(|i| i.get("type").and_then(Value::as_str)) {
                None | Some(Some("matchRepoDigestOrExact" | "matchRepository")) => true,
                Some(Some(t)) => return Err(format!("{at}: signedIdentity {t} is not supported by hardrun")),
                Some(None) => return Err(format!("{at}: signedIdentity has no \"type\"")),
            };
            Ok(Req::Sigstore(KeySet { keys, same_repository }))
        }
        other => Err(format!("{at}: the requirement type {:?} is not supported", crate::sanitize::line(other, 40))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::pkcs8::EncodePublicKey as _;

    fn pem() -> String {
        let sk = p256::ecdsa::SigningKey::from_slice(&[4; 32]).unwrap();
        sk.verifying_key().to_public_key_pem(Default::default()).unwrap()
    }

    fn parse(json: &str) -> Result<ContainersPolicy, String> {
        ContainersPolicy::parse("/p.json", json, &|p: &str| {
            if p == "/k.pub" { Ok(pem()) } else { Err(format!("{p}: no such file")) }
        })
    }

    fn rule(p: &ContainersPolicy, image: &str) -> (Rule, String) {
        let r = p.requirement(&ImageRef::parse(image).unwrap());
        (r.rule, r.source)
    }

    #[test]
    fn the_most_specific_docker_scope_decides() {
        let signed = r#"[{"type":"sigstoreSigned","keyPath":"/k.pub"}]"#;
        let p = parse(&format!(
            r#"{{"default":[{{"type":"reject"}}],"transports":{{"docker":{{
                "reg.io":[{{"type":"insecureAcceptAnything"}}],
                "reg.io/team":{signed},
                "reg.io/team/app:dev":[{{"type":"insecureAcceptAnything"}}],
                "*.example.com":{signed},
                "docker.io/library/nginx":[{{"type":"insecureAcceptAnything"}},{{"type":"reject"}}]}}}}}}"#
        ))
        .unwrap();
        assert!(matches!(rule(&p, "reg.io/team/app:1").0, Rule::Signed(ref s) if s[0].same_repository));
        assert_eq!(rule(&p, "reg.io/team/app:1").1, "/p.json transports.docker.\"reg.io/team\"");
        assert_eq!(rule(&p, "reg.io/team/app:dev").0, Rule::Anything, "the tag's own scope first");
        assert_eq!(rule(&p, "reg.io/other:1").0, Rule::Anything);
        assert!(matches!(rule(&p, "a.b.example.com/x:1").0, Rule::Signed(_)), "a wildcard");
        assert_eq!(rule(&p, "nginx:1").0, Rule::Reject, "reject wins over the rest of its list");
        assert_eq!(rule(&p, "ghcr.io/x:1"), (Rule::Reject, "/p.json default".into()));
    }

    #[test]
    fn what_is_not_supported_is_an_error_that_says_so() {
        let e = |req: &str| parse(&format!(r#"{{"default":[{req}]}}"#)).unwrap_err();
        assert!(e(r#"{"type":"signedBy","keyType":"GPGKeys","keyPath":"/k.gpg"}"#).contains("signedBy (GPG"));
        assert!(e(r#"{"type":"sigstoreSigned","fulcio":{}}"#).contains("not supported"));
        assert!(e(r#"{"type":"sigstoreSigned"}"#).contains("Fulcio keyless"));
        let remap = r#"{"type":"sigstoreSigned","keyPath":"/k.pub","signedIdentity":{"type":"remapIdentity"}}"#;
        assert!(e(remap).contains("remapIdentity"));
        assert!(e(r#"{"type":"sigstoreSigned","keyPath":"/missing.pub"}"#).contains("no such file"));
        assert!(e(r#"{"type":"nope"}"#).contains("\"nope\" is not supported"));
        assert!(parse(r#"{"default":[]}"#).unwrap_err().contains("empty list"));
        assert!(parse(r#"{"transports":{}}"#).unwrap_err().contains("no \"default\""));
        assert!(parse(r#"{"default":[{"type":"reject"}],"extra":1}"#).unwrap_err().contains("unknown key"));
        let data = base64::engine::general_purpose::STANDARD.encode(pem());
        let p = parse(&format!(r#"{{"default":[{{"type":"sigstoreSigned","keyData":"{data}"}}]}}"#)).unwrap();
        assert!(matches!(rule(&p, "x:1").0, Rule::Signed(ref s) if s[0].keys[0].path == "policy.json keyData"));
    }
}
