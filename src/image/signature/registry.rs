//! The few registry calls signature checks need (OCI distribution API): GET a manifest or
//! a blob, with docker's credentials and the token handshake, every body read with a cap
//! so a hostile registry cannot make hardrun hold more than a few MiB. HTTPS through the
//! same rustls stack bollard uses; plain HTTP only where the policy allows it (loopback
//! registries, or `image.signatures.plain_http`), and then only after HTTPS failed, as
//! docker does for its insecure registries.

use std::sync::Mutex;
use std::time::Duration;

use base64::Engine as _;
use bollard::auth::DockerCredentials;
use http_body_util::{BodyExt as _, Empty};
use hyper::body::Bytes;
use hyper::header::{ACCEPT, AUTHORIZATION, CONTENT_LENGTH, HeaderMap, LOCATION, USER_AGENT, WWW_AUTHENTICATE};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

type Https = hyper_rustls::HttpsConnector<HttpConnector>;

/// How long one request may take, connection included.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// A token answer larger than this is not a token.
const TOKEN_MAX: usize = 1 << 20;
/// Redirects followed for one request.
const REDIRECTS_MAX: usize = 5;

/// Why a registry call failed, for a one-line refusal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistryError {
    /// Nothing answered (refused, timed out, TLS failed).
    Unreachable(String),
    /// It answered with this status.
    Status(u16),
    /// The body passed the cap.
    TooLarge { cap: usize },
    /// It asked for credentials docker's config does not have, or refused them.
    Denied(String),
}

impl std::fmt::Display for RegistryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RegistryError::Unreachable(why) => write!(f, "the registry cannot be reached ({why})"),
            RegistryError::Status(s) => write!(f, "the registry answered HTTP {s}"),
            RegistryError::TooLarge { cap } => write!(f, "the registry sent more than the {} KiB allowed", cap >> 10),
            RegistryError::Denied(why) => write!(f, "the registry refused access ({why}); `docker login` first"),
        }
    }
}

/// An answer: the status and the body, read up to its cap.
pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

/// One repository of one registry.
pub struct Registry {
    client: Client<Https, Empty<Bytes>>,
    /// `host[:port]` the API is at (`registry-1.docker.io` for Docker Hub).
    host: String,
    /// The repository path (`library/nginx`).
    pub repository: String,
    plain_http: bool,
    /// The scheme that worked, once one has.
    scheme: Mutex<Option<&'static str>>,
    credentials: Option<DockerCredentials>,
    token: Mutex<Option<String>>,
}

impl Registry {
    pub fn new(
        domain: &str,
        repository: &str,
        plain_http: bool,
        credentials: Option<DockerCredentials>,
    ) -> Result<Registry, RegistryError> {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_connect_timeout(Some(CONNECT_TIMEOUT));
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_native_roots(rustls::crypto::ring::default_provider())
            .map_err(|e| RegistryError::Unreachable(format!("no TLS root certificates: {e}")))?
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let host = if domain == "docker.io" { "registry-1.docker.io".to_string() } else { domain.to_string() };
        Ok(Registry {
            client: Client::builder(TokioExecutor::new()).build(https),
            host,
            repository: repository.to_string(),
            plain_http,
            scheme: Mutex::new(None),
            credentials,
            token: Mutex::new(None),
        })
    }

    /// `GET /v2/<repository>/<what>` (`manifests/<ref>`, `blobs/<digest>`), answering
    /// the registry's token challenge once. 4xx/5xx answers are returned, not errors.
    pub async fn get(&self, what: &str, accept: &str, cap: usize) -> Result<Answer, RegistryError> {
        let answer = self.get_authorized(what, accept, cap).await?;
        self.follow(answer, accept, cap).await
    }

    /// Registries send blobs from storage elsewhere (`307` to a CDN): followed a few
    /// times, over HTTPS only, and the registry's credentials go to the registry alone.
    async fn follow(&self, mut answer: Answer, accept: &str, cap: usize) -> Result<Answer, RegistryError> {
        for _ in 0..REDIRECTS_MAX {
            if !matches!(answer.status, 301 | 302 | 303 | 307 | 308) {
                return Ok(answer);
            }
            let location = answer.headers.get(LOCATION).and_then(|l| l.to_str().ok()).unwrap_or_default();
            let scheme = self.scheme.lock().expect("scheme lock").unwrap_or("https");
            let url = if location.starts_with('/') {
                format!("{scheme}://{}{location}", self.host)
            } else {
                location.to_string()
            };
            let same_host = url.strip_prefix(&format!("{scheme}://{}/", self.host)).is_some();
            if !url.starts_with("https://") && !same_host {
                let shown = crate::sanitize::line(&url, 80);
                return Err(RegistryError::Denied(format!("it redirected to {shown}, which is not HTTPS")));
            }
            let auth = if same_host { self.token.lock().expect("token lock").clone() } else { None };
            answer = self.fetch(&url, accept, auth.as_deref(), cap).await?;
        }
        Err(RegistryError::Unreachable(format!("more than {REDIRECTS_MAX} redirects")))
    }

    async fn get_authorized(&self, what: &str, accept: &str, cap: usize) -> Result<Answer, RegistryError> {
        let path = format!("/v2/{}/{what}", self.repository);
        let first = self.get_path(&path, accept, cap).await?;
        if first.status != 401 {
            return Ok(first);
        }
        let challenge = first.headers.get(WWW_AUTHENTICATE).and_then(|v| v.to_str().ok()).unwrap_or_default();
        let auth = self.authorize(challenge).await?;
        *self.token.lock().expect("token lock") = Some(auth);
        let again = self.get_path(&path, accept, cap).await?;
        if again.status == 401 || again.status == 403 {
            return Err(RegistryError::Denied(format!("HTTP {} for {}", again.status, self.repository)));
        }
        Ok(again)
    }

    async fn get_path(&self, path: &str, accept: &str, cap: usize) -> Result<Answer, RegistryError> {
        let known = *self.scheme.lock().expect("scheme lock");
        let schemes: &[&'static str] = match known {
            Some("https") => &["https"],
            Some(_) => &["http"],
            None if self.plain_http => &["https", "http"],
            None => &["https"],
        };
        let mut last = RegistryError::Unreachable("no attempt".into());
        for scheme in schemes {
            let url = format!("{scheme}://{}{path}", self.host);
            let auth = self.token.lock().expect("token lock").clone();
            match self.fetch(&url, accept, auth.as_deref(), cap).await {
                Ok(a) => {
                    *self.scheme.lock().expect("scheme lock") = Some(scheme);
                    return Ok(a);
                }
                Err(RegistryError::Unreachable(why)) => last = RegistryError::Unreachable(why),
                Err(e) => return Err(e),
            }
        }
        Err(last)
    }

    /// One request, its body read up to `cap` bytes.
    async fn fetch(&self, url: &str, accept: &str, auth: Option<&str>, cap: usize) -> Result<Answer, RegistryError> {
        let mut req = hyper::Request::get(url)
            .header(USER_AGENT, concat!("hardrun/", env!("CARGO_PKG_VERSION")))
            .header(ACCEPT, accept);
        if let Some(a) = auth {
            req = req.header(AUTHORIZATION, a);
        }
        let req = req.body(Empty::new()).map_err(|e| RegistryError::Unreachable(format!("bad request: {e}")))?;
        let call = async {
            let resp = self.client.request(req).await.map_err(|e| RegistryError::Unreachable(describe(&e)))?;
            let status = resp.status().as_u16();
            let headers = resp.headers().clone();
            let declared = headers.get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
            if declared.is_some_and(|n| n > cap as u64) {
                return Err(RegistryError::TooLarge { cap });
            }
            let mut body = resp.into_body();
            let mut out = Vec::new();
            while let Some(frame) = body.frame().await {
                let frame = frame.map_err(|e| RegistryError::Unreachable(e.to_string()))?;
                if let Ok(data) = frame.into_data() {
                    if out.len() + data.len() > cap {
                        return Err(RegistryError::TooLarge { cap });
                    }
                    out.extend_from_slice(&data);
                }
            }
            Ok(Answer { status, headers, body: out })
        };
        tokio::time::timeout(REQUEST_TIMEOUT, call)
            .await
            .map_err(|_| RegistryError::Unreachable(format!("no answer in {}s", REQUEST_TIMEOUT.as_secs())))?
    }

    /// The `Authorization` value answering `challenge`: Basic with docker's credentials,
    /// or a Bearer token from the realm the registry named (OCI token auth).
    async fn authorize(&self, challenge: &str) -> Result<String, RegistryError> {
        let basic = self.credentials.as_ref().and_then(|c| {
            let (u, p) = (c.username.as_deref()?, c.password.as_deref()?);
            Some(format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))))
        });
        let (scheme, params) = parse_challenge(challenge);
        if scheme.eq_ignore_ascii_case("basic") {
            return basic.ok_or_else(|| RegistryError::Denied("it asks for a user and password".into()));
        }
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(RegistryError::Denied(format!("unknown challenge {:?}", crate::sanitize::line(challenge, 60))));
        }
        let realm = params.iter().find(|(k, _)| k == "realm").map(|(_, v)| v.as_str()).unwrap_or_default();
        let plain_ok = self.plain_http && realm.starts_with("http://");
        if !realm.starts_with("https://") && !plain_ok {
            return Err(RegistryError::Denied(format!(
                "token realm {:?} is not HTTPS",
                crate::sanitize::line(realm, 80)
            )));
        }
        let mut url = realm.to_string();
        let mut sep = if url.contains('?') { '&' } else { '?' };
        if let Some((_, service)) = params.iter().find(|(k, _)| k == "service") {
            url += &format!("{sep}service={}", percent(service));
            sep = '&';
        }
        url += &format!("{sep}scope={}", percent(&format!("repository:{}:pull", self.repository)));
        let answer = self.fetch(&url, "application/json", basic.as_deref(), TOKEN_MAX).await?;
        if answer.status != 200 {
            return Err(RegistryError::Denied(format!("the token service answered HTTP {}", answer.status)));
        }
        let v: serde_json::Value = serde_json::from_slice(&answer.body)
            .map_err(|_| RegistryError::Denied("the token service sent no JSON".into()))?;
        let token = v.get("token").or_else(|| v.get("access_token")).and_then(|t| t.as_str());
        token
            .map(|t| format!("Bearer {t}"))
            .ok_or_else(|| RegistryError::Denied("the token service sent no token".into()))
    }
}

/// The error and its causes on one line (hyper's own text is terse: "client error (Connect)").
fn describe(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        s += &format!(": {c}");
        cause = c.source();
    }
    crate::sanitize::line(&s, 200)
}

/// `Bearer realm="https://auth",service="reg",scope="x"` → ("Bearer", [(realm, ...), ...]).
pub fn parse_challenge(header: &str) -> (String, Vec<(String, String)>) {
    let header = header.trim();
    let (scheme, rest) = header.split_once(' ').unwrap_or((header, ""));
    let mut params = Vec::new();
    let mut rest = rest.trim();
    while let Some(eq) = rest.find('=') {
        let key = rest[..eq].trim().trim_start_matches(',').trim().to_ascii_lowercase();
        let after = &rest[eq + 1..];
        let (value, next) = if let Some(quoted) = after.strip_prefix('"') {
            let end = quoted.find('"').unwrap_or(quoted.len());
            (&quoted[..end], quoted.get(end + 1..).unwrap_or(""))
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (&after[..end], &after[end..])
        };
        params.push((key, value.to_string()));
        rest = next.trim_start_matches(',').trim();
    }
    (scheme.to_string(), params)
}

/// Percent-encodes a query value (RFC 3986 unreserved characters stay).
fn percent(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_parse_as_registries_send_them() {
        let (s, p) = parse_challenge(
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull""#,
        );
        assert_eq!(s, "Bearer");
        assert_eq!(p[0], ("realm".into(), "https://auth.docker.io/token".into()));
        assert_eq!(p[1], ("service".into(), "registry.docker.io".into()));
        assert_eq!(p[2].1, "repository:library/nginx:pull");
        let (s, p) = parse_challenge(r#"Basic realm="Registry Realm""#);
        assert_eq!((s.as_str(), p[0].1.as_str()), ("Basic", "Registry Realm"));
        assert_eq!(parse_challenge("").1, vec![]);
        assert_eq!(percent("repository:a/b:pull"), "repository%3Aa%2Fb%3Apull");
    }
}
