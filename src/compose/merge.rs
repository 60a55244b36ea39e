//! Merging Compose definitions as Compose does, for `-f a.yml -f b.yml` and `extends`:
//! mappings (environment, labels, ulimits...) merge by key, lists of unique items
//! (cap_add, security_opt...) merge as sets, volumes and devices by container path,
//! networks by name, and everything else is replaced by the later file.

use std::path::{Path, PathBuf};

use serde_yaml::{Mapping, Value};

use super::Problem;

/// Service keys whose mapping (or `KEY=VALUE` list) merges key by key.
const MAPPINGS: [&str; 8] =
    ["environment", "labels", "ulimits", "sysctls", "depends_on", "storage_opt", "extra_hosts", "annotations"];
/// Service keys whose items merge as a set.
const SETS: [&str; 11] = [
    "cap_add",
    "cap_drop",
    "expose",
    "external_links",
    "volumes_from",
    "device_cgroup_rules",
    "profiles",
    "security_opt",
    "links",
    "group_add",
    "dns_opt",
];
/// Service keys whose items are appended.
const APPENDED: [&str; 4] = ["dns", "dns_search", "env_file", "tmpfs"];

/// Merges a later Compose file into `base`.
pub fn files(base: &mut Mapping, over: Mapping) {
    for (k, v) in over {
        let key = k.as_str().unwrap_or_default().to_string();
        match (key.as_str(), base.get_mut(&k), v) {
            ("services", Some(Value::Mapping(b)), Value::Mapping(o)) => {
                for (name, svc) in o {
                    let merged = match (b.remove(&name), svc) {
                        (Some(Value::Mapping(bs)), Value::Mapping(os)) => {
                            let keep_extends = os.get("extends").or(bs.get("extends")).cloned();
                            let mut m = service(bs, os);
                            if let Some(e) = keep_extends {
                                m.insert("extends".into(), e);
                            }
                            Value::Mapping(m)
                        }
                        (_, other) => other,
                    };
                    b.insert(name, merged);
                }
            }
            ("networks" | "volumes" | "secrets" | "configs", Some(Value::Mapping(b)), Value::Mapping(o)) => {
                for (name, def) in o {
                    let merged = match (b.remove(&name), def) {
                        (Some(Value::Mapping(mut bd)), Value::Mapping(od)) => {
                            bd.extend(od);
                            Value::Mapping(bd)
                        }
                        (_, other) => other,
                    };
                    b.insert(name, merged);
                }
            }
            (_, _, v) => {
                base.insert(k, v);
            }
        }
    }
}

/// `over` merged onto `base`, one service.
pub fn service(base: Mapping, over: Mapping) -> Mapping {
    let mut out = base;
    for (k, v) in over {
        let key = k.as_str().unwrap_or_default();
        let merged = match out.remove(&k) {
            None => v,
            Some(b) if MAPPINGS.contains(&key) => Value::Mapping(by_key(as_mapping(b, key), as_mapping(v, key))),
            Some(b) if SETS.contains(&key) => Value::Sequence(union(as_list(b), as_list(v))),
            Some(b) if APPENDED.contains(&key) => Value::Sequence([as_list(b), as_list(v)].concat()),
            Some(b) if key == "volumes" || key == "devices" => Value::Sequence(by_target(as_list(b), as_list(v))),
            Some(b) if key == "ports" => Value::Sequence(union(as_list(b), as_list(v))),
            Some(b) if key == "networks" => Value::Mapping(networks(b, v)),
            Some(Value::Mapping(b)) if key == "logging" => match v {
                Value::Mapping(o) => Value::Mapping(logging(b, o)),
                other => other,
            },
            Some(Value::Mapping(b)) if key == "healthcheck" => match v {
                Value::Mapping(o) if o.get("disable").and_then(Value::as_bool) == Some(true) => Value::Mapping(o),
                Value::Mapping(o) => Value::Mapping(by_key(b, o)),
                other => other,
            },
            Some(b) if key == "build" => Value::Mapping(deep(as_build(b), as_build(v))),
            Some(Value::Mapping(b)) if key == "deploy" || key == "blkio_config" || key.starts_with("x-") => match v {
                Value::Mapping(o) => Value::Mapping(deep(b, o)),
                other => other,
            },
            Some(_) => v,
        };
        out.insert(k, merged);
    }
    out
}

fn by_key(mut base: Mapping, over: Mapping) -> Mapping {
    base.extend(over);
    base
}

/// Mappings merged recursively, anything else replaced.
fn deep(mut base: Mapping, over: Mapping) -> Mapping {
    for (k, v) in over {
        let merged = match (base.remove(&k), v) {
            (Some(Value::Mapping(b)), Value::Mapping(o)) => Value::Mapping(deep(b, o)),
            (_, v) => v,
        };
        base.insert(k, merged);
    }
    base
}

/// `base` then the items of `over` it lacks.
fn union(mut base: Vec<Value>, over: Vec<Value>) -> Vec<Value> {
    for item in over {
        if !base.contains(&item) {
            base.push(item);
        }
    }
    base
}

fn as_list(v: Value) -> Vec<Value> {
    match v {
        Value::Sequence(s) => s,
        Value::Null => Vec::new(),
        other => vec![other],
    }
}

/// A mapping, or a `KEY=VALUE` (for extra_hosts also `HOST:IP`) list as one; a
/// depends_on list becomes `{service: {condition: service_started}}`.
pub fn as_mapping(v: Value, key: &str) -> Mapping {
    match v {
        Value::Mapping(m) => m,
        Value::Sequence(items) => items
            .into_iter()
            .map(|item| {
                let text = match &item {
                    Value::String(s) => s.clone(),
                    other => scalar_text(other),
                };
                if key == "depends_on" {
                    let mut cond = Mapping::new();
                    cond.insert("condition".into(), "service_started".into());
                    return (Value::String(text), Value::Mapping(cond));
                }
                let split = match key {
                    "extra_hosts" => text.split_once('=').or_else(|| text.split_once(':')),
                    _ => text.split_once('='),
                };
                match split {
                    Some((k, v)) => (Value::String(k.to_string()), Value::String(v.to_string())),
                    None => (Value::String(text), Value::Null),
                }
            })
            .collect(),
        _ => Mapping::new(),
    }
}

/// A scalar as Compose turns it into text.
pub fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Null => String::new(),
        other => serde_yaml::to_string(other).unwrap_or_default().trim().to_string(),
    }
}

fn as_build(v: Value) -> Mapping {
    match v {
        Value::String(s) => {
            let mut m = Mapping::new();
            m.insert("context".into(), s.into());
            m
        }
        Value::Mapping(m) => m,
        _ => Mapping::new(),
    }
}

/// The container path a volume or device entry mounts at.
fn target(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => {
            let parts: Vec<&str> = s.split(':').collect();
            Some(match parts.as_slice() {
                [one] => one.to_string(),
                [_, t, ..] => t.to_string(),
                [] => return None,
            })
        }
        Value::Mapping(m) => m.get("target").and_then(Value::as_str).map(str::to_string),
        _ => None,
    }
}

fn by_target(base: Vec<Value>, over: Vec<Value>) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    for item in base.into_iter().chain(over) {
        let t = target(&item);
        match out.iter_mut().find(|o| t.is_some() && target(o) == t) {
            Some(slot) => *slot = item,
            None => out.push(item),
        }
    }
    out
}

fn networks(base: Value, over: Value) -> Mapping {
    let to_map = |v: Value| -> Mapping {
        match v {
            Value::Sequence(names) => names.into_iter().map(|n| (n, Value::Null)).collect(),
            Value::Mapping(m) => m,
            _ => Mapping::new(),
        }
    };
    let mut out = to_map(base);
    for (name, settings) in to_map(over) {
        let merged = match (out.remove(&name), settings) {
            (Some(Value::Mapping(mut m)), Value::Mapping(o)) => {
                for (k, v) in o {
                    let list = matches!(k.as_str(), Some("aliases" | "link_local_ips"));
                    let merged = match (m.remove(&k), v) {
                        (Some(b), v) if list => Value::Sequence(union(as_list(b), as_list(v))),
                        (_, v) => v,
                    };
                    m.insert(k, merged);
                }
                Value::Mapping(m)
            }
            (Some(b), Value::Null) => b,
            (_, o) => o,
        };
        out.insert(name, merged);
    }
    out
}

fn logging(base: Mapping, over: Mapping) -> Mapping {
    let same_driver = over.get("driver").is_none() || over.get("driver") == base.get("driver");
    let mut out = base.clone();
    if let Some(d) = over.get("driver") {
        out.insert("driver".into(), d.clone());
    }
    match (same_driver, over.get("options")) {
        (true, Some(Value::Mapping(o))) => {
            let mut opts = match base.get("options") {
                Some(Value::Mapping(b)) => b.clone(),
                _ => Mapping::new(),
            };
            opts.extend(o.clone());
            out.insert("options".into(), Value::Mapping(opts));
        }
        (false, o) => {
            out.remove("options");
            if let Some(o) = o {
                out.insert("options".into(), o.clone());
            }
        }
        (true, _) => {}
    }
    out
}

/// Replaces every service's `extends` with the service it extends merged under it.
/// `load` reads another file (interpolated, paths absolute against its own directory).
pub fn resolve_extends(
    doc: &mut Mapping,
    main_file: &Path,
    load: &mut dyn FnMut(&Path) -> Result<Mapping, Vec<Problem>>,
    problems: &mut Vec<Problem>,
) {
    let Some(Value::Mapping(services)) = doc.get("services").cloned() else { return };
    let mut resolved = Mapping::new();
    for (name, _) in services.iter() {
        let n = name.as_str().unwrap_or_default().to_string();
        let mut chain = Vec::new();
        match extended(&services, main_file, &n, load, &mut chain) {
            Ok(svc) => {
                resolved.insert(name.clone(), Value::Mapping(svc));
            }
            Err(p) => problems.push(p),
        }
    }
    doc.insert("services".into(), Value::Mapping(resolved));
}

/// Service `name` of `services` (read from `file`) with its `extends` chain applied.
fn extended(
    services: &Mapping,
    file: &Path,
    name: &str,
    load: &mut dyn FnMut(&Path) -> Result<Mapping, Vec<Problem>>,
    chain: &mut Vec<(PathBuf, String)>,
) -> Result<Mapping, Problem> {
    let key = format!("services.{name}");
    let link = (file.to_path_buf(), name.to_string());
    if chain.contains(&link) {
        return Err(Problem::new(&format!("{key}.extends"), "the extends chain comes back to this service"));
    }
    chain.push(link);
    let mut svc = match services.get(name) {
        Some(Value::Mapping(m)) => m.clone(),
        Some(Value::Null) => Mapping::new(),
        Some(_) => return Err(Problem::new(&key, "a service is a mapping of Compose keys")),
        None => return Err(Problem::new(&key, format!("no such service in {}", file.display()))),
    };
    let Some(ext) = svc.remove("extends") else { return Ok(svc) };
    let (base_name, base_file) = match &ext {
        Value::String(s) => (s.clone(), None),
        Value::Mapping(m) => {
            let service = m.get("service").and_then(Value::as_str);
            let other = m.keys().find(|k| !matches!(k.as_str(), Some("service" | "file")));
            match (service, other) {
                (Some(s), None) => (s.to_string(), m.get("file").and_then(Value::as_str).map(PathBuf::from)),
                _ => return Err(Problem::new(&format!("{key}.extends"), "extends takes service: and file: only")),
            }
        }
        _ => return Err(Problem::new(&format!("{key}.extends"), "extends is a service name or {service, file}")),
    };
    let base = match base_file {
        None => extended(services, file, &base_name, load, chain)?,
        Some(path) => {
            let other = load(&path).map_err(|mut p| p.remove(0))?;
            let Some(Value::Mapping(other_services)) = other.get("services") else {
                return Err(Problem::new(&format!("{key}.extends"), format!("{} has no services", path.display())));
            };
            extended(other_services, &path, &base_name, load, chain)?
        }
    };
    Ok(service(base, svc))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(text: &str) -> Mapping {
        serde_yaml::from_str(text).unwrap()
    }

    #[test]
    fn later_files_merge_as_compose_merges() {
        let mut base = map(
            "services:\n  web:\n    image: a:1\n    command: [x]\n    environment: [A=1, B=2]\n    cap_add: [CHOWN]\n    \
             volumes: ['/d:/data', '/e:/etc2']\n    networks: [front]\n",
        );
        let over = map(
            "services:\n  web:\n    image: a:2\n    command: [y]\n    environment: {B: '3'}\n    cap_add: [KILL, CHOWN]\n    \
             volumes: ['/other:/data']\n    networks: {back: {aliases: [w]}}\n  db: {image: d:1}\n",
        );
        files(&mut base, over);
        let web = &base["services"]["web"];
        assert_eq!(web["image"], Value::from("a:2"));
        assert_eq!(web["command"], serde_yaml::from_str::<Value>("[y]").unwrap());
        assert_eq!(web["environment"], serde_yaml::from_str::<Value>("{A: '1', B: '3'}").unwrap());
        assert_eq!(web["cap_add"], serde_yaml::from_str::<Value>("[CHOWN, KILL]").unwrap());
        assert_eq!(web["volumes"], serde_yaml::from_str::<Value>("['/other:/data', '/e:/etc2']").unwrap());
        assert!(web["networks"]["front"].is_null() && web["networks"]["back"]["aliases"][0] == "w");
        assert_eq!(base["services"]["db"]["image"], Value::from("d:1"));
    }

    #[test]
    fn extends_in_the_same_file_and_another() {
        let dir = tempfile::tempdir().unwrap();
        let other = dir.path().join("base.yml");
        let mut doc = map(&format!(
            "services:\n  base: {{image: a:1, read_only: false, environment: {{A: '1'}}}}\n  \
             web:\n    extends: base\n    environment: {{B: '2'}}\n  \
             far:\n    extends: {{file: {}, service: common}}\n  \
             loop1: {{extends: loop2}}\n  loop2: {{extends: loop1}}\n",
            other.display()
        ));
        let mut load = |p: &Path| -> Result<Mapping, Vec<Problem>> {
            assert_eq!(p, other.as_path());
            Ok(map("services:\n  common: {image: c:1, privileged: true}\n"))
        };
        let mut problems = Vec::new();
        resolve_extends(&mut doc, Path::new("/p/compose.yml"), &mut load, &mut problems);
        let s = &doc["services"];
        assert_eq!(s["web"]["image"], Value::from("a:1"));
        assert_eq!(s["web"]["environment"], serde_yaml::from_str::<Value>("{A: '1', B: '2'}").unwrap());
        assert_eq!(s["far"]["privileged"], Value::Bool(true));
        assert!(s["web"].get("extends").is_none());
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].to_string().contains("comes back"));
    }
}
