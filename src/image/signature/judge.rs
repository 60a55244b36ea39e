//! The verdict on an image's signatures: pure (the digest being run, the signature layers
//! the registry returned, the keys the policy expects in; a verdict out).
//!
//! A layer of cosign's signature manifest is a "simple signing" payload: JSON whose
//! `critical.image.docker-manifest-digest` names the signed manifest, signed as bytes
//! (the signature, base64, in the layer's `dev.cosignproject.cosign/signature`
//! annotation). A signature counts only when a trusted key verifies it over the exact
//! payload bytes and the payload names the digest that will run.

use serde::{Deserialize, Serialize};

use super::key::PublicKey;

/// The payload type cosign writes, and the only one accepted.
pub const PAYLOAD_TYPE: &str = "cosign container image signature";

/// A key the policy trusts, with where it came from (a file, or a policy entry).
#[derive(Debug, Clone, PartialEq)]
pub struct TrustedKey {
    /// The file it was read from (or `policy.json keyData`), for messages.
    pub path: String,
    pub key: PublicKey,
}

/// One signature as the registry holds it: the payload bytes and the signature text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    pub payload: Vec<u8>,
    /// Base64, as in the annotation.
    pub signature: String,
}

/// What verified: the key, the digest, and what the payload says it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Accepted {
    pub digest: String,
    pub key_path: String,
    pub key_fingerprint: String,
    pub key_kind: String,
    /// `critical.identity.docker-reference` (informative: cosign does not bind it).
    pub docker_reference: String,
}

/// Why nothing verified, in words for a one-line refusal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejected {
    /// No signature at all (no `.sig` manifest, or one without layers).
    Unsigned,
    /// Signatures exist; none verifies with a trusted key.
    OtherKeys { count: usize },
    /// A trusted key signed, but for another manifest.
    OtherDigest { signed: String },
    /// A trusted key signed this digest under another repository's name, and the policy
    /// binds the repository.
    OtherRepository { signed: String },
    /// A trusted key signed a payload that is not a cosign image signature.
    BadPayload { why: String },
}

impl Rejected {
    pub fn describe(&self) -> String {
        match self {
            Rejected::Unsigned => "it has no cosign signature".into(),
            Rejected::OtherKeys { count } => {
                format!("none of its {count} signature(s) verifies with a trusted key")
            }
            Rejected::OtherDigest { signed } => {
                format!("a trusted key signed another manifest ({}), not this one", crate::sanitize::line(signed, 80))
            }
            Rejected::OtherRepository { signed } => format!(
                "a trusted key signed it as {}, another repository (policy.json signedIdentity)",
                crate::sanitize::line(signed, 80)
            ),
            Rejected::BadPayload { why } => format!("its signed payload is unusable: {why}"),
        }
    }
}

#[derive(Deserialize)]
struct Payload {
    critical: Critical,
}

#[derive(Deserialize)]
struct Critical {
    #[serde(rename = "type")]
    kind: String,
    image: PayloadImage,
    #[serde(default)]
    identity: Option<Identity>,
}

#[derive(Deserialize)]
struct PayloadImage {
    #[serde(rename = "docker-manifest-digest")]
    digest: String,
}

#[derive(Deserialize)]
struct Identity {
    #[serde(rename = "docker-reference", default)]
    docker_reference: String,
}

/// The first signature a trusted key made over a payload naming `digest`, else the most
/// telling reason there is none (a trusted key's signature for another digest says more
/// than "signed by someone else"). With `repository`, the payload's docker-reference must
/// name that repository too.
pub fn judge(
    digest: &str,
    signatures: &[Signed],
    keys: &[TrustedKey],
    repository: Option<&str>,
) -> Result<Accepted, Rejected> {
    use base64::Engine as _;
    if signatures.is_empty() {
        return Err(Rejected::Unsigned);
    }
    let mut telling: Option<Rejected> = None;
    for s in signatures {
        let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(s.signature.trim()) else { continue };
        let Some(k) = keys.iter().find(|k| k.key.verifies(&s.payload, &raw)) else { continue };
        // Only now is the payload worth reading: a trusted key vouched for these bytes.
        let payload: Payload = match serde_json::from_slice(&s.payload) {
            Ok(p) => p,
            Err(e) => {
                telling = Some(Rejected::BadPayload { why: format!("not a simple-signing payload ({e})") });
                continue;
            }
        };
        if payload.critical.kind != PAYLOAD_TYPE {
            let why =
                format!("its type is {:?}, not {PAYLOAD_TYPE:?}", crate::sanitize::line(&payload.critical.kind, 60));
            telling = Some(Rejected::BadPayload { why });
            continue;
        }
        if payload.critical.image.digest != digest {
            telling = Some(Rejected::OtherDigest { signed: payload.critical.image.digest });
            continue;
        }
        let reference = payload.critical.identity.map(|i| i.docker_reference).unwrap_or_default();
        if let Some(want) = repository {
            let named = crate::image::ImageRef::parse(&reference).map(|r| r.repository());
            if named.as_deref() != Ok(want) {
                telling = Some(Rejected::OtherRepository { signed: reference });
                continue;
            }
        }
        return Ok(Accepted {
            digest: digest.to_string(),
            key_path: k.path.clone(),
            key_fingerprint: k.key.fingerprint(),
            key_kind: k.key.kind().to_string(),
            docker_reference: reference,
        });
    }
    Err(telling.unwrap_or(Rejected::OtherKeys { count: signatures.len() }))
}

/// A simple-signing payload for `digest`, as `cosign sign` writes it.
#[cfg(test)]
pub fn payload_for(reference: &str, digest: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "critical": {
            "identity": {"docker-reference": reference},
            "image": {"docker-manifest-digest": digest},
            "type": PAYLOAD_TYPE,
        },
        "optional": null,
    }))
    .expect("a JSON value serializes")
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use p256::ecdsa::signature::Signer as _;
    use p256::pkcs8::EncodePublicKey as _;

    const D: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
    const E: &str = "sha256:2222222222222222222222222222222222222222222222222222222222222222";

    fn key(seed: u8) -> (p256::ecdsa::SigningKey, TrustedKey) {
        let sk = p256::ecdsa::SigningKey::from_slice(&[seed; 32]).unwrap();
        let pem = sk.verifying_key().to_public_key_pem(Default::default()).unwrap();
        (sk, TrustedKey { path: format!("k{seed}.pub"), key: PublicKey::from_pem(&pem).unwrap() })
    }

    fn sign(sk: &p256::ecdsa::SigningKey, payload: Vec<u8>) -> Signed {
        let sig: p256::ecdsa::Signature = sk.sign(&payload);
        Signed { payload, signature: base64::engine::general_purpose::STANDARD.encode(sig.to_der().as_bytes()) }
    }

    #[test]
    fn a_trusted_key_over_this_digest_verifies() {
        let (sk, k) = key(1);
        let (_, other) = key(2);
        let s = sign(&sk, payload_for("reg/app", D));
        let ok = judge(D, &[s], &[other, k.clone()], None).unwrap();
        assert_eq!((ok.key_path.as_str(), ok.digest.as_str(), ok.docker_reference.as_str()), ("k1.pub", D, "reg/app"));
        assert_eq!(ok.key_fingerprint, k.key.fingerprint());
    }

    #[test]
    fn each_way_to_fail_says_why() {
        let (sk, k) = key(1);
        let (sk2, _) = key(2);
        assert_eq!(judge(D, &[], std::slice::from_ref(&k), None), Err(Rejected::Unsigned));
        let by_other = sign(&sk2, payload_for("reg/app", D));
        assert_eq!(
            judge(D, std::slice::from_ref(&by_other), std::slice::from_ref(&k), None),
            Err(Rejected::OtherKeys { count: 1 })
        );
        let other_digest = sign(&sk, payload_for("reg/app", E));
        assert_eq!(
            judge(D, &[by_other, other_digest.clone()], std::slice::from_ref(&k), None),
            Err(Rejected::OtherDigest { signed: E.into() })
        );
        let not_json = sign(&sk, b"not json".to_vec());
        assert!(matches!(judge(D, &[not_json], std::slice::from_ref(&k), None), Err(Rejected::BadPayload { .. })));
        // A payload changed after signing no longer verifies.
        let mut tampered = sign(&sk, payload_for("r", D));
        tampered.payload = String::from_utf8(tampered.payload).unwrap().replace(D, E).into_bytes();
        assert_eq!(judge(D, &[tampered], std::slice::from_ref(&k), None), Err(Rejected::OtherKeys { count: 1 }));
        let typed = sign(&sk, br#"{"critical":{"type":"x","image":{"docker-manifest-digest":"d"}}}"#.to_vec());
        assert!(matches!(judge(D, &[typed], std::slice::from_ref(&k), None), Err(Rejected::BadPayload { .. })));
        let garbage = Signed { payload: payload_for("r", D), signature: "%%%".into() };
        let elsewhere = sign(&sk, payload_for("reg/other", D));
        assert_eq!(
            judge(D, std::slice::from_ref(&elsewhere), std::slice::from_ref(&k), Some("docker.io/reg/app")),
            Err(Rejected::OtherRepository { signed: "reg/other".into() })
        );
        assert!(judge(D, &[elsewhere], std::slice::from_ref(&k), Some("docker.io/reg/other")).is_ok());
        assert_eq!(
            judge(D, &[garbage, other_digest], std::slice::from_ref(&k), None),
            Err(Rejected::OtherDigest { signed: E.into() })
        );
    }
}
