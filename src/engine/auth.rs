//! Registry credentials from the docker CLI's config: `auths` entries, and credential
//! helpers (`credsStore`, `credHelpers`) run as `docker-credential-NAME get`.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use base64::Engine as _;
use bollard::auth::DockerCredentials;

use crate::image::ImageRef;

/// The key docker uses for a registry in config.json.
fn server_key(domain: &str) -> String {
    if domain == "docker.io" { "https://index.docker.io/v1/".into() } else { domain.to_string() }
}

/// Credentials for `image`'s registry, if the docker config has any.
pub fn credentials(config_dir: &Path, image: &ImageRef) -> Option<DockerCredentials> {
    let text = crate::bounded_file::read_text(&config_dir.join("config.json"), crate::bounded_file::TEXT_MAX).ok()?;
    let config: serde_json::Value = serde_json::from_str(&text).ok()?;
    let key = server_key(&image.domain);
    let helper = config
        .pointer(&format!("/credHelpers/{}", image.domain.replace('~', "~0").replace('/', "~1")))
        .or_else(|| config.get("credsStore"))
        .and_then(|h| h.as_str());
    if let Some(helper) = helper
        && let Some(c) = from_helper(helper, &key)
    {
        return Some(c);
    }
    let auths = config.get("auths")?.as_object()?;
    let entry = auths.iter().find(|(k, _)| same_registry(k, &image.domain)).map(|(_, v)| v)?;
    if let Some(token) = entry.get("identitytoken").and_then(|t| t.as_str()) {
        return Some(DockerCredentials {
            identitytoken: Some(token.into()),
            serveraddress: Some(key),
            ..Default::default()
        });
    }
    let decoded = base64::engine::general_purpose::STANDARD.decode(entry.get("auth")?.as_str()?).ok()?;
    let (user, pass) = String::from_utf8(decoded).ok()?.split_once(':').map(|(u, p)| (u.to_string(), p.to_string()))?;
    Some(DockerCredentials {
        username: Some(user),
        password: Some(pass),
        serveraddress: Some(key),
        ..Default::default()
    })
}

/// `https://registry.example.com/v1/` and `registry.example.com` name the same registry.
fn same_registry(key: &str, domain: &str) -> bool {
    let host = key.trim_start_matches("https://").trim_start_matches("http://");
    let host = host.split('/').next().unwrap_or(host);
    host == domain || (domain == "docker.io" && (host == "index.docker.io" || host == "registry-1.docker.io"))
}

fn from_helper(helper: &str, server: &str) -> Option<DockerCredentials> {
    let mut child = Command::new(format!("docker-credential-{helper}"))
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    child.stdin.take()?.write_all(server.as_bytes()).ok()?;
    let out = child.wait_with_output().ok()?;
    if !out.status.success() {
        return None;
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    let user = v.get("Username")?.as_str()?.to_string();
    let secret = v.get("Secret")?.as_str()?.to_string();
    // A helper returns "<token>" as the user for identity tokens.
    if user == "<token>" {
        return Some(DockerCredentials {
            identitytoken: Some(secret),
            serveraddress: Some(server.into()),
            ..Default::default()
        });
    }
    Some(DockerCredentials {
        username: Some(user),
        password: Some(secret),
        serveraddress: Some(server.into()),
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_auths_entries() {
        let d = tempfile::tempdir().unwrap();
        let auth = base64::engine::general_purpose::STANDARD.encode("me:secret");
        std::fs::write(
            d.path().join("config.json"),
            format!(r#"{{"auths":{{"127.0.0.1:5000":{{"auth":"{auth}"}},"https://index.docker.io/v1/":{{"auth":"{auth}"}}}}}}"#),
        )
        .unwrap();
        let c = credentials(d.path(), &ImageRef::parse("127.0.0.1:5000/app:1").unwrap()).unwrap();
        assert_eq!((c.username.as_deref(), c.password.as_deref()), (Some("me"), Some("secret")));
        let hub = credentials(d.path(), &ImageRef::parse("nginx:1").unwrap()).unwrap();
        assert_eq!(hub.serveraddress.as_deref(), Some("https://index.docker.io/v1/"));
        assert!(credentials(d.path(), &ImageRef::parse("ghcr.io/x/y:1").unwrap()).is_none());
    }
}
