//! Which daemon to talk to, resolved as the docker CLI does: `-H/--host`, `--context`,
//! `DOCKER_HOST`, `DOCKER_CONTEXT`, the current context of ~/.docker/config.json, then
//! the default socket; TLS from `--tls*` flags or `DOCKER_TLS_VERIFY`/`DOCKER_CERT_PATH`.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use sha2::{Digest, Sha256};

use crate::cli::Global;

pub const DEFAULT_HOST: &str = "unix:///var/run/docker.sock";

/// TLS material for a tcp:// daemon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tls {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `unix:///path` or `tcp://host:port`.
    pub host: String,
    pub tls: Option<Tls>,
    /// Where the address came from, for error messages (`DOCKER_HOST`, `context "x"`).
    pub origin: String,
    /// The docker CLI's config folder the endpoint was resolved with: its config.json
    /// holds the registry credentials pulls use.
    pub config_dir: PathBuf,
}

impl Endpoint {
    pub fn is_local(&self) -> bool {
        self.host.starts_with("unix://")
    }
}

/// The docker CLI's config folder: `$DOCKER_CONFIG` or `~/.docker`.
pub fn config_dir(env: &dyn Fn(&str) -> Option<String>) -> PathBuf {
    env("DOCKER_CONFIG")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env("HOME").unwrap_or_else(|| "/".into())).join(".docker"))
}

pub fn resolve(global: &Global, env: &dyn Fn(&str) -> Option<String>) -> Result<Endpoint> {
    let set = |k: &str| env(k).filter(|v| !v.is_empty());
    let config = config_dir(env);
    let (host, origin, context_tls) = if let Some(h) = &global.host {
        (h.clone(), "-H/--host".to_string(), None)
    } else if let Some(name) = &global.context {
        let (h, tls) = from_context(&config, name)?;
        (h, format!("context {name:?}"), tls)
    } else if let Some(h) = set("DOCKER_HOST") {
        (h, "DOCKER_HOST".to_string(), None)
    } else if let Some(name) = set("DOCKER_CONTEXT").or_else(|| current_context(&config)) {
        let (h, tls) = from_context(&config, &name)?;
        (h, format!("context {name:?}"), tls)
    } else {
        (DEFAULT_HOST.to_string(), "the default socket".to_string(), None)
    };
    let host = normalise(&host).with_context(|| format!("invalid daemon address from {origin}"))?;
    let wants_tls = global.tls || global.tlsverify || set("DOCKER_TLS_VERIFY").is_some();
    let tls = if let Some(t) = context_tls {
        Some(t)
    } else if wants_tls {
        let dir = set("DOCKER_CERT_PATH").map(PathBuf::from).unwrap_or_else(|| config.clone());
        Some(Tls {
            ca: global.tlscacert.clone().unwrap_or_else(|| dir.join("ca.pem")),
            cert: global.tlscert.clone().unwrap_or_else(|| dir.join("cert.pem")),
            key: global.tlskey.clone().unwrap_or_else(|| dir.join("key.pem")),
        })
    } else {
        None
    };
    if tls.is_some() && !host.starts_with("tcp://") {
        bail!("TLS applies to tcp:// daemons, but the address from {origin} is {host}");
    }
    Ok(Endpoint { host, tls, origin, config_dir: config })
}

/// Accepts what docker accepts: `unix:///p`, `tcp://h:p`, `h:p` (tcp), `/path` (unix).
fn normalise(host: &str) -> Result<String> {
    if let Some(path) = host.strip_prefix("unix://") {
        if path.is_empty() {
            bail!("{host:?} names no socket path");
        }
        return Ok(host.to_string());
    }
    if host.starts_with('/') {
        return Ok(format!("unix://{host}"));
    }
    let addr = host.strip_prefix("tcp://").unwrap_or(host);
    if host.contains("://") && !host.starts_with("tcp://") {
        bail!("{host:?}: hardrun connects over unix:// or tcp:// (ssh:// and npipe:// are not supported)");
    }
    let addr = addr.trim_end_matches('/');
    if addr.is_empty() {
        bail!("{host:?} names no address");
    }
    let with_port = if addr.rsplit_once(':').is_some_and(|(_, p)| p.parse::<u16>().is_ok()) {
        addr.to_string()
    } else {
        format!("{addr}:2375")
    };
    Ok(format!("tcp://{with_port}"))
}

fn current_context(config: &Path) -> Option<String> {
    let text = crate::bounded_file::read_text(&config.join("config.json"), crate::bounded_file::TEXT_MAX).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v.get("currentContext").and_then(|c| c.as_str()).filter(|c| !c.is_empty() && *c != "default").map(str::to_string)
}

/// A context's endpoint, from `contexts/meta/<sha256(name)>/meta.json`.
fn from_context(config: &Path, name: &str) -> Result<(String, Option<Tls>)> {
    if name == "default" {
        return Ok((DEFAULT_HOST.to_string(), None));
    }
    let digest = Sha256::digest(name.as_bytes());
    let id: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    let meta = config.join("contexts/meta").join(&id).join("meta.json");
    let text = crate::bounded_file::read_text(&meta, crate::bounded_file::TEXT_MAX).with_context(|| {
        format!("docker context {name:?} not found ({} unreadable); `docker context ls` lists them", meta.display())
    })?;
    let v: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("docker context {name:?}: {} is not JSON", meta.display()))?;
    let docker = v.pointer("/Endpoints/docker").context("the context has no docker endpoint")?;
    let host = docker.get("Host").and_then(|h| h.as_str()).context("the context's docker endpoint has no Host")?;
    let tls_dir = config.join("contexts/tls").join(&id).join("docker");
    let tls = tls_dir.join("ca.pem").exists().then(|| Tls {
        ca: tls_dir.join("ca.pem"),
        cert: tls_dir.join("cert.pem"),
        key: tls_dir.join("key.pem"),
    });
    Ok((host.to_string(), tls))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn precedence() {
        let env = env_of(&[("DOCKER_HOST", "tcp://10.0.0.1:2375"), ("HOME", "/nonexistent")]);
        let flag = Global { host: Some("unix:///tmp/d.sock".into()), ..Global::default() };
        assert_eq!(resolve(&flag, &env).unwrap().host, "unix:///tmp/d.sock");
        let e = resolve(&Global::default(), &env).unwrap();
        assert_eq!((e.host.as_str(), e.origin.as_str()), ("tcp://10.0.0.1:2375", "DOCKER_HOST"));
        let none = env_of(&[("HOME", "/nonexistent")]);
        assert_eq!(resolve(&Global::default(), &none).unwrap().host, DEFAULT_HOST);
    }

    #[test]
    fn address_forms() {
        assert_eq!(normalise("/run/d.sock").unwrap(), "unix:///run/d.sock");
        assert_eq!(normalise("localhost:2376").unwrap(), "tcp://localhost:2376");
        assert_eq!(normalise("tcp://10.0.0.1").unwrap(), "tcp://10.0.0.1:2375");
        assert!(normalise("ssh://me@host").is_err());
        assert!(normalise("unix://").is_err());
    }

    #[test]
    fn contexts_from_the_docker_config() {
        let d = tempfile::tempdir().unwrap();
        let id: String = Sha256::digest(b"remote").iter().map(|b| format!("{b:02x}")).collect();
        let meta = d.path().join("contexts/meta").join(&id);
        std::fs::create_dir_all(&meta).unwrap();
        std::fs::write(
            meta.join("meta.json"),
            r#"{"Name":"remote","Metadata":{},"Endpoints":{"docker":{"Host":"unix:///tmp/remote.sock","SkipTLSVerify":false}}}"#,
        )
        .unwrap();
        std::fs::write(d.path().join("config.json"), r#"{"currentContext":"remote"}"#).unwrap();
        let dir = d.path().to_str().unwrap().to_string();
        let env = env_of(&[("DOCKER_CONFIG", &dir)]);
        let e = resolve(&Global::default(), &env).unwrap();
        assert_eq!((e.host.as_str(), e.origin.as_str()), ("unix:///tmp/remote.sock", "context \"remote\""));
        let flag = Global { context: Some("missing".into()), ..Global::default() };
        let err = resolve(&flag, &env).unwrap_err().to_string();
        assert!(err.contains("missing") && err.contains("docker context ls"), "{err}");
    }

    #[test]
    fn tls_from_the_environment() {
        let env =
            env_of(&[("DOCKER_HOST", "tcp://h:2376"), ("DOCKER_TLS_VERIFY", "1"), ("DOCKER_CERT_PATH", "/certs")]);
        let e = resolve(&Global::default(), &env).unwrap();
        assert_eq!(e.tls.unwrap().ca, PathBuf::from("/certs/ca.pem"));
        let env = env_of(&[("DOCKER_TLS_VERIFY", "1"), ("HOME", "/x")]);
        assert!(resolve(&Global::default(), &env).is_err(), "TLS on a unix socket makes no sense");
    }
}
