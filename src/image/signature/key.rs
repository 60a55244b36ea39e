//! Public keys that may sign images, as cosign writes them (`cosign.pub`): PEM
//! SubjectPublicKeyInfo for ECDSA P-256/P-384, Ed25519 and RSA, or PKCS#1 `RSA PUBLIC KEY`.
//! Verification follows cosign: an ASN.1 DER ECDSA signature over the payload's SHA-256
//! (SHA-384 also accepted for P-384, as newer cosign picks the hash by curve), pure
//! Ed25519, RSA PKCS#1 v1.5 or PSS over SHA-256.

use std::fmt;

use p256::pkcs8::DecodePublicKey as _;
use p256::pkcs8::der::{Decode as _, Document};
use sha2::{Digest as _, Sha256, Sha384};

/// RSA keys shorter than this are refused: they no longer resist factoring.
const RSA_MIN_BITS: usize = 2048;

#[derive(Clone)]
enum Algorithm {
    P256(p256::ecdsa::VerifyingKey),
    P384(p384::ecdsa::VerifyingKey),
    Ed25519(ed25519_dalek::VerifyingKey),
    Rsa(rsa::PublicKey),
}

/// A parsed public key and its DER encoding (what it is compared and fingerprinted by).
#[derive(Clone)]
pub struct PublicKey {
    algorithm: Algorithm,
    der: Vec<u8>,
}

impl PartialEq for PublicKey {
    fn eq(&self, other: &Self) -> bool {
        self.der == other.der
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({} {})", self.kind(), self.fingerprint())
    }
}

impl PublicKey {
    /// Reads a PEM public key; the error says what the text is instead.
    pub fn from_pem(text: &str) -> Result<PublicKey, String> {
        if text.contains("PRIVATE KEY-----") {
            return Err("is a private key: give the public key (cosign.pub), never the private one".into());
        }
        let (label, doc) = Document::from_pem(text.trim()).map_err(|_| {
            "is not a PEM public key (-----BEGIN PUBLIC KEY-----, as `cosign generate-key-pair` writes cosign.pub)"
                .to_string()
        })?;
        let der = doc.as_bytes().to_vec();
        match label {
            "PUBLIC KEY" => Self::from_spki_der(&der),
            "RSA PUBLIC KEY" => {
                use rsa::pkcs1::DecodeRsaPublicKey as _;
                let key = rsa::PublicKey::from_pkcs1_der(&der).map_err(|e| format!("is not an RSA key: {e}"))?;
                Self::rsa(key, der)
            }
            l => Err(format!("holds a {l:?} block, not a public key")),
        }
    }

    /// A DER SubjectPublicKeyInfo (what `keyData` in a containers policy holds, once
    /// base64-decoded, when it is not PEM).
    pub fn from_spki_der(der: &[u8]) -> Result<PublicKey, String> {
        let der_vec = der.to_vec();
        if let Ok(k) = p256::PublicKey::from_public_key_der(der) {
            return Ok(PublicKey { algorithm: Algorithm::P256(k.into()), der: der_vec });
        }
        if let Ok(k) = p384::PublicKey::from_public_key_der(der) {
            return Ok(PublicKey { algorithm: Algorithm::P384(k.into()), der: der_vec });
        }
        if let Ok(k) = ed25519_dalek::VerifyingKey::from_public_key_der(der) {
            return Ok(PublicKey { algorithm: Algorithm::Ed25519(k), der: der_vec });
        }
        if let Ok(k) = rsa::PublicKey::from_public_key_der(der) {
            return Self::rsa(k, der_vec);
        }
        let _ = p256::pkcs8::spki::SubjectPublicKeyInfoRef::from_der(der)
            .map_err(|_| "is not a SubjectPublicKeyInfo public key".to_string())?;
        Err("is a public key of an algorithm cosign does not sign with here (use ECDSA P-256/P-384, Ed25519 or RSA)"
            .into())
    }

    fn rsa(key: rsa::PublicKey, der: Vec<u8>) -> Result<PublicKey, String> {
        use rsa::traits::PublicKeyParts as _;
        let bits = key.n().bit_width() as usize;
        if bits < RSA_MIN_BITS {
            return Err(format!("is a {bits}-bit RSA key; at least {RSA_MIN_BITS} bits are required"));
        }
        Ok(PublicKey { algorithm: Algorithm::Rsa(key), der })
    }

    /// `ECDSA P-256`, `Ed25519`, `RSA`: for messages.
    pub fn kind(&self) -> &'static str {
        match self.algorithm {
            Algorithm::P256(_) => "ECDSA P-256",
            Algorithm::P384(_) => "ECDSA P-384",
            Algorithm::Ed25519(_) => "Ed25519",
            Algorithm::Rsa(_) => "RSA",
        }
    }

    /// `sha256:<hex>` of the key's DER encoding: names the key in verdicts and caches.
    pub fn fingerprint(&self) -> String {
        format!("sha256:{}", hex(&Sha256::digest(&self.der)))
    }

    /// Whether `signature` (raw bytes, base64 already decoded) signs `payload`.
    pub fn verifies(&self, payload: &[u8], signature: &[u8]) -> bool {
        use p256::ecdsa::signature::Verifier as _;
        use p256::ecdsa::signature::hazmat::PrehashVerifier as _;
        match &self.algorithm {
            Algorithm::P256(k) => {
                p256::ecdsa::Signature::from_der(signature).is_ok_and(|s| k.verify(payload, &s).is_ok())
            }
            Algorithm::P384(k) => p384::ecdsa::Signature::from_der(signature).is_ok_and(|s| {
                k.verify_prehash(&Sha384::digest(payload), &s).is_ok()
                    || k.verify_prehash(&Sha256::digest(payload), &s).is_ok()
            }),
            Algorithm::Ed25519(k) => {
                ed25519_dalek::Signature::from_slice(signature).is_ok_and(|s| k.verify_strict(payload, &s).is_ok())
            }
            Algorithm::Rsa(k) => {
                let pkcs1 = rsa::pkcs1v15::Signature::try_from(signature)
                    .is_ok_and(|s| rsa::pkcs1v15::VerifyingKey::<Sha256>::new(k.clone()).verify(payload, &s).is_ok());
                pkcs1
                    || rsa::pss::Signature::try_from(signature)
                        .is_ok_and(|s| rsa::pss::VerifyingKey::<Sha256>::new(k.clone()).verify(payload, &s).is_ok())
            }
        }
    }
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::pkcs8::EncodePublicKey as _;

    fn p256_pair(seed: u8) -> (p256::ecdsa::SigningKey, String) {
        let sk = p256::ecdsa::SigningKey::from_slice(&[seed; 32]).unwrap();
        let pem = sk.verifying_key().to_public_key_pem(Default::default()).unwrap();
        (sk, pem)
    }

    #[test]
    fn p256_signatures_verify_only_with_their_key_and_payload() {
        use p256::ecdsa::signature::Signer as _;
        let (sk, pem) = p256_pair(7);
        let key = PublicKey::from_pem(&pem).unwrap();
        assert_eq!(key.kind(), "ECDSA P-256");
        let sig: p256::ecdsa::Signature = sk.sign(b"payload");
        let der = sig.to_der();
        assert!(key.verifies(b"payload", der.as_bytes()));
        assert!(!key.verifies(b"payloaD", der.as_bytes()));
        let (_, other) = p256_pair(9);
        assert!(!PublicKey::from_pem(&other).unwrap().verifies(b"payload", der.as_bytes()));
        assert!(!key.verifies(b"payload", b"\x30\x02garbage"));
    }

    #[test]
    fn p384_accepts_either_cosign_hash() {
        use p384::ecdsa::signature::Signer as _;
        use p384::ecdsa::signature::hazmat::PrehashSigner as _;
        let sk = p384::ecdsa::SigningKey::from_slice(&[3; 48]).unwrap();
        let key = PublicKey::from_pem(&sk.verifying_key().to_public_key_pem(Default::default()).unwrap()).unwrap();
        let by_curve: p384::ecdsa::Signature = sk.sign(b"p");
        let sha256: p384::ecdsa::Signature = sk.sign_prehash(&Sha256::digest(b"p")).unwrap();
        assert!(key.verifies(b"p", by_curve.to_der().as_bytes()));
        assert!(key.verifies(b"p", sha256.to_der().as_bytes()));
        assert!(!key.verifies(b"q", sha256.to_der().as_bytes()));
    }

    #[test]
    fn ed25519_keys_verify() {
        use ed25519_dalek::Signer as _;
        use ed25519_dalek::pkcs8::EncodePublicKey as _;
        let sk = ed25519_dalek::SigningKey::from_bytes(&[5; 32]);
        let pem = sk.verifying_key().to_public_key_pem(Default::default()).unwrap();
        let key = PublicKey::from_pem(&pem).unwrap();
        assert_eq!(key.kind(), "Ed25519");
        let sig = sk.sign(b"m").to_bytes();
        assert!(key.verifies(b"m", &sig));
        assert!(!key.verifies(b"n", &sig));
    }

    #[test]
    fn private_keys_and_other_text_are_refused_with_a_reason() {
        assert!(PublicKey::from_pem("hello").unwrap_err().contains("not a PEM public key"));
        let private = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
        assert!(PublicKey::from_pem(private).unwrap_err().contains("private key"));
        let garbage = "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n";
        assert!(PublicKey::from_pem(garbage).is_err());
    }

    #[test]
    fn fingerprints_name_the_key() {
        let (_, a) = p256_pair(1);
        let (_, b) = p256_pair(2);
        let (ka, kb) = (PublicKey::from_pem(&a).unwrap(), PublicKey::from_pem(&b).unwrap());
        assert_ne!(ka.fingerprint(), kb.fingerprint());
        assert_eq!(ka, PublicKey::from_pem(&a).unwrap());
        assert!(ka.fingerprint().starts_with("sha256:") && ka.fingerprint().len() == 71);
    }
}
