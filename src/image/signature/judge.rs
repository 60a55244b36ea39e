//! The verdict on an image's signatures: pure (the digest being run, the signature layers
//! the registry returned, the keys the policy expects in; a verdict out).
//!
//! Two formats carry what was signed. cosign's classic one: a "simple signing" payload,
//! JSON whose `critical.image.docker-manifest-digest` names the signed manifest, signed
//! as bytes (the signature, base64, in the layer's `dev.cosignproject.cosign/signature`
//! annotation). cosign v3's Sigstore bundle: a DSSE envelope around an in-toto statement
//! whose `subject` digests name the manifest and whose `predicateType` says it is an
//! image signature, signed over DSSE's pre-authentication encoding. Either counts only
//! when a trusted key verifies it over the exact bytes signed, and only then is the
//! claim read: it must name the digest that will run.

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

/// The predicate type of a cosign v3 image signature (other predicates, SBOMs or
/// provenance, are attestations, not signatures).
pub const SIGN_PREDICATE: &str = "https://sigstore.dev/cosign/sign/v1";

/// DSSE's payload type for in-toto statements.
pub const IN_TOTO: &str = "application/vnd.in-toto+json";

/// One signature as the registry holds it: the exact bytes signed and the signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    /// The bytes the signature is over (the payload, or DSSE's PAE of the statement).
    pub payload: Vec<u8>,
    /// Base64, as in the annotation or the envelope.
    pub signature: String,
    pub format: Format,
}

/// Where the claim is read from once the signature verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Format {
    /// `payload` is the simple-signing JSON itself.
    SimpleSigning,
    /// A Sigstore bundle's DSSE envelope: the in-toto statement it wraps.
    Dsse { statement: Vec<u8> },
}

impl Signed {
    /// A DSSE signature over `statement` of `payload_type`: the bytes signed are the
    /// pre-authentication encoding, `DSSEv1 <len> <type> <len> <body>`.
    pub fn dsse(payload_type: &str, statement: Vec<u8>, signature: String) -> Signed {
        let mut pae = format!("DSSEv1 {} {payload_type} {} ", payload_type.len(), statement.len()).into_bytes();
        pae.extend_from_slice(&statement);
        Signed { payload: pae, signature, format: Format::Dsse { statement } }
    }
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

/// What a verified signature says: the digests it signs and the name it gives them.
struct Claim {
    digests: Vec<String>,
    reference: String,
}

#[derive(Deserialize)]
struct Statement {
    #[serde(rename = "_type")]
    kind: String,
    #[serde(rename = "predicateType")]
    predicate_type: String,
    subject: Vec<Subject>,
}

#[derive(Deserialize)]
struct Subject {
    #[serde(default)]
    name: String,
    digest: std::collections::BTreeMap<String, String>,
}

fn claim(s: &Signed) -> Result<Claim, String> {
    match &s.format {
        Format::SimpleSigning => {
            let p: Payload =
                serde_json::from_slice(&s.payload).map_err(|e| format!("not a simple-signing payload ({e})"))?;
            if p.critical.kind != PAYLOAD_TYPE {
                return Err(format!(
                    "its type is {:?}, not {PAYLOAD_TYPE:?}",
                    crate::sanitize::line(&p.critical.kind, 60)
                ));
            }
            Ok(Claim {
                digests: vec![p.critical.image.digest],
                reference: p.critical.identity.map(|i| i.docker_reference).unwrap_or_default(),
            })
        }
        Format::Dsse { statement } => {
            let st: Statement =
                serde_json::from_slice(statement).map_err(|e| format!("not an in-toto statement ({e})"))?;
            if !st.kind.starts_with("https://in-toto.io/Statement/") {
                return Err(format!(
                    "its _type is {:?}, not an in-toto statement",
                    crate::sanitize::line(&st.kind, 60)
                ));
            }
            if st.predicate_type != SIGN_PREDICATE {
                return Err(format!(
                    "its predicate is {:?}, an attestation, not an image signature ({SIGN_PREDICATE})",
                    crate::sanitize::line(&st.predicate_type, 80)
                ));
            }
            let digests =
                st.subject.iter().filter_map(|s| Some(format!("sha256:{}", s.digest.get("sha256")?))).collect();
            Ok(Claim { digests, reference: st.subject.first().map(|s| s.name.clone()).unwrap_or_default() })
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
        // Only now is the claim worth reading: a trusted key vouched for these bytes.
        let claim = match claim(s) {
            Ok(c) => c,
            Err(why) => {
                telling = Some(Rejected::BadPayload { why });
                continue;
            }
        };
        if !claim.digests.iter().any(|d| d == digest) {
            telling = Some(Rejected::OtherDigest { signed: claim.digests.join(", ") });
            continue;
        }
        let reference = claim.reference;
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
        Signed {
            payload,
            signature: base64::engine::general_purpose::STANDARD.encode(sig.to_der().as_bytes()),
            format: Format::SimpleSigning,
        }
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
        let garbage = Signed { payload: payload_for("r", D), signature: "%%%".into(), format: Format::SimpleSigning };
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

    fn statement(digest_hex: &str, predicate: &str) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({
            "_type": "https://in-toto.io/Statement/v1",
            "subject": [{"name": "reg/app", "digest": {"sha256": digest_hex}}],
            "predicateType": predicate,
            "predicate": {}
        }))
        .unwrap()
    }

    fn dsse(sk: &p256::ecdsa::SigningKey, statement: Vec<u8>) -> Signed {
        let unsigned = Signed::dsse(IN_TOTO, statement, String::new());
        let sig: p256::ecdsa::Signature = sk.sign(&unsigned.payload);
        Signed { signature: base64::engine::general_purpose::STANDARD.encode(sig.to_der().as_bytes()), ..unsigned }
    }

    #[test]
    fn dsse_statements_verify_over_their_pae_and_must_be_image_signatures() {
        let (sk, k) = key(1);
        let one = std::slice::from_ref(&k);
        let good = dsse(&sk, statement(&D[7..], SIGN_PREDICATE));
        assert!(good.payload.starts_with(format!("DSSEv1 {} {IN_TOTO} ", IN_TOTO.len()).as_bytes()));
        assert_eq!(judge(D, std::slice::from_ref(&good), one, None).unwrap().docker_reference, "reg/app");
        assert_eq!(
            judge(E, std::slice::from_ref(&good), one, None),
            Err(Rejected::OtherDigest { signed: D.into() }),
            "a bundle whose subject is another image"
        );
        let sbom = dsse(&sk, statement(&D[7..], "https://cyclonedx.org/bom"));
        assert!(matches!(judge(D, &[sbom], one, None), Err(Rejected::BadPayload { .. })), "an attestation");
        // The signature is over the PAE: the bare statement bytes do not verify.
        let sig: p256::ecdsa::Signature = sk.sign(&statement(&D[7..], SIGN_PREDICATE));
        let bare = Signed::dsse(
            IN_TOTO,
            statement(&D[7..], SIGN_PREDICATE),
            base64::engine::general_purpose::STANDARD.encode(sig.to_der().as_bytes()),
        );
        assert_eq!(judge(D, &[bare], one, None), Err(Rejected::OtherKeys { count: 1 }));
    }
}
