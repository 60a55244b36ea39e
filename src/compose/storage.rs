//! A service's storage keys as docker-run flags: `volumes` (short and long syntax) as
//! `-v`, `--mount` and `--tmpfs`; file-based `secrets` and `configs` as the read-only
//! binds Compose makes of them; and the top-level `volumes:` definitions as the facts
//! policy judges a named volume by (its driver and driver options).

use std::collections::BTreeMap;

use serde_yaml::{Mapping, Value};

use super::merge::scalar_text;
use super::translate::Translation;
use super::{Problem, Project};
use crate::policy::VolumeFacts;

pub(super) fn volumes(t: &mut Translation, v: &Value) {
    let Value::Sequence(items) = v else {
        return t.problem("volumes", "volumes is a list");
    };
    for (i, item) in items.iter().enumerate() {
        let key = format!("volumes[{i}]");
        match item {
            Value::Mapping(m) => long(t, m, &key),
            other => {
                let Some(spec) = t.text(other, &key) else { continue };
                let source = spec.split(':').next().unwrap_or_default();
                if spec.contains(':') && !source.starts_with('/') && !named(t, source, &key) {
                    continue;
                }
                t.flag("volume", &spec, &key);
            }
        }
    }
}

/// A named volume must be declared under the top-level `volumes:` (Compose refuses it
/// otherwise); records it for the daemon lookup.
fn named(t: &mut Translation, name: &str, key: &str) -> bool {
    if !t.project.volumes.contains_key(name) {
        t.problem(key, format!("volume {name:?} is not declared under the top-level volumes:"));
        return false;
    }
    if !t.svc.volumes.iter().any(|v| v == name) {
        t.svc.volumes.push(name.to_string());
    }
    true
}

/// Quotes one `--mount` field as Go's CSV reader reads it.
fn csv(field: &str) -> String {
    if field.contains([',', '"']) { format!("\"{}\"", field.replace('"', "\"\"")) } else { field.to_string() }
}

/// The long syntax: binds as `-v` (with its modes), volumes as `-v` or `--mount`, tmpfs
/// as `--tmpfs` (so it can be owned by the service's user).
fn long(t: &mut Translation, m: &Mapping, key: &str) {
    const KEYS: [&str; 8] = ["type", "source", "target", "read_only", "bind", "volume", "tmpfs", "consistency"];
    if let Some(other) = m.keys().map(scalar_text).find(|k| !KEYS.contains(&k.as_str())) {
        return t.problem(&format!("{key}.{other}"), "not a volume key hardrun knows");
    }
    let get = |k: &str| m.get(k).map(scalar_text).filter(|s| !s.is_empty());
    let sub = |section: &str, k: &str| m.get(section).and_then(|s| s.get(k)).cloned();
    let Some(target) = get("target") else {
        return t.problem(key, "a volume needs a target");
    };
    let read_only = match m.get("read_only") {
        Some(v) => t.boolean(v, &format!("{key}.read_only")).unwrap_or(false),
        None => false,
    };
    let kind = get("type").unwrap_or_else(|| "volume".into());
    let allowed: &[&str] = match kind.as_str() {
        "bind" => &["propagation", "create_host_path", "selinux"],
        "volume" => &["nocopy", "subpath"],
        "tmpfs" => &["size", "mode"],
        _ => &[],
    };
    for section in ["bind", "volume", "tmpfs"] {
        let Some(s) = m.get(section) else { continue };
        let unknown = s.as_mapping().map(|s| s.keys().map(scalar_text).find(|k| !allowed.contains(&k.as_str())));
        if section != kind || unknown.is_none() {
            return t.problem(&format!("{key}.{section}"), format!("no {section} options for a {kind} volume"));
        }
        if let Some(Some(k)) = unknown {
            return t.problem(&format!("{key}.{section}.{k}"), "not an option hardrun knows");
        }
    }
    let mut modes: Vec<String> = Vec::new();
    if read_only {
        modes.push("ro".into());
    }
    if let Some(c) = get("consistency") {
        modes.push(c);
    }
    match kind.as_str() {
        "bind" => {
            let Some(source) = get("source") else {
                return t.problem(key, "a bind needs a source");
            };
            if let Some(p) = sub("bind", "propagation") {
                modes.push(scalar_text(&p));
            }
            if let Some(s) = sub("bind", "selinux") {
                modes.push(scalar_text(&s));
            }
            let mode = if modes.is_empty() { String::new() } else { format!(":{}", modes.join(",")) };
            t.flag("volume", &format!("{source}:{target}{mode}"), key);
        }
        "volume" => {
            let source = get("source");
            if let Some(s) = &source
                && !named(t, s, key)
            {
                return;
            }
            let nocopy =
                sub("volume", "nocopy").is_some_and(|v| t.boolean(&v, &format!("{key}.volume.nocopy")) == Some(true));
            match sub("volume", "subpath").map(|s| scalar_text(&s)) {
                Some(subpath) => {
                    let mut fields = vec!["type=volume".to_string(), format!("target={}", csv(&target))];
                    fields.extend(source.map(|s| format!("source={}", csv(&s))));
                    fields.push(format!("volume-subpath={}", csv(&subpath)));
                    if read_only {
                        fields.push("readonly".into());
                    }
                    if nocopy {
                        fields.push("volume-nocopy".into());
                    }
                    t.flag("mount", &fields.join(","), key);
                }
                None => {
                    if nocopy {
                        modes.push("nocopy".into());
                    }
                    let mode = if modes.is_empty() { String::new() } else { format!(":{}", modes.join(",")) };
                    let spec = match source {
                        Some(s) => format!("{s}:{target}{mode}"),
                        None => target.clone(),
                    };
                    t.flag("volume", &spec, key);
                }
            }
        }
        "tmpfs" => {
            let mut options = Vec::new();
            if let Some(size) = sub("tmpfs", "size") {
                options.push(format!("size={}", scalar_text(&size)));
            }
            if let Some(mode) = sub("tmpfs", "mode") {
                // Written as octal digits (1777), as the mount takes them.
                options.push(format!("mode={}", scalar_text(&mode)));
            }
            if read_only {
                options.push("ro".into());
            }
            let spec = if options.is_empty() { target } else { format!("{target}:{}", options.join(",")) };
            t.flag("tmpfs", &spec, key);
        }
        other => t.problem(&format!("{key}.type"), format!("volume type {other:?} is not supported here")),
    }
}

/// `secrets:` and `configs:` of a service: Compose (outside a swarm) bind-mounts each
/// file read-only, at /run/secrets/NAME or /NAME; hardrun judges that bind.
pub(super) fn secrets(t: &mut Translation, section: &str, v: &Value) {
    let Value::Sequence(items) = v else {
        return t.problem(section, format!("{section} is a list"));
    };
    let defs = if section == "secrets" { t.project.secrets.clone() } else { t.project.configs.clone() };
    for (i, item) in items.iter().enumerate() {
        let key = format!("{section}[{i}]");
        let (source, target) = match item {
            Value::Mapping(m) => {
                if let Some(other) = m
                    .keys()
                    .map(scalar_text)
                    .find(|k| !["source", "target", "uid", "gid", "mode"].contains(&k.as_str()))
                {
                    t.problem(&format!("{key}.{other}"), format!("not a {section} key hardrun knows"));
                    continue;
                }
                let source = m.get("source").map(scalar_text).unwrap_or_default();
                (source.clone(), m.get("target").map(scalar_text).unwrap_or(source))
            }
            other => match t.text(other, &key) {
                Some(s) => (s.clone(), s),
                None => continue,
            },
        };
        let Some(Value::Mapping(def)) = defs.get(source.as_str()) else {
            t.problem(&key, format!("{source:?} is not declared under the top-level {section}:"));
            continue;
        };
        let Some(file) = def.get("file").map(scalar_text) else {
            t.problem(
                &key,
                format!(
                    "only file-based {section} are supported ({source:?} has no file:; external ones need a swarm)"
                ),
            );
            continue;
        };
        let target = match (section, target.starts_with('/')) {
            (_, true) => target,
            ("secrets", false) => format!("/run/secrets/{target}"),
            _ => format!("/{target}"),
        };
        t.flag("volume", &format!("{file}:{target}:ro"), &key);
    }
}

/// Each top-level named volume as policy sees it: the driver and options Compose will
/// create it with. Problems for keys hardrun does not know.
pub fn declared(p: &Project) -> (BTreeMap<String, VolumeFacts>, Vec<Problem>) {
    const KEYS: [&str; 5] = ["driver", "driver_opts", "external", "name", "labels"];
    let mut facts = BTreeMap::new();
    let mut problems = Vec::new();
    for (name, def) in super::definitions(&p.volumes, "volume", &KEYS, &mut problems) {
        if p.is_external(&def) {
            continue;
        }
        let options = match def.get("driver_opts") {
            Some(Value::Mapping(o)) => o.iter().map(|(k, v)| (scalar_text(k), scalar_text(v))).collect(),
            _ => BTreeMap::new(),
        };
        let driver = def.get("driver").map(scalar_text).unwrap_or_else(|| "local".into());
        facts.insert(name, VolumeFacts { driver, options });
    }
    (facts, problems)
}
