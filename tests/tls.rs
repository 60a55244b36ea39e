//! hardrun over TLS takes the same exact path as over the unix socket: the real daemon,
//! behind a TLS-terminating proxy on 127.0.0.1 (rustls, client certificates required)
//! with a CA, server and client certificates made here. Attach output is byte-exact
//! (a TTY chunk starting with bytes 0-2 is not mistaken for a frame header), stdin
//! reaches the container and its end is seen, and a container that exits at once has
//! its status read (the wait is confirmed before the start).

mod common;

use std::path::Path;
use std::sync::Arc;

use common::{Scope, daemon, hardrun};
use rcgen::{BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

const REAL: &str = "/var/run/docker.sock";

/// CA, server (127.0.0.1) and client certificates, written as docker expects them
/// (ca.pem, cert.pem, key.pem for the client; server-*.pem for the proxy).
fn make_certificates(dir: &Path) {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca, ca_key);
    let leaf = |names: Vec<String>, usage: ExtendedKeyUsagePurpose, prefix: &str| {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(names).unwrap();
        params.extended_key_usages = vec![usage];
        let cert = params.signed_by(&key, &issuer).unwrap();
        std::fs::write(dir.join(format!("{prefix}cert.pem")), cert.pem()).unwrap();
        std::fs::write(dir.join(format!("{prefix}key.pem")), key.serialize_pem()).unwrap();
    };
    leaf(vec!["127.0.0.1".into()], ExtendedKeyUsagePurpose::ServerAuth, "server-");
    leaf(vec!["client".into()], ExtendedKeyUsagePurpose::ClientAuth, "");
    std::fs::write(dir.join("ca.pem"), ca_cert.pem()).unwrap();
}

/// A TLS endpoint on 127.0.0.1 in front of the daemon's socket; returns its port. It
/// serves (in a thread of its own) until the test process ends.
fn tls_proxy(dir: &Path) -> u16 {
    let read = |name: &str| std::fs::read(dir.join(name)).unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(CertificateDer::from_pem_slice(&read("ca.pem")).unwrap()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier =
        rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone()).build().unwrap();
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            vec![CertificateDer::from_pem_slice(&read("server-cert.pem")).unwrap()],
            PrivateKeyDer::from_pem_slice(&read("server-key.pem")).unwrap(),
        )
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            loop {
                let Ok((tcp, _)) = listener.accept().await else { continue };
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(tcp).await else { return };
                    let Ok(mut real) = tokio::net::UnixStream::connect(REAL).await else { return };
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut real).await;
                });
            }
        });
    });
    port
}

/// The flags that point hardrun at the TLS endpoint.
fn tls_flags(dir: &Path, port: u16) -> Vec<String> {
    let p = |n: &str| dir.join(n).display().to_string();
    vec![
        "-H".into(),
        format!("tcp://127.0.0.1:{port}"),
        "--tlsverify".into(),
        "--tlscacert".into(),
        p("ca.pem"),
        "--tlscert".into(),
        p("cert.pem"),
        "--tlskey".into(),
        p("key.pem"),
        "-q".into(),
    ]
}

#[test]
fn a_tls_daemon_takes_the_exact_path() {
    let Some(d) = daemon() else { return };
    let certs = tempfile::tempdir().unwrap();
    make_certificates(certs.path());
    let port = tls_proxy(certs.path());
    let scope = Scope::new();
    let run = |extra: &[&str]| {
        let mut args = tls_flags(certs.path(), port);
        args.extend(["run", "--rm", "--label", &scope.label].map(String::from));
        args.extend(extra.iter().map(|s| s.to_string()));
        hardrun(args)
    };

    // Output and error streams kept apart, and the container's exit code.
    run(&[&d.image, "sh", "-c", "echo out; echo err >&2; exit 3"]).run().status(3).stdout_is("out\n").stderr_has("err");

    // With a TTY the output is raw bytes, whatever they are (bollard's decoder took a
    // chunk starting with 0, 1 or 2 for a frame header).
    let o = run(&["-t", &d.image, "printf", "\\001\\002\\000tty"]).run().success();
    assert_eq!(o.output.stdout, b"\x01\x02\x00tty", "{}", o.stdout());

    // Stdin reaches the container, and its end ends the container's input.
    run(&["-i", &d.image, "sh", "-c", "cat; echo done"])
        .stdin("line one\n")
        .run()
        .success()
        .stdout_is("line one\ndone\n");

    // A container that exits at once: its status is never missed.
    for _ in 0..5 {
        run(&[&d.image, "sh", "-c", "exit 7"]).run().status(7);
    }
    assert_eq!(scope.containers(), Vec::<String>::new(), "--rm left nothing");
}

#[test]
fn a_daemon_certificate_from_another_ca_is_refused() {
    let Some(d) = daemon() else { return };
    let (certs, other) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    make_certificates(certs.path());
    make_certificates(other.path());
    let port = tls_proxy(certs.path());
    let scope = Scope::new();
    let mut args = tls_flags(other.path(), port);
    args.extend(["run", "--label", &scope.label, &d.image, "true"].map(String::from));
    let o = hardrun(args).run().fails();
    assert_eq!(o.stderr().lines().count(), 1, "{}", o.stderr());
    assert!(o.stderr().contains("cannot reach the Docker daemon"), "{}", o.stderr());
    assert_eq!(scope.containers(), Vec::<String>::new());
}
