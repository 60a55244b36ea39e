//! Reading what an image's signature check needs from its registry: the digest a tag
//! names, and cosign's signature objects for a digest (the `sha256-<hex>.sig` tag in the
//! same repository: a manifest whose layers are the signed payloads). Every manifest and
//! payload is read with a cap and checked against its digest before use.

use sha2::{Digest as _, Sha256};

use super::judge::Signed;
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
            Ok(payload) => signed.push(Signed { payload, signature: layer.signature }),
            Err(why) => unreadable.push(format!("{tag} layer {}: {why}", crate::sanitize::line(&layer.digest, 80))),
        }
    }
    Ok((signed, unreadable))
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
}
