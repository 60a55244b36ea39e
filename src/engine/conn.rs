//! A byte stream to the daemon: its unix socket, plain tcp, or tcp with TLS (rustls, the
//! same library and provider bollard's `ssl` feature builds in). Every Engine API call,
//! attach and wait included, runs over one of these through [`super::client`], so a TLS
//! daemon gets the same exact path as a local one.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpStream, UnixStream};
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use super::endpoint::{Endpoint, Tls};

pub enum Conn {
    Unix(UnixStream),
    Tcp(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

/// Where to connect, resolved once per client (the TLS files are read once).
#[derive(Clone)]
pub enum Target {
    Unix(String),
    Tcp(String),
    Tls { addr: String, connector: TlsConnector, name: ServerName<'static> },
}

impl Target {
    pub fn of(endpoint: &Endpoint) -> Result<Target, String> {
        if let Some(path) = endpoint.host.strip_prefix("unix://") {
            return Ok(Target::Unix(path.to_string()));
        }
        let addr = endpoint.host.trim_start_matches("tcp://").to_string();
        let Some(tls) = &endpoint.tls else { return Ok(Target::Tcp(addr)) };
        let host = match addr.rsplit_once(':') {
            Some((h, _)) => h.trim_start_matches('[').trim_end_matches(']'),
            None => addr.as_str(),
        };
        let name =
            ServerName::try_from(host.to_string()).map_err(|e| format!("{host:?} cannot name a TLS server: {e}"))?;
        Ok(Target::Tls { connector: TlsConnector::from(Arc::new(config(tls)?)), name, addr })
    }

    /// The `Host` header: the address for tcp, a fixed name for a socket (as docker sends).
    pub fn host_header(&self) -> &str {
        match self {
            Target::Unix(_) => "docker",
            Target::Tcp(addr) | Target::Tls { addr, .. } => addr,
        }
    }

    pub async fn connect(&self) -> io::Result<Conn> {
        match self {
            Target::Unix(path) => Ok(Conn::Unix(UnixStream::connect(path).await?)),
            Target::Tcp(addr) => {
                let s = TcpStream::connect(addr).await?;
                s.set_nodelay(true)?;
                Ok(Conn::Tcp(s))
            }
            Target::Tls { addr, connector, name } => {
                let s = TcpStream::connect(addr).await?;
                s.set_nodelay(true)?;
                Ok(Conn::Tls(Box::new(connector.connect(name.clone(), s).await?)))
            }
        }
    }
}

/// Client configuration as docker's `--tlsverify`: the daemon's certificate must chain
/// to the given CA, and hardrun shows its own certificate.
fn config(tls: &Tls) -> Result<rustls::ClientConfig, String> {
    let read = |what: &str, path: &std::path::Path| {
        crate::bounded_file::read_text(path, crate::bounded_file::TEXT_MAX)
            .map_err(|e| format!("cannot read the TLS {what} {}: {e}", path.display()))
    };
    let ca = read("CA certificate", &tls.ca)?;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca.as_bytes()) {
        let cert = cert.map_err(|e| format!("{}: {e}", tls.ca.display()))?;
        roots.add(cert).map_err(|e| format!("{}: {e}", tls.ca.display()))?;
    }
    if roots.is_empty() {
        return Err(format!("{} holds no certificate", tls.ca.display()));
    }
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(read("certificate", &tls.cert)?.as_bytes())
            .collect::<Result<_, _>>()
            .map_err(|e| format!("{}: {e}", tls.cert.display()))?;
    let key = PrivateKeyDer::from_pem_slice(read("key", &tls.key)?.as_bytes())
        .map_err(|e| format!("{}: {e}", tls.key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_client_auth_cert(certs, key)
        .map_err(|e| format!("the TLS certificate and key do not go together: {e}"))
}

impl AsyncRead for Conn {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Unix(s) => Pin::new(s).poll_read(cx, buf),
            Conn::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Conn {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Conn::Unix(s) => Pin::new(s).poll_write(cx, buf),
            Conn::Tcp(s) => Pin::new(s).poll_write(cx, buf),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Unix(s) => Pin::new(s).poll_flush(cx),
            Conn::Tcp(s) => Pin::new(s).poll_flush(cx),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    /// Half-closes: the daemon sees the end of the input, the output keeps flowing.
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Unix(s) => Pin::new(s).poll_shutdown(cx),
            Conn::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}
