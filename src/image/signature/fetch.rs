//! Reading what an image's signature check needs from its registry: the digest a tag
//! names, and the signatures of a digest in both of cosign's layouts. The classic one is
//! the `sha256-<hex>.sig` tag in the same repository: a manifest whose layers are the
//! signed payloads. cosign v3 attaches Sigstore bundles as OCI artifacts whose subject is
//! the image, found through the referrers API, or through the `sha256-<hex>` index tag
//! on registries without it. Every manifest, index and blob is read with a cap and
//! checked against its digest before use.

use sha2::{Digest as _, Sha256};

use super::judge::{Format, Signed};
use super::key::hex;
use super::registry::{Registry, RegistryError};

/// Registries refuse manifests above 4 MiB; a larger one is not a real manifest.
pub const MANIFEST_MAX: usize = 4 << 20;
/// A simple-signing payload is a few hundred bytes; 256 KiB leaves room for annotations.
pub const PAYLOAD_MAX: usize = 256 << 10;
/// Signatures read per image at most (each one is a blob fetch).
pub const LAYERS_MAX: usize = 32;

/// The annotation holding a layer's signature.
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";

/// What `GET manifests/<tag>` may answer with: an index (what a multi-platform tag names,
/// and what `cosign sign` signs) or a single manifest.
const ANY_MANIFEST: &str = "application/vnd.oci.image.index.v1+json, \
    application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, \
    application/vnd.docker.distribution.manifest.v2+json";
const IMAGE_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json, \
    application/vnd.docker.distribution.manifest.v2+json";

/// The digest `tag` names now: the SHA-256 of the manifest bytes the registry sends (its
/// `Docker-Content-Digest` header is not trusted).
pub async fn digest_of(registry: &Registry, tag: &str) -> Result<String, RegistryError> {
    let answer = registry.get(&format!("manifests/{tag}"), ANY_MANIFEST, MANIFEST_MAX).await?;
    if answer.status != 200 {
        return Err(RegistryError::Status(answer.status));
    }
    Ok(format!("sha256:{}", hex(&Sha256::digest(&answer.body))))
}

/// The signatures stored for `digest`, and why some (or all) could not be read. No
/// signature tag, an unreadable manifest or unreadable layers all end as fewer
/// signatures: an unreadable signature is no signature.
pub async fn signatures(registry: &Registry, digest: &str) -> Result<(Vec<Signed>, Vec<String>), RegistryError> {
    let hex_part = digest.strip_prefix("sha256:").unwrap_or(digest);
    let tag = format!("sha256-{hex_part}.sig");
    let answer = match registry.get(&format!("manifests/{tag}"), IMAGE_MANIFEST, MANIFEST_MAX).await {
        Ok(a) => a,
        Err(RegistryError::TooLarge { cap }) => {
            return Ok((Vec::new(), vec![format!("{tag} is larger than {} KiB", cap >> 10)]));
        }
        Err(e) => return Err(e),
    };
    match answer.status {
        200 => {}
        404 => return Ok((Vec::new(), Vec::new())),
        s => return Err(RegistryError::Status(s)),
    }
    let layers = match signature_layers(&answer.body) {
        Ok(l) => l,
        Err(why) => return Ok((Vec::new(), vec![format!("{tag}: {why}")])),
    };
    let mut signed = Vec::new();
    let mut unreadable = Vec::new();
    if layers.len() > LAYERS_MAX {
        unreadable.push(format!("{tag}: only the first {LAYERS_MAX} of {} layers were read", layers.len()));
    }
    for layer in layers.into_iter().take(LAYERS_MAX) {
        match payload(registry, &layer).await {
            Ok(payload) => signed.push(Signed { payload, signature: layer.signature, format: Format::SimpleSigning }),
            Err(why) => unreadable.push(format!("{tag} layer {}: {why}", crate::sanitize::line(&layer.digest, 80))),
        }
    }
    Ok((signed, unreadable))
}

/// The media type (and artifact type) of Sigstore bundles, any version.
pub const BUNDLE_TYPE: &str = "application/vnd.dev.sigstore.bundle";
const INDEX: &str = "application/vnd.oci.image.index.v1+json";

/// The signatures in the Sigstore bundles attached to `digest`, and why some could not be
/// read.
pub async fn bundles(registry: &Registry, digest: &str) -> Result<(Vec<Signed>, Vec<String>), RegistryError> {
    let hex_part = digest.strip_prefix("sha256:").unwrap_or(digest);
    let mut unreadable = Vec::new();
    // The referrers API first; a 404 means the registry has none, and the tag schema
    // stands in for it.
    let listed = match registry.get(&format!("referrers/{digest}"), INDEX, MANIFEST_MAX).await {
        Ok(a) if a.status == 200 => Some(a.body),
        Ok(a) if a.status == 404 || a.status == 400 || a.status == 405 => None,
        Ok(a) => return Err(RegistryError::Status(a.status)),
        Err(RegistryError::TooLarge { .. }) => {
            unreadable.push("the referrers list is too large".into());
            None
        }
        Err(e) => return Err(e),
    };
    let index = match listed {
        Some(body) => body,
        None => match registry.get(&format!("manifests/sha256-{hex_part}"), INDEX, MANIFEST_MAX).await {
            Ok(a) if a.status == 200 => a.body,
            Ok(a) if a.status == 404 => return Ok((Vec::new(), unreadable)),
            Ok(a) => return Err(RegistryError::Status(a.status)),
            Err(RegistryError::TooLarge { cap }) => {
                unreadable.push(format!("sha256-{hex_part} is larger than {} KiB", cap >> 10));
                return Ok((Vec::new(), unreadable));
            }
            Err(e) => return Err(e),
        },
    };
    let listed = match bundle_manifests(&index) {
        Ok(l) => l,
        Err(why) => {
            unreadable.push(format!("the referrers of {digest}: {why}"));
            return Ok((Vec::new(), unreadable));
        }
    };
    let mut signed = Vec::new();
    for manifest in listed.into_iter().take(LAYERS_MAX) {
        match bundle(registry, &manifest).await {
            Ok(mut s) => signed.append(&mut s),
            Err(why) => unreadable.push(format!("bundle {}: {why}", crate::sanitize::line(&manifest, 80))),
        }
    }
    Ok((signed, unreadable))
}

/// The digests of the bundle manifests an index of referrers lists.
pub fn bundle_manifests(index: &[u8]) -> Result<Vec<String>, String> {
    let v: serde_json::Value = serde_json::from_slice(index).map_err(|_| "not a JSON index".to_string())?;
    let list = v.get("manifests").and_then(|m| m.as_array()).ok_or("an index without manifests")?;
    Ok(list
        .iter()
        .filter(|m| m.get("artifactType").and_then(|t| t.as_str()).is_some_and(|t| t.starts_with(BUNDLE_TYPE)))
        .filter_map(|m| Some(m.get("digest")?.as_str()?.to_string()))
        .collect())
}

/// One bundle: its manifest (checked against its digest), then its one layer.
async fn bundle(registry: &Registry, manifest_digest: &str) -> Result<Vec<Signed>, String> {
    let hex_part = sha256_hex(manifest_digest).ok_or("not a sha256 digest")?;
    let accept = "application/vnd.oci.image.manifest.v1+json";
    let answer =
        registry.get(&format!("manifests/sha256:{hex_part}"), accept, MANIFEST_MAX).await.map_err(|e| e.to_string())?;
    if answer.status != 200 {
        return Err(format!("HTTP {}", answer.status));
    }
    if hex(&Sha256::digest(&answer.body)) != hex_part {
        return Err("its manifest does not match its digest".into());
    }
    let v: serde_json::Value = serde_json::from_slice(&answer.body).map_err(|_| "not a JSON manifest".to_string())?;
    let layer = v
        .get("layers")
        .and_then(|l| l.as_array())
        .and_then(|l| l.first())
        .filter(|l| l.get("mediaType").and_then(|t| t.as_str()).is_some_and(|t| t.starts_with(BUNDLE_TYPE)))
        .ok_or("a manifest without a bundle layer")?;
    let layer = Layer {
        digest: layer.get("digest").and_then(|d| d.as_str()).unwrap_or_default().to_string(),
        size: layer.get("size").and_then(|s| s.as_u64()).unwrap_or(u64::MAX),
        signature: String::new(),
    };
    let bytes = payload(registry, &layer).await?;
    bundle_signatures(&bytes)
}

/// The signatures a Sigstore bundle holds, as DSSE signatures over its statement. Only
/// key-signed DSSE bundles are read: a certificate means keyless signing, which hardrun
/// does not verify yet, and a message signature signs a blob, not an image.
pub fn bundle_signatures(bytes: &[u8]) -> Result<Vec<Signed>, String> {
    use base64::Engine as _;
    let v: serde_json::Value = serde_json::from_slice(bytes).map_err(|_| "not a JSON bundle".to_string())?;
    let kind = v.get("mediaType").and_then(|t| t.as_str()).unwrap_or_default();
    if !kind.starts_with(BUNDLE_TYPE) {
        return Err(format!("its mediaType {:?} is not a Sigstore bundle", crate::sanitize::line(kind, 60)));
    }
    let material = v.get("verificationMaterial");
    if material.is_some_and(|m| m.get("certificate").is_some() || m.get("x509CertificateChain").is_some()) {
        return Err("a keyless bundle (Fulcio certificate), which hardrun does not verify yet".into());
    }
    if v.get("messageSignature").is_some() {
        return Err("a message-signature bundle signs a blob, not an image".into());
    }
    let envelope = v.get("dsseEnvelope").ok_or("a bundle without a DSSE envelope")?;
    let payload_type = envelope.get("payloadType").and_then(|t| t.as_str()).unwrap_or_default();
    if payload_type != super::judge::IN_TOTO {
        return Err(format!("its payloadType {:?} is not in-toto", crate::sanitize::line(payload_type, 60)));
    }
    let statement = envelope
        .get("payload")
        .and_then(|p| p.as_str())
        .and_then(|p| base64::engine::general_purpose::STANDARD.decode(p).ok())
        .ok_or("a DSSE envelope without a base64 payload")?;
    let sigs = envelope.get("signatures").and_then(|s| s.as_array()).ok_or("a DSSE envelope without signatures")?;
    Ok(sigs
        .iter()
        .filter_map(|s| s.get("sig")?.as_str())
        .map(|sig| Signed::dsse(payload_type, statement.clone(), sig.to_string()))
        .collect())
}

fn sha256_hex(digest: &str) -> Option<&str> {
    digest.strip_prefix("sha256:").filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// A layer of a signature manifest: the payload's blob and the signature over it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layer {
    pub digest: String,
    pub size: u64,
    pub signature: String,
}

/// The layers of a signature manifest that carry a signature annotation.
pub fn signature_layers(manifest: &[u8]) -> Result<Vec<Layer>, String> {
    let v: serde_json::Value = serde_json::from_slice(manifest).map_err(|_| "not a JSON manifest".to_string())?;
    let layers = v.get("layers").and_then(|l| l.as_array()).ok_or("a manifest without layers")?;
    Ok(layers
        .iter()
        .filter_map(|l| {
            Some(Layer {
                digest: l.get("digest")?.as_str()?.to_string(),
                size: l.get("size")?.as_u64()?,
                signature: l.get("annotations")?.get(SIGNATURE_ANNOTATION)?.as_str()?.to_string(),
            })
        })
        .collect())
}

/// The payload blob, capped and checked against its digest.
async fn payload(registry: &Registry, layer: &Layer) -> Result<Vec<u8>, String> {
    let Some(hex_part) =
        layer.digest.strip_prefix("sha256:").filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
    else {
        return Err("not a sha256 digest".into());
    };
    if layer.size > PAYLOAD_MAX as u64 {
        return Err(format!(
            "declares {} bytes, more than the {} KiB a payload may have",
            layer.size,
            PAYLOAD_MAX >> 10
        ));
    }
    let answer =
        registry.get(&format!("blobs/sha256:{hex_part}"), "*/*", PAYLOAD_MAX).await.map_err(|e| e.to_string())?;
    if answer.status != 200 {
        return Err(format!("HTTP {}", answer.status));
    }
    if hex(&Sha256::digest(&answer.body)) != hex_part {
        return Err("its content does not match its digest".into());
    }
    Ok(answer.body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_without_a_signature_are_not_signatures() {
        let m = br#"{"schemaVersion":2,"layers":[
            {"mediaType":"application/vnd.dev.cosign.simplesigning.v1+json","digest":"sha256:ab","size":3,
             "annotations":{"dev.cosignproject.cosign/signature":"MEUC"}},
            {"digest":"sha256:cd","size":4}]}"#;
        let l = signature_layers(m).unwrap();
        assert_eq!(l, vec![Layer { digest: "sha256:ab".into(), size: 3, signature: "MEUC".into() }]);
        assert!(signature_layers(b"[]").is_err());
        assert!(signature_layers(b"\xff").is_err());
    }

    #[test]
    fn bundles_are_read_only_when_key_signed_dsse() {
        use base64::Engine as _;
        let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
        let bundle = |material: serde_json::Value, content: (&str, serde_json::Value)| {
            let mut v = serde_json::json!({"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
                "verificationMaterial": material});
            v[content.0] = content.1;
            serde_json::to_vec(&v).unwrap()
        };
        let envelope = serde_json::json!({"payload": b64(b"{}"), "payloadType": "application/vnd.in-toto+json",
            "signatures": [{"sig": "MEUC", "keyid": ""}]});
        let s = bundle_signatures(&bundle(
            serde_json::json!({"publicKey": {"hint": "x"}}),
            ("dsseEnvelope", envelope.clone()),
        ))
        .unwrap();
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].format, Format::Dsse { statement: b"{}".to_vec() });
        let keyless = bundle(serde_json::json!({"certificate": {"rawBytes": "AA=="}}), ("dsseEnvelope", envelope));
        assert!(bundle_signatures(&keyless).unwrap_err().contains("keyless"));
        let blob = bundle(serde_json::json!({}), ("messageSignature", serde_json::json!({"signature": "AA=="})));
        assert!(bundle_signatures(&blob).unwrap_err().contains("blob"));
        assert!(bundle_signatures(b"{\"mediaType\":\"text/plain\"}").is_err());
        let index =
            br#"{"manifests":[{"digest":"sha256:aa","artifactType":"application/vnd.dev.sigstore.bundle.v0.3+json"},
            {"digest":"sha256:bb","artifactType":"application/spdx+json"},{"digest":"sha256:cc"}]}"#;
        assert_eq!(bundle_manifests(index).unwrap(), vec!["sha256:aa".to_string()]);
    }
}
