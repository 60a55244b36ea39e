//! Cosign signatures against the real local registry (Debian's docker-registry, started by
//! tests/run): each test pushes its own repository, signs it with keys it generates,
//! writing the signature objects through the registry's HTTP API exactly as cosign lays
//! them out (`sha256-<hex>.sig`: an OCI manifest whose layers are simple-signing
//! payloads, the signature in the `dev.cosignproject.cosign/signature` annotation).
//! Hostile answers too large to push (a manifest that never ends) come from a loopback
//! listener of the test's own.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use base64::Engine as _;
use common::{Scope, Test, daemon, docker, hardrun, inspect};
use p256::ecdsa::signature::Signer as _;
use p256::pkcs8::EncodePublicKey as _;
use sha2::{Digest as _, Sha256};

static N: AtomicUsize = AtomicUsize::new(0);

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn sha256(b: &[u8]) -> String {
    format!("sha256:{}", hex(&Sha256::digest(b)))
}

/// A plain HTTP/1.1 request to the loopback registry: (status, headers, body).
fn http(registry: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> (u16, String, Vec<u8>) {
    let mut s = TcpStream::connect(registry).unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {registry}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req += &format!("{k}: {v}\r\n");
    }
    req += &format!("Content-Length: {}\r\n\r\n", body.len());
    s.write_all(req.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    let split = out.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&out[..split]).into_owned();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, head, out[split + 4..].to_vec())
}

/// Uploads a blob (POST then PUT, the distribution API's monolithic upload).
fn put_blob(registry: &str, repo: &str, bytes: &[u8]) -> String {
    let digest = sha256(bytes);
    let (status, head, _) = http(registry, "POST", &format!("/v2/{repo}/blobs/uploads/"), &[], b"");
    assert_eq!(status, 202, "{head}");
    let location = head
        .lines()
        .find_map(|l| l.strip_prefix("Location: ").or_else(|| l.strip_prefix("location: ")))
        .unwrap()
        .trim()
        .to_string();
    let path = location.split_once("://").map_or(location.as_str(), |(_, r)| &r[r.find('/').unwrap()..]).to_string();
    let sep = if path.contains('?') { '&' } else { '?' };
    let (status, head, _) = http(
        registry,
        "PUT",
        &format!("{path}{sep}digest={digest}"),
        &[("Content-Type", "application/octet-stream")],
        bytes,
    );
    assert_eq!(status, 201, "{head}");
    digest
}

/// The key pair a test signs with, and its public half in a file.
struct Key {
    sk: p256::ecdsa::SigningKey,
    path: String,
}

fn key(dir: &Path, name: &str) -> Key {
    let seed: [u8; 32] =
        Sha256::digest(format!("{name}-{}-{}", std::process::id(), N.fetch_add(1, Ordering::SeqCst))).into();
    let sk = p256::ecdsa::SigningKey::from_slice(&seed).unwrap();
    let path = dir.join(format!("{name}.pub"));
    std::fs::write(&path, sk.verifying_key().to_public_key_pem(Default::default()).unwrap()).unwrap();
    Key { sk, path: path.display().to_string() }
}

/// A simple-signing payload, as `cosign sign` writes it.
fn payload(reference: &str, digest: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "critical": {
            "identity": {"docker-reference": reference},
            "image": {"docker-manifest-digest": digest},
            "type": "cosign container image signature"
        },
        "optional": null
    }))
    .unwrap()
}

/// Stores `layers` (payload, signature) as the signature manifest of `digest`.
fn attach(registry: &str, repo: &str, digest: &str, layers: &[(Vec<u8>, String)]) {
    let mut descriptors = Vec::new();
    let mut diff_ids = Vec::new();
    for (payload, signature) in layers {
        let d = put_blob(registry, repo, payload);
        diff_ids.push(d.clone());
        descriptors.push(serde_json::json!({
            "mediaType": "application/vnd.dev.cosign.simplesigning.v1+json",
            "size": payload.len(),
            "digest": d,
            "annotations": {"dev.cosignproject.cosign/signature": signature}
        }));
    }
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "", "os": "", "config": {}, "rootfs": {"type": "layers", "diff_ids": diff_ids}
    }))
    .unwrap();
    let config_digest = put_blob(registry, repo, &config);
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "size": config.len(), "digest": config_digest},
        "layers": descriptors
    }))
    .unwrap();
    let tag = format!("sha256-{}.sig", digest.trim_start_matches("sha256:"));
    let (status, head, _) = http(
        registry,
        "PUT",
        &format!("/v2/{repo}/manifests/{tag}"),
        &[("Content-Type", "application/vnd.oci.image.manifest.v1+json")],
        &manifest,
    );
    assert_eq!(status, 201, "{head}");
}

fn sign(k: &Key, payload: Vec<u8>) -> (Vec<u8>, String) {
    let sig: p256::ecdsa::Signature = k.sk.sign(&payload);
    (payload, base64::engine::general_purpose::STANDARD.encode(sig.to_der().as_bytes()))
}

/// Removes, when dropped, every local reference to the repository (by tag and by digest;
/// never by image ID, which the shared test images have too).
struct Forget(String);

impl Drop for Forget {
    fn drop(&mut self) {
        let out = std::process::Command::new("docker")
            .args(["images", "--digests", "--format", "{{.Repository}}@{{.Digest}} {{.Repository}}:{{.Tag}}", &self.0])
            .output();
        let refs: Vec<String> = out
            .map(|o| String::from_utf8_lossy(&o.stdout).split_whitespace().map(str::to_string).collect())
            .unwrap_or_default();
        for r in refs.iter().filter(|r| !r.ends_with("<none>")) {
            let _ = std::process::Command::new("docker").args(["image", "rm", r]).output();
        }
    }
}

/// A repository of this test holding `image` at tag 1, not left local under that name:
/// (reference by tag, repository path, the digest docker pushed). Its guard removes what
/// was pulled from it.
fn pushed(registry: &str, image: &str, name: &str) -> (String, String, String, Forget) {
    let run = std::env::var("HARDRUN_TEST_RUN").unwrap_or_else(|_| "local".into());
    let repo = format!("hardrun-test/sig-{name}-{run}-{}", std::process::id());
    let forget = Forget(format!("{registry}/{repo}"));
    let reference = format!("{registry}/{repo}:1");
    docker(["tag", image, &reference]);
    docker(["push", "-q", &reference]);
    let digests = docker(["image", "inspect", "--format", "{{json .RepoDigests}}", &reference]);
    docker(["image", "rm", &reference]);
    let digests: Vec<String> = serde_json::from_str(digests.trim()).unwrap();
    let prefix = format!("{registry}/{repo}@");
    let digest = digests.iter().find_map(|d| d.strip_prefix(&prefix)).expect("pushed digest").to_string();
    (reference, repo, digest, forget)
}

fn profile(dir: &Path, yaml: &str) -> String {
    let path = dir.join(format!("p{}.yaml", N.fetch_add(1, Ordering::SeqCst)));
    std::fs::write(&path, format!("extends: default\n{yaml}")).unwrap();
    path.display().to_string()
}

fn requiring(dir: &Path, keys: &[&Key]) -> String {
    let list: Vec<&str> = keys.iter().map(|k| k.path.as_str()).collect();
    profile(dir, &format!("image:\n  signatures:\n    required: true\n    keys: [{}]\n", list.join(", ")))
}

/// hardrun with the test's own cache folder (verdicts are cached there).
fn hr<I: IntoIterator<Item = S>, S: AsRef<str>>(cache: &Path, args: I) -> Test {
    hardrun(args).env("XDG_CACHE_HOME", cache.to_str().unwrap())
}

fn registry() -> Option<(common::Daemon, String)> {
    let d = daemon()?;
    match d.registry.clone() {
        Some(r) => Some((d, r)),
        None => {
            assert!(std::env::var("HARDRUN_REQUIRE_DOCKER").as_deref() != Ok("1"), "tests/run starts a registry");
            eprintln!("SKIPPED (no registry): run tests/run to start the local registry");
            None
        }
    }
}

#[test]
fn a_good_signature_verifies_and_the_verified_digest_is_what_runs() {
    let Some((d, reg)) = registry() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let (reference, repo, digest, _forget) = pushed(&reg, &d.image, "good");
    let k = key(tmp.path(), "signer");
    attach(&reg, &repo, &digest, &[sign(&k, payload(&format!("{reg}/{repo}"), &digest))]);
    let p = requiring(tmp.path(), &[&k]);

    let v = hr(tmp.path(), ["--profile-file", &p, "image", "verify", "--format", "json", &reference]).run().success();
    let j = v.json();
    assert_eq!(j["verified"], true);
    assert_eq!(j["digest"], digest.as_str());
    assert_eq!(j["signed_by"][0]["key_path"], k.path.as_str());
    assert_eq!(j["run_as"], format!("{reg}/{repo}@{digest}"));
    assert_eq!(j["cached"], false);
    hr(tmp.path(), ["--profile-file", &p, "image", "verify", &reference])
        .run()
        .success()
        .stdout_has(&format!("signed by  {}", k.path))
        .stdout_has("(verdict cached)");

    let s = Scope::new();
    let o = hr(tmp.path(), ["--profile-file", &p, "run", "-d", "-l", &s.label, &reference, "sleep", "30"])
        .run()
        .success()
        .stderr_has(&format!("verified {reg}/{repo}@{digest} signed by {}", k.path));
    let id = o.stdout().trim().to_string();
    assert_eq!(inspect(&id)["Config"]["Image"], format!("{reg}/{repo}@{digest}"), "created from the digest");

    // The plan names the step; --disable-content-trust=false asks for the same.
    hr(tmp.path(), ["--profile-file", &p, "plan", &reference]).run().success().stdout_has("image signature");
    let keys_only = profile(tmp.path(), &format!("image:\n  signatures:\n    keys: [{}]\n", k.path));
    hr(
        tmp.path(),
        [
            "--profile-file",
            &keys_only,
            "run",
            "--rm",
            "-l",
            &s.label,
            "--disable-content-trust=false",
            &reference,
            "true",
        ],
    )
    .run()
    .success()
    .stderr_has("verified");
}

#[test]
fn wrong_keys_digests_and_missing_signatures_are_refused_before_anything_is_created() {
    let Some((d, reg)) = registry() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let (reference, repo, digest, _forget) = pushed(&reg, &d.image, "bad");
    let (other_ref, other_repo, other_digest, _forget_other) = pushed(&reg, &d.image_root, "other");
    let trusted = key(tmp.path(), "trusted");
    let stranger = key(tmp.path(), "stranger");
    let p = requiring(tmp.path(), &[&trusted]);
    let s = Scope::new();
    let refused = |image: &str, why: &str| {
        hr(tmp.path(), ["--profile-file", &p, "run", "--rm", "-l", &s.label, image, "true"])
            .run()
            .fails()
            .stderr_has(why)
            .stderr_has(&trusted.path)
            .stderr_has("image.signatures.keys")
            .stderr_has("nothing was created");
        assert!(s.containers().is_empty());
        hr(tmp.path(), ["--profile-file", &p, "image", "verify", "--format", "json", image])
            .run()
            .status(1)
            .stdout_has(why);
    };
    refused(&reference, "it has no cosign signature");
    hr(tmp.path(), ["--profile-file", &p, "create", "-l", &s.label, &reference, "true"])
        .run()
        .fails()
        .stderr_has("it has no cosign signature");
    assert!(s.containers().is_empty(), "create creates nothing either");

    // Signed by a key the profile does not trust.
    attach(&reg, &repo, &digest, &[sign(&stranger, payload(&reference, &digest))]);
    refused(&reference, "none of its 1 signature(s) verifies with a trusted key");

    // A trusted signature of another digest, stored under this digest's tag.
    attach(&reg, &other_repo, &other_digest, &[sign(&trusted, payload(&other_ref, &digest))]);
    refused(&other_ref, "a trusted key signed another manifest");

    // A payload the trusted key signed that is not a simple-signing payload.
    attach(&reg, &repo, &digest, &[sign(&trusted, b"{not json".to_vec())]);
    refused(&reference, "its signed payload is unusable");

    // A layer declaring a huge payload is not fetched; the registry holds it for real.
    let huge = vec![b' '; 5 << 20];
    let huge_digest = put_blob(&reg, &repo, &huge);
    let manifest = serde_json::json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "size": huge.len(), "digest": huge_digest},
        "layers": [{"mediaType": "application/vnd.dev.cosign.simplesigning.v1+json", "size": huge.len(),
            "digest": huge_digest, "annotations": {"dev.cosignproject.cosign/signature": "MEUCIQ=="}}]
    });
    let tag = format!("sha256-{}.sig", digest.trim_start_matches("sha256:"));
    let (status, head, _) = http(
        &reg,
        "PUT",
        &format!("/v2/{repo}/manifests/{tag}"),
        &[("Content-Type", "application/vnd.oci.image.manifest.v1+json")],
        &serde_json::to_vec(&manifest).unwrap(),
    );
    assert_eq!(status, 201, "{head}");
    refused(&reference, "more than the 256 KiB a payload may have");
}

#[test]
fn a_tag_pushed_again_after_signing_cannot_swap_what_runs() {
    let Some((d, reg)) = registry() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let (reference, repo, signed, _forget) = pushed(&reg, &d.image, "repush");
    let k = key(tmp.path(), "signer");
    attach(&reg, &repo, &signed, &[sign(&k, payload(&reference, &signed))]);
    let p = requiring(tmp.path(), &[&k]);
    let s = Scope::new();
    // Pulled and verified as the signed digest...
    hr(tmp.path(), ["--profile-file", &p, "run", "--rm", "-l", &s.label, &reference, "true"]).run().success();
    // ...then the tag is moved to an unsigned image.
    docker(["tag", &d.image_root, &reference]);
    docker(["push", "-q", &reference]);
    docker(["image", "rm", &reference]);
    hr(tmp.path(), ["--profile-file", &p, "run", "--pull", "always", "--rm", "-l", &s.label, &reference, "true"])
        .run()
        .fails()
        .stderr_has("it has no cosign signature");
    // What the tag named when verified still runs, by its digest, and only that.
    let o = hr(
        tmp.path(),
        ["--profile-file", &p, "run", "-d", "-l", &s.label, &format!("{reg}/{repo}@{signed}"), "sleep", "30"],
    )
    .run()
    .success();
    assert_eq!(inspect(o.stdout().trim())["Config"]["Image"], format!("{reg}/{repo}@{signed}"));
}

#[test]
fn a_registry_that_is_down_or_hostile_refuses_without_hanging() {
    if daemon().is_none() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let k = key(tmp.path(), "k");
    let p = requiring(tmp.path(), &[&k]);
    // Down: a port nothing listens on.
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let s = Scope::new();
    hr(tmp.path(), ["--profile-file", &p, "run", "--rm", "-l", &s.label, &format!("127.0.0.1:{port}/app:1"), "true"])
        .run()
        .fails()
        .stderr_has("the registry cannot be reached");
    // Hostile: a manifest that never ends. hardrun stops reading at its cap.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut conn = conn;
                let mut buf = [0u8; 4096];
                let _ = conn.read(&mut buf);
                let _ = conn.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{\"layers\":[");
                let chunk = vec![b' '; 1 << 16];
                // 1 GiB at most, far past any cap; stops when hardrun hangs up.
                for _ in 0..(1 << 14) {
                    if conn.write_all(&chunk).is_err() {
                        break;
                    }
                }
            });
        }
    });
    let o = hr(tmp.path(), ["--profile-file", &p, "image", "verify", &format!("{addr}/app@sha256:{}", "a".repeat(64))])
        .run()
        .status(1)
        .stdout_has("larger than 4096 KiB");
    assert!(o.elapsed.as_secs() < 30, "stopped at the cap: {:?}", o.elapsed);
    hr(tmp.path(), ["--profile-file", &p, "run", "--rm", "-l", &s.label, &format!("{addr}/app:1"), "true"])
        .run()
        .fails()
        .stderr_has("more than the 4096 KiB allowed");
}

#[test]
fn a_containers_policy_json_decides_per_scope() {
    let Some((d, reg)) = registry() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let (reference, repo, digest, _forget) = pushed(&reg, &d.image, "policy");
    let k = key(tmp.path(), "signer");
    attach(&reg, &repo, &digest, &[sign(&k, payload(&format!("{reg}/{repo}"), &digest))]);
    let write_policy = |name: &str, json: serde_json::Value| -> String {
        let path = tmp.path().join(name);
        std::fs::write(&path, serde_json::to_vec_pretty(&json).unwrap()).unwrap();
        profile(tmp.path(), &format!("image:\n  signatures:\n    required: true\n    policy: {}\n", path.display()))
    };
    let key_data = base64::engine::general_purpose::STANDARD.encode(std::fs::read(&k.path).unwrap());
    let p = write_policy(
        "policy.json",
        serde_json::json!({
            "default": [{"type": "reject"}],
            "transports": {
                "docker": {
                    format!("{reg}/{repo}"): [{"type": "sigstoreSigned", "keyPath": k.path, "signedIdentity": {"type": "matchRepository"}}],
                    format!("{reg}/hardrun-test/anything"): [{"type": "insecureAcceptAnything"}],
                    format!("{reg}/hardrun-test/by-data"): [{"type": "sigstoreSigned", "keyData": key_data}]
                },
                "docker-daemon": {"": [{"type": "insecureAcceptAnything"}]}
            }
        }),
    );
    let s = Scope::new();
    // sigstoreSigned with keyPath: verified, and run by digest.
    let o = hr(tmp.path(), ["--profile-file", &p, "run", "-d", "-l", &s.label, &reference, "sleep", "30"])
        .run()
        .success()
        .stderr_has("verified");
    assert_eq!(inspect(o.stdout().trim())["Config"]["Image"], format!("{reg}/{repo}@{digest}"));
    hr(tmp.path(), ["--profile-file", &p, "image", "verify", "--format", "json", &reference])
        .run()
        .success()
        .stdout_has(&format!("transports.docker.\\\"{reg}/{repo}\\\""));
    // default: reject, before any registry is asked.
    hr(tmp.path(), ["--profile-file", &p, "run", "--rm", "-l", &s.label, &format!("{reg}/elsewhere/app:1"), "true"])
        .run()
        .fails()
        .stderr_has("its signature policy rejects it")
        .stderr_has("policy.json default");
    // insecureAcceptAnything: nothing verified, nothing refused (the image just is not there).
    hr(tmp.path(), ["--profile-file", &p, "image", "verify", &format!("{reg}/hardrun-test/anything:1")])
        .run()
        .success()
        .stdout_has("no signature needed");
    // keyData, for a repository nobody signed: refused as unsigned, with that key expected.
    let moved = format!("{reg}/hardrun-test/by-data:1");
    let _forget_moved = Forget(format!("{reg}/hardrun-test/by-data"));
    docker(["tag", &d.image, &moved]);
    docker(["push", "-q", &moved]);
    docker(["image", "rm", &moved]);
    hr(tmp.path(), ["--profile-file", &p, "run", "--rm", "-l", &s.label, &moved, "true"])
        .run()
        .fails()
        .stderr_has("it has no cosign signature")
        .stderr_has("policy.json keyData");
    // Unsupported requirements are errors that name them, never accepted.
    for (req, says) in [
        (serde_json::json!({"type": "signedBy", "keyType": "GPGKeys", "keyPath": "/k.gpg"}), "signedBy (GPG"),
        (serde_json::json!({"type": "sigstoreSigned", "fulcio": {}}), "not supported"),
        (serde_json::json!({"type": "somethingNew"}), "\"somethingNew\" is not supported"),
    ] {
        let bad = write_policy("bad.json", serde_json::json!({"default": [req]}));
        hr(tmp.path(), ["--profile-file", &bad, "run", "--rm", &reference, "true"])
            .run()
            .fails()
            .stderr_has("image.signatures.policy")
            .stderr_has(says);
    }
}

#[test]
fn without_keys_content_trust_is_refused_with_the_reason() {
    hardrun(["plan", "--disable-content-trust=false", "app:1"])
        .run()
        .fails()
        .stderr_has("Notary v1")
        .stderr_has("image.signatures.keys");
}

/// Attaches a cosign v3 Sigstore bundle (a DSSE envelope around an in-toto statement
/// naming `subject_digest`, signed by `k`) to `digest`, as cosign does on a registry
/// without the referrers API: the bundle manifest, then the `sha256-<hex>` index.
fn attach_bundle(registry: &str, repo: &str, digest: &str, subject_digest: &str, k: &Key) {
    let statement = serde_json::to_vec(&serde_json::json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": format!("{registry}/{repo}"), "digest": {"sha256": subject_digest.trim_start_matches("sha256:")}}],
        "predicateType": "https://sigstore.dev/cosign/sign/v1",
        "predicate": {}
    }))
    .unwrap();
    let payload_type = "application/vnd.in-toto+json";
    let mut pae = format!("DSSEv1 {} {payload_type} {} ", payload_type.len(), statement.len()).into_bytes();
    pae.extend_from_slice(&statement);
    let sig: p256::ecdsa::Signature = k.sk.sign(&pae);
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let bundle = serde_json::to_vec(&serde_json::json!({
        "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
        "verificationMaterial": {"publicKey": {"hint": ""}},
        "dsseEnvelope": {"payload": b64(&statement), "payloadType": payload_type,
            "signatures": [{"sig": b64(sig.to_der().as_bytes()), "keyid": ""}]}
    }))
    .unwrap();
    let bundle_type = "application/vnd.dev.sigstore.bundle.v0.3+json";
    let bundle_digest = put_blob(registry, repo, &bundle);
    let empty = put_blob(registry, repo, b"{}");
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "artifactType": bundle_type,
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty, "size": 2},
        "layers": [{"mediaType": bundle_type, "digest": bundle_digest, "size": bundle.len()}],
        "subject": {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest, "size": 0}
    }))
    .unwrap();
    let manifest_digest = sha256(&manifest);
    let oci = "application/vnd.oci.image.manifest.v1+json";
    let (status, head, _) =
        http(registry, "PUT", &format!("/v2/{repo}/manifests/{manifest_digest}"), &[("Content-Type", oci)], &manifest);
    assert_eq!(status, 201, "{head}");
    let index = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{"mediaType": oci, "digest": manifest_digest, "size": manifest.len(), "artifactType": bundle_type}]
    }))
    .unwrap();
    let tag = format!("sha256-{}", digest.trim_start_matches("sha256:"));
    let (status, head, _) = http(
        registry,
        "PUT",
        &format!("/v2/{repo}/manifests/{tag}"),
        &[("Content-Type", "application/vnd.oci.image.index.v1+json")],
        &index,
    );
    assert_eq!(status, 201, "{head}");
}

#[test]
fn sigstore_bundles_found_through_the_referrers_tag_verify_their_subject() {
    let Some((d, reg)) = registry() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let (reference, repo, digest, _forget) = pushed(&reg, &d.image, "bundle");
    let (other_ref, other_repo, other_digest, _forget_other) = pushed(&reg, &d.image_root, "bundle-other");
    let k = key(tmp.path(), "signer");
    let p = requiring(tmp.path(), &[&k]);
    attach_bundle(&reg, &repo, &digest, &digest, &k);
    let j = hr(tmp.path(), ["--profile-file", &p, "image", "verify", "--format", "json", &reference])
        .run()
        .success()
        .json();
    assert_eq!((j["verified"].as_bool(), j["digest"].as_str()), (Some(true), Some(digest.as_str())));
    assert_eq!(j["signed_by"][0]["key_path"], k.path.as_str());
    let s = Scope::new();
    hr(tmp.path(), ["--profile-file", &p, "run", "--rm", "-l", &s.label, &reference, "true"])
        .run()
        .success()
        .stderr_has(&format!("verified {reg}/{repo}@{digest}"));
    // A bundle attached to this image whose statement names another image.
    attach_bundle(&reg, &other_repo, &other_digest, &digest, &k);
    hr(tmp.path(), ["--profile-file", &p, "run", "--rm", "-l", &s.label, &other_ref, "true"])
        .run()
        .fails()
        .stderr_has("a trusted key signed another manifest");
    assert!(s.containers().is_empty());
}

/// Takes a Compose project down (and its containers) whatever happens.
struct ComposeDown(String);

impl Drop for ComposeDown {
    fn drop(&mut self) {
        // By the project's label, so no Compose file is needed (the test's may be gone).
        let filter = format!("label=com.docker.compose.project={}", self.0);
        let ids = |list: &[&str]| -> Vec<String> {
            let out = std::process::Command::new("docker").args(list).args(["-q", "--filter", &filter]).output();
            out.map(|o| String::from_utf8_lossy(&o.stdout).split_whitespace().map(str::to_string).collect())
                .unwrap_or_default()
        };
        for (list, rm) in [(&["ps", "-a"][..], &["rm", "-f", "-v"][..]), (&["network", "ls"], &["network", "rm"])] {
            let found = ids(list);
            if !found.is_empty() {
                let _ = std::process::Command::new("docker").args(rm).args(&found).output();
            }
        }
    }
}

#[test]
fn compose_up_verifies_each_service_and_runs_the_verified_digest() {
    let Some((d, reg)) = registry() else { return };
    let has_compose =
        std::process::Command::new("docker-compose").arg("version").output().is_ok_and(|o| o.status.success());
    if !has_compose {
        assert!(std::env::var("HARDRUN_REQUIRE_DOCKER").as_deref() != Ok("1"), ".ci/run installs docker-compose");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let (reference, repo, digest, _forget) = pushed(&reg, &d.image, "compose");
    let (unsigned, _, _, _forget_unsigned) = pushed(&reg, &d.image, "compose-unsigned");
    let k = key(tmp.path(), "signer");
    attach(&reg, &repo, &digest, &[sign(&k, payload(&reference, &digest))]);
    let p = requiring(tmp.path(), &[&k]);
    let s = Scope::new();
    let project =
        s.name("sig").to_lowercase().chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-').collect::<String>();
    let _down = ComposeDown(project.clone());
    let file = |image: &str| {
        std::fs::write(
            tmp.path().join("docker-compose.yml"),
            format!("services:\n  app:\n    image: {image}\n    command: [sleep, '30']\n"),
        )
        .unwrap();
    };
    let up = || {
        hr(tmp.path(), ["--profile-file", &p, "compose", "-p", &project, "up", "-d"])
            .current_dir(tmp.path())
            .timeout(std::time::Duration::from_secs(180))
            .run()
    };
    file(&unsigned);
    up().fails().stderr_has("it has no cosign signature");
    let filter = format!("label=com.docker.compose.project={project}");
    assert!(docker(["ps", "-aq", "--filter", &filter]).trim().is_empty(), "nothing was created");
    file(&reference);
    up().success();
    let id = docker(["ps", "-q", "--filter", &filter]);
    assert_eq!(inspect(id.trim())["Config"]["Image"], format!("{reg}/{repo}@{digest}"));
}

/// A loopback registry of the test's own that answers each path from `routes` (status,
/// extra headers, body); anything else is a 404.
fn serve(routes: Vec<(String, u16, String, Vec<u8>)>) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let routes = std::sync::Arc::new(routes);
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let routes = routes.clone();
            std::thread::spawn(move || {
                let mut conn = conn;
                let mut buf = vec![0u8; 8192];
                let n = conn.read(&mut buf).unwrap_or(0);
                let head = String::from_utf8_lossy(&buf[..n]).into_owned();
                let path = head.split(' ').nth(1).unwrap_or_default().to_string();
                let (status, headers, body) = routes
                    .iter()
                    .find(|(p, ..)| *p == path)
                    .map(|(_, s, h, b)| (*s, h.clone(), b.clone()))
                    .unwrap_or((404, String::new(), Vec::new()));
                let _ = conn.write_all(
                    format!(
                        "HTTP/1.1 {status} X\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    )
                    .as_bytes(),
                );
                let _ = conn.write_all(&body);
            });
        }
    });
    addr
}

#[test]
fn blobs_redirected_to_storage_are_followed_but_only_to_https_elsewhere() {
    if daemon().is_none() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let k = key(tmp.path(), "k");
    let p = requiring(tmp.path(), &[&k]);
    let digest = format!("sha256:{}", "b".repeat(64));
    let (payload_bytes, signature) = sign(&k, payload("app", &digest));
    let blob = sha256(&payload_bytes);
    let manifest = |_: ()| {
        serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "layers": [{"mediaType": "application/vnd.dev.cosign.simplesigning.v1+json", "size": payload_bytes.len(),
                "digest": blob, "annotations": {"dev.cosignproject.cosign/signature": signature}}]
        }))
        .unwrap()
    };
    let sig_path = format!("/v2/app/manifests/sha256-{}.sig", "b".repeat(64));
    let blob_path = format!("/v2/app/blobs/{blob}");
    // Same host, relative Location: followed.
    let addr = serve(vec![
        (sig_path.clone(), 200, String::new(), manifest(())),
        (blob_path.clone(), 307, "Location: /storage/payload\r\n".into(), Vec::new()),
        ("/storage/payload".into(), 200, String::new(), payload_bytes.clone()),
    ]);
    hr(tmp.path(), ["--profile-file", &p, "image", "verify", &format!("{addr}/app@{digest}")])
        .run()
        .success()
        .stdout_has("verified");
    // Another host over plain HTTP: not followed, so the signature is unreadable.
    let addr = serve(vec![
        (sig_path, 200, String::new(), manifest(())),
        (blob_path, 307, "Location: http://elsewhere.invalid/payload\r\n".into(), Vec::new()),
    ]);
    hr(tmp.path(), ["--profile-file", &p, "image", "verify", &format!("{addr}/app@{digest}")])
        .run()
        .status(1)
        .stdout_has("which is not HTTPS");
}

#[test]
fn a_signed_multi_platform_index_runs_by_its_digest_and_the_host_platform_comes_from_it() {
    let Some((d, reg)) = registry() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let (_, repo, platform_digest, _forget) = pushed(&reg, &d.image, "index");
    // The platform manifest as the registry holds it, listed in an index of its own.
    let accept = "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json";
    let (status, head, body) =
        http(&reg, "GET", &format!("/v2/{repo}/manifests/{platform_digest}"), &[("Accept", accept)], b"");
    assert_eq!(status, 200, "{head}");
    let media_type =
        serde_json::from_slice::<serde_json::Value>(&body).unwrap()["mediaType"].as_str().unwrap().to_string();
    let arch = docker(["image", "inspect", "--format", "{{.Architecture}}", &d.image]).trim().to_string();
    let index = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.list.v2+json",
        "manifests": [{"mediaType": media_type, "digest": platform_digest, "size": body.len(),
            "platform": {"architecture": arch, "os": "linux"}}]
    }))
    .unwrap();
    let index_digest = sha256(&index);
    let (status, head, _) = http(
        &reg,
        "PUT",
        &format!("/v2/{repo}/manifests/multi"),
        &[("Content-Type", "application/vnd.docker.distribution.manifest.list.v2+json")],
        &index,
    );
    assert_eq!(status, 201, "{head}");
    // cosign signs what the tag names: the index.
    let k = key(tmp.path(), "signer");
    attach(&reg, &repo, &index_digest, &[sign(&k, payload(&format!("{reg}/{repo}"), &index_digest))]);
    let p = requiring(tmp.path(), &[&k]);
    let s = Scope::new();
    let tagged = format!("{reg}/{repo}:multi");
    let o = hr(tmp.path(), ["--profile-file", &p, "run", "-d", "-l", &s.label, &tagged, "sleep", "30"]).run().success();
    let container = inspect(o.stdout().trim());
    assert_eq!(container["Config"]["Image"], format!("{reg}/{repo}@{index_digest}"), "the signed index runs");
    // The daemon resolved the platform manifest through that index: the image is the one listed.
    let image_id = container["Image"].as_str().unwrap().to_string();
    let listed = docker(["image", "inspect", "--format", "{{.Id}}", &d.image]);
    assert_eq!(image_id, listed.trim());
    // Only the index is signed: the platform manifest's own digest is not.
    hr(
        tmp.path(),
        ["--profile-file", &p, "run", "--rm", "-l", &s.label, &format!("{reg}/{repo}@{platform_digest}"), "true"],
    )
    .run()
    .fails()
    .stderr_has("it has no cosign signature");
}
