//! Running as a docker CLI plugin (`docker hardrun run …`). The docker CLI finds
//! `docker-hardrun` in its cli-plugins folders, asks it `docker-cli-plugin-metadata`, and
//! runs it as `docker-hardrun [DOCKER'S GLOBAL OPTIONS] hardrun [ARGS…]`, with its own
//! environment (DOCKER_HOST, DOCKER_CONTEXT, DOCKER_CONFIG, DOCKER_TLS_VERIFY…). This
//! module answers the metadata and turns that command line into hardrun's own
//! (`hardrun install-plugin` puts the file in place).

use std::ffi::{OsStr, OsString};
use std::path::Path;

/// The plugin's name: `docker hardrun`, from the file `docker-hardrun`.
pub const NAME: &str = "hardrun";
pub const METADATA: &str = "docker-cli-plugin-metadata";
pub const FILE: &str = "docker-hardrun";

/// What the docker CLI expects on stdout (the CLI plugin spec, schema 0.1.0).
pub fn metadata() -> String {
    serde_json::json!({
        "SchemaVersion": "0.1.0",
        "Vendor": "hardrun",
        "Version": env!("CARGO_PKG_VERSION"),
        "ShortDescription": "Run containers hardened: docker run's flags, a hardening profile merged in",
    })
    .to_string()
}

/// hardrun's command line when the process was started as the plugin, with the docker
/// folder `--config` named (which hardrun reads as DOCKER_CONFIG); `None` otherwise.
pub fn as_hardrun(args: &[OsString]) -> Option<(Vec<OsString>, Option<OsString>)> {
    let started_as = args.first().map(Path::new).and_then(Path::file_name);
    if started_as != Some(OsStr::new(FILE)) {
        return None;
    }
    let mut out = vec![OsString::from("hardrun")];
    let mut config = None;
    let mut rest = args.iter().skip(1);
    while let Some(a) = rest.next() {
        let s = a.to_string_lossy();
        let (flag, inline) = match s.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (s.to_string(), None),
        };
        let mut value = |inline: Option<String>| inline.map(OsString::from).or_else(|| rest.next().cloned());
        match flag.as_str() {
            // The plugin's own name ends docker's options; the rest is hardrun's.
            NAME => {
                out.extend(rest.cloned());
                return Some((out, config));
            }
            "--config" => config = value(inline),
            // Logging of the docker CLI itself: nothing of hardrun's.
            "-D" | "--debug" => {}
            "-l" | "--log-level" => drop(value(inline)),
            "-c" | "--context" | "-H" | "--host" | "--tlscacert" | "--tlscert" | "--tlskey" => {
                let long = match flag.as_str() {
                    "-c" => "--context",
                    "-H" => "--host",
                    f => f,
                };
                out.push(long.into());
                out.extend(value(inline));
            }
            "--tls" | "--tlsverify" => {
                if inline.as_deref() != Some("false") {
                    out.push(flag.into());
                }
            }
            // -Hunix:///… and -cNAME: a short option with its value attached.
            _ if s.starts_with("-H") && s.len() > 2 => out.extend(["--host".into(), OsString::from(&s[2..])]),
            _ if s.starts_with("-c") && s.len() > 2 => out.extend(["--context".into(), OsString::from(&s[2..])]),
            // Anything else (a newer docker option, or no plugin name): left to hardrun's
            // parser, which names what it does not know.
            _ => {
                out.push(a.clone());
                out.extend(rest.cloned());
                return Some((out, config));
            }
        }
    }
    Some((out, config))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    fn translated(v: &[&str]) -> (Vec<String>, Option<String>) {
        let (out, config) = as_hardrun(&args(v)).expect("started as the plugin");
        (out.iter().map(|a| a.to_string_lossy().into_owned()).collect(), config.map(|c| c.to_string_lossy().into()))
    }

    #[test]
    fn only_the_plugin_file_is_a_plugin() {
        assert!(as_hardrun(&args(&["/usr/bin/hardrun", "run", "img"])).is_none());
        assert!(as_hardrun(&args(&["/home/u/.docker/cli-plugins/docker-hardrun", "hardrun", "run"])).is_some());
    }

    #[test]
    fn dockers_global_options_become_hardruns() {
        let (out, config) = translated(&[
            "/p/docker-hardrun",
            "-D",
            "--log-level=warn",
            "-c",
            "remote",
            "--config",
            "/tmp/cfg",
            "--tlsverify",
            "--tlscacert=/c/ca.pem",
            "-Htcp://h:2376",
            "hardrun",
            "run",
            "--rm",
            "-c",
            "512",
            "img",
        ]);
        let want = "hardrun --context remote --tlsverify --tlscacert /c/ca.pem --host tcp://h:2376 run --rm -c 512 img";
        assert_eq!(out.join(" "), want, "options after the plugin name are hardrun's own (-c is --cpu-shares)");
        assert_eq!(config.as_deref(), Some("/tmp/cfg"));
        let (out, _) = translated(&["/p/docker-hardrun", "hardrun", "plan", "img:1"]);
        assert_eq!(out.join(" "), "hardrun plan img:1");
    }
}
