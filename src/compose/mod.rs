//! Compose projects under hardrun: a project is read as Compose reads it (`file`,
//! `interpolate`, `merge`), each service becomes the `RunRequest` `hardrun run` would
//! build (`translate`, `storage`, `net`), goes through the same `policy::harden`, and the
//! plans are written back as a Compose file with the controls in it (`render`).
//! Running Compose itself is `command::compose`'s.

pub mod file;
pub mod interpolate;
pub mod merge;
pub mod net;
pub mod process;
pub mod render;
pub mod resources;
pub mod storage;
pub mod translate;

use std::fmt;
use std::path::PathBuf;

use serde_yaml::{Mapping, Value};

use crate::plan::Plan;
use crate::policy::Refusal;
pub use translate::Service;

/// Something in the project hardrun cannot read or does not understand, at a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// `services.web.mem_limit`, a file name, or `-f`.
    pub key: String,
    pub why: String,
    pub fix: String,
}

impl Problem {
    pub fn new(key: &str, why: impl Into<String>) -> Problem {
        Problem::with_fix(key, why, "fix the Compose file")
    }

    pub fn with_fix(key: &str, why: impl Into<String>, fix: impl Into<String>) -> Problem {
        Problem { key: key.to_string(), why: why.into(), fix: fix.into() }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.key, self.why)
    }
}

impl From<Problem> for Refusal {
    /// Keys and values come from a file hardrun did not write: escaped and bounded.
    fn from(p: Problem) -> Refusal {
        let clean = |t: &str| crate::sanitize::line(t, crate::sanitize::LINE_MAX);
        Refusal::never(clean(&p.key), clean(&p.why), p.fix)
    }
}

/// A project as Compose would run it: every file merged, `extends` applied, values
/// interpolated, relative paths absolute.
#[derive(Debug, Clone, Default)]
pub struct Project {
    pub name: String,
    /// The project directory: relative paths and the bind rule's "project" are here.
    pub dir: PathBuf,
    pub files: Vec<PathBuf>,
    /// Services in file order.
    pub services: Vec<(String, Mapping)>,
    pub networks: Mapping,
    pub volumes: Mapping,
    pub secrets: Mapping,
    pub configs: Mapping,
    /// Top-level `x-` keys.
    pub extensions: Mapping,
    /// Variables the files used that were not set (Compose substitutes "").
    pub unset: Vec<String>,
    /// The project's `.env` file: variables Compose takes when the environment lacks them.
    pub dot_env: Vec<(String, String)>,
}

impl Project {
    fn from_document(name: String, dir: PathBuf, files: Vec<PathBuf>, doc: Mapping, unset: Vec<String>) -> Project {
        let section = |k: &str| match doc.get(k) {
            Some(Value::Mapping(m)) => m.clone(),
            _ => Mapping::new(),
        };
        let services = section("services")
            .into_iter()
            .map(|(k, v)| (merge::scalar_text(&k), v.as_mapping().cloned().unwrap_or_default()))
            .collect();
        let extensions = doc
            .iter()
            .filter(|(k, _)| k.as_str().is_some_and(|k| k.starts_with("x-")))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        Project {
            name,
            dir,
            files,
            services,
            networks: section("networks"),
            volumes: section("volumes"),
            secrets: section("secrets"),
            configs: section("configs"),
            extensions,
            unset,
            dot_env: Vec::new(),
        }
    }

    /// Whether a top-level definition is `external` (made outside the project).
    pub fn is_external(&self, def: &Mapping) -> bool {
        match def.get("external") {
            Some(Value::Bool(b)) => *b,
            Some(Value::Mapping(_)) => true,
            Some(Value::String(s)) => matches!(s.to_ascii_lowercase().as_str(), "true" | "yes" | "on" | "1"),
            _ => false,
        }
    }

    fn real_name(&self, section: &Mapping, key: &str) -> String {
        let def = section.get(key).and_then(Value::as_mapping).cloned().unwrap_or_default();
        let legacy = def.get("external").and_then(|e| e.get("name")).and_then(Value::as_str);
        match (def.get("name").and_then(Value::as_str), legacy) {
            (Some(n), _) | (None, Some(n)) => n.to_string(),
            (None, None) if self.is_external(&def) => key.to_string(),
            (None, None) => format!("{}_{key}", self.name),
        }
    }

    /// A variable as Compose sees it: the environment first, then `.env`.
    pub fn variable(&self, env: interpolate::Lookup, key: &str) -> Option<String> {
        env(key).or_else(|| self.dot_env.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone()))
    }

    /// The daemon's name for a Compose network.
    pub fn network_name(&self, key: &str) -> String {
        self.real_name(&self.networks, key)
    }

    /// The daemon's name for a Compose volume.
    pub fn volume_name(&self, key: &str) -> String {
        self.real_name(&self.volumes, key)
    }
}

/// The definitions under a top-level section (`networks`, `volumes`) as mappings (a
/// bare name is an empty one); a definition that is not a mapping, or has a key not in
/// `keys` (or `x-`), is a problem and left out.
pub fn definitions(
    section: &Mapping,
    what: &str,
    keys: &[&str],
    problems: &mut Vec<Problem>,
) -> Vec<(String, Mapping)> {
    let mut out = Vec::new();
    for (k, def) in section {
        let name = merge::scalar_text(k);
        let key = format!("{what}s.{name}");
        let def = match def {
            Value::Mapping(m) => m.clone(),
            Value::Null => Mapping::new(),
            _ => {
                problems.push(Problem::new(&key, format!("a {what} definition is a mapping")));
                continue;
            }
        };
        let unknown = def.keys().map(merge::scalar_text).find(|k| !keys.contains(&k.as_str()) && !k.starts_with("x-"));
        if let Some(other) = unknown {
            problems.push(Problem::new(&format!("{key}.{other}"), format!("not a {what} key hardrun knows")));
            continue;
        }
        out.push((name, def));
    }
    out
}

/// Everything the project-wide checks and the service translations found, in order.
pub fn translate(project: &Project, lookup: interpolate::Lookup) -> Result<Vec<Service>, Vec<Problem>> {
    let mut problems = net::definitions(project);
    let (_, mut volume_problems) = storage::declared(project);
    problems.append(&mut volume_problems);
    let (services, mut service_problems) = translate::project(project, lookup);
    problems.append(&mut service_problems);
    for (name, svc) in &project.services {
        if let Some(deps) = svc.get("depends_on") {
            for (dep, _) in merge::as_mapping(deps.clone(), "depends_on") {
                let dep = merge::scalar_text(&dep);
                if !project.services.iter().any(|(n, _)| *n == dep) {
                    problems.push(Problem::new(&format!("services.{name}.depends_on"), format!("no service {dep:?}")));
                }
            }
        }
    }
    if project.services.is_empty() {
        problems.push(Problem::new("services", "the project has no services"));
    }
    if problems.is_empty() { Ok(services) } else { Err(problems) }
}

/// Hardens every service with `harden` (policy::harden with that service's profile and
/// facts), relabelling refusals in Compose's terms; every refusal of every service at once.
pub fn harden_all(
    services: Vec<Service>,
    mut harden: impl FnMut(&Service) -> Result<Plan, Vec<Refusal>>,
) -> Result<Vec<(Service, Plan)>, Vec<Refusal>> {
    let mut out = Vec::new();
    let mut refusals = Vec::new();
    for svc in services {
        match harden(&svc) {
            Ok(plan) => out.push((svc, plan)),
            Err(rs) => refusals.extend(rs.into_iter().map(|r| translate::relabel(&svc, r))),
        }
    }
    if refusals.is_empty() { Ok(out) } else { Err(refusals) }
}
