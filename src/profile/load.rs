//! Finding and loading profiles: the search path, `extends` chains, merging, and
//! errors that name the file and line.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_yaml::Value;

use super::model::{self, Invalid, Profile};
use super::schema::ProfileFile;

/// The profiles compiled into the binary.
pub const BUNDLED: [(&str, &str); 3] = [
    ("default", include_str!("../../profiles/default.yaml")),
    ("web", include_str!("../../profiles/web.yaml")),
    ("strict", include_str!("../../profiles/strict.yaml")),
];

/// A merged chain: the YAML, the file behind each key, and the files root first.
type Merged = (Value, BTreeMap<String, String>, Vec<Source>);

/// A profile problem: one line naming the file (and line, for YAML), what is wrong and
/// how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ProfileError(pub String);

/// One place profiles live, in search order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    Dir(PathBuf),
    Bundled,
}

/// A profile file found somewhere on the search path.
#[derive(Debug, Clone)]
pub struct Source {
    pub name: String,
    /// The file's path, or `bundled:NAME`.
    pub label: String,
    pub text: String,
    /// The folder relative paths inside the file resolve against.
    pub dir: Option<PathBuf>,
    /// Index into the search path, so `extends` of the same name looks further down.
    position: usize,
}

#[derive(Debug, Clone)]
pub struct Loader {
    pub locations: Vec<Location>,
}

impl Loader {
    /// The search path of DESIGN.md: ./.hardrun/profiles, $XDG_CONFIG_HOME/hardrun/profiles
    /// (~/.config when unset), /etc/hardrun/profiles, then the bundled profiles.
    pub fn standard(cwd: &Path, env: &dyn Fn(&str) -> Option<String>) -> Loader {
        let mut locations = vec![Location::Dir(cwd.join(".hardrun/profiles"))];
        let config = env("XDG_CONFIG_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| env("HOME").map(|h| Path::new(&h).join(".config")));
        if let Some(c) = config {
            locations.push(Location::Dir(c.join("hardrun/profiles")));
        }
        locations.push(Location::Dir("/etc/hardrun/profiles".into()));
        locations.push(Location::Bundled);
        Loader { locations }
    }

    /// Finds profile `name` at or after search position `from`.
    fn find(&self, name: &str, from: usize) -> Result<Option<Source>, ProfileError> {
        for (position, loc) in self.locations.iter().enumerate().skip(from) {
            match loc {
                Location::Bundled => {
                    if let Some((_, text)) = BUNDLED.iter().find(|(n, _)| *n == name) {
                        let label = format!("bundled:{name}");
                        return Ok(Some(Source {
                            name: name.into(),
                            label,
                            text: text.to_string(),
                            dir: None,
                            position,
                        }));
                    }
                }
                Location::Dir(dir) => {
                    for ext in ["yaml", "yml"] {
                        let path = dir.join(format!("{name}.{ext}"));
                        match std::fs::read_to_string(&path) {
                            Ok(text) => return Ok(Some(file_source(name, &path, text, position))),
                            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                            Err(e) => return Err(ProfileError(format!("profile {}: {e}", path.display()))),
                        }
                    }
                }
            }
        }
        Ok(None)
    }

    /// Loads profile `name` from the search path.
    pub fn load(&self, name: &str) -> Result<Profile, ProfileError> {
        check_name(name)?;
        let source = self.find(name, 0)?.ok_or_else(|| self.missing(name))?;
        self.resolve(source)
    }

    /// Loads the profile in `path` (`--profile-file`, `profile validate`).
    pub fn load_file(&self, path: &Path) -> Result<Profile, ProfileError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ProfileError(format!("cannot read profile file {}: {e}", path.display())))?;
        let name = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "profile".into());
        self.resolve(file_source(&name, path, text, 0))
    }

    /// The raw text of profile `name`, for `profile show`.
    pub fn source(&self, name: &str) -> Result<Source, ProfileError> {
        check_name(name)?;
        self.find(name, 0)?.ok_or_else(|| self.missing(name))
    }

    fn missing(&self, name: &str) -> ProfileError {
        let searched: Vec<String> = self
            .locations
            .iter()
            .map(|l| match l {
                Location::Dir(d) => d.display().to_string(),
                Location::Bundled => "bundled".into(),
            })
            .collect();
        ProfileError(format!(
            "profile {name:?} not found (searched {}); `hardrun profile list` shows the ones there are",
            searched.join(", ")
        ))
    }

    /// Every profile on the search path: (name, where, description), shadowed ones included.
    pub fn list(&self) -> Vec<(String, String, String)> {
        let mut out = Vec::new();
        for loc in &self.locations {
            match loc {
                Location::Bundled => {
                    for (name, text) in BUNDLED {
                        out.push((name.to_string(), format!("bundled:{name}"), description(text)));
                    }
                }
                Location::Dir(dir) => {
                    let Ok(entries) = std::fs::read_dir(dir) else { continue };
                    let mut found: Vec<_> = entries
                        .flatten()
                        .map(|e| e.path())
                        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
                        .collect();
                    found.sort();
                    for p in found {
                        let name = p.file_stem().unwrap_or_default().to_string_lossy().into_owned();
                        let desc = std::fs::read_to_string(&p).map(|t| description(&t)).unwrap_or_default();
                        out.push((name, p.display().to_string(), desc));
                    }
                }
            }
        }
        out
    }

    /// Follows `extends` from `leaf` to the root, merges the chain and resolves it.
    fn resolve(&self, leaf: Source) -> Result<Profile, ProfileError> {
        let (merged, origins, chain) = self.merge_chain(leaf)?;
        let leaf = chain.last().expect("a chain has its leaf");
        let file: ProfileFile = serde_yaml::from_value(merged)
            .map_err(|e| ProfileError(format!("profile {}: {}", leaf.label, strip_location(&e.to_string()))))?;
        let seccomp_dir = |path: &str| -> Option<PathBuf> {
            // A relative seccomp path is relative to the file that named it.
            let origin = origins.get("seccomp.profile")?;
            let source = chain.iter().find(|s| &s.label == origin)?;
            let full = source.dir.as_ref().map_or_else(|| PathBuf::from(path), |d| d.join(path));
            full.is_file().then_some(full)
        };
        model::resolve(&leaf.name, file, origins.clone(), seccomp_dir).map_err(|e| at_line(&chain, &origins, e))
    }

    /// The merged YAML of a profile chain with, for every key, the file it came from.
    pub fn merged(&self, name: &str) -> Result<(Value, BTreeMap<String, String>), ProfileError> {
        let source = self.source(name)?;
        let (v, o, _) = self.merge_chain(source)?;
        Ok((v, o))
    }

    fn merge_chain(&self, leaf: Source) -> Result<Merged, ProfileError> {
        let mut chain = vec![leaf];
        loop {
            let current = chain.last().expect("chain is never empty");
            let parsed = parse_file(current)?;
            let Some(parent) = parsed.extends else { break };
            check_name(&parent).map_err(|e| ProfileError(format!("profile {}: extends: {}", current.label, e.0)))?;
            // A profile that extends its own name builds on the next one down the path
            // (so ./.hardrun/profiles/default.yaml can refine the bundled default).
            let from = if parent == current.name { current.position + 1 } else { 0 };
            let next = self.find(&parent, from)?.ok_or_else(|| {
                ProfileError(format!("profile {}: extends {parent:?}, which is not on the search path", current.label))
            })?;
            if chain.iter().any(|s| s.label == next.label) {
                let names: Vec<&str> = chain.iter().map(|s| s.label.as_str()).chain([next.label.as_str()]).collect();
                return Err(ProfileError(format!(
                    "profile {}: extends forms a cycle: {}",
                    chain[0].label,
                    names.join(" -> ")
                )));
            }
            chain.push(next);
        }
        chain.reverse();
        let mut merged = Value::Mapping(Default::default());
        let mut origins = BTreeMap::new();
        for source in &chain {
            let mut value: Value = serde_yaml::from_str(&source.text).unwrap_or(Value::Null);
            if let Value::Mapping(m) = &mut value {
                m.remove("extends");
            }
            merge(&mut merged, value, "", &source.label, &mut origins);
        }
        Ok((merged, origins, chain))
    }
}

fn file_source(name: &str, path: &Path, text: String, position: usize) -> Source {
    Source {
        name: name.to_string(),
        label: path.display().to_string(),
        text,
        dir: path.parent().map(Path::to_path_buf),
        position,
    }
}

fn check_name(name: &str) -> Result<(), ProfileError> {
    let ok = !name.is_empty()
        && name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        && !name.starts_with('.');
    if ok {
        Ok(())
    } else {
        Err(ProfileError(format!(
            "invalid profile name {name:?}: use letters, digits, '-', '_' (give a path with --profile-file)"
        )))
    }
}

/// Parses one file as the schema, so a typo or a wrong type is reported with its line.
fn parse_file(source: &Source) -> Result<ProfileFile, ProfileError> {
    if source.text.trim().is_empty() {
        return Ok(ProfileFile::default());
    }
    serde_yaml::from_str::<ProfileFile>(&source.text).map_err(|e| {
        let line = e.location().map(|l| format!(" line {}", l.line())).unwrap_or_default();
        ProfileError(format!(
            "profile {}{line}: {}; see docs/profiles.md for the keys",
            source.label,
            strip_location(&e.to_string())
        ))
    })
}

fn strip_location(msg: &str) -> String {
    match msg.find(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

fn description(text: &str) -> String {
    serde_yaml::from_str::<Value>(text)
        .ok()
        .and_then(|v| v.get("description").and_then(Value::as_str).map(str::to_string))
        .unwrap_or_default()
}

/// Deep merge: maps merge key by key, anything else replaces; a `null` removes the key.
fn merge(base: &mut Value, over: Value, path: &str, label: &str, origins: &mut BTreeMap<String, String>) {
    match (base, over) {
        (Value::Mapping(b), Value::Mapping(o)) => {
            for (k, v) in o {
                let key = k.as_str().map(str::to_string).unwrap_or_else(|| format!("{k:?}"));
                let child = if path.is_empty() { key } else { format!("{path}.{key}") };
                if v.is_null() {
                    b.remove(&k);
                    origins.retain(|p, _| p != &child && !p.starts_with(&format!("{child}.")));
                    origins.insert(child, label.to_string());
                    continue;
                }
                match b.get_mut(&k) {
                    Some(existing) if existing.is_mapping() && v.is_mapping() => {
                        merge(existing, v, &child, label, origins)
                    }
                    _ => {
                        origins.retain(|p, _| !p.starts_with(&format!("{child}.")));
                        record(&v, &child, label, origins);
                        b.insert(k, v);
                    }
                }
            }
        }
        (b, o) => *b = o,
    }
}

fn record(v: &Value, path: &str, label: &str, origins: &mut BTreeMap<String, String>) {
    match v {
        Value::Mapping(m) if !m.is_empty() => {
            for (k, child) in m {
                let key = k.as_str().map(str::to_string).unwrap_or_default();
                record(child, &format!("{path}.{key}"), label, origins);
            }
        }
        _ => {
            origins.insert(path.to_string(), label.to_string());
        }
    }
}

/// Adds the file and, when it can be found, the line to a value error.
fn at_line(chain: &[Source], origins: &BTreeMap<String, String>, e: Invalid) -> ProfileError {
    let label = origins
        .get(&e.key)
        .or_else(|| {
            origins
                .iter()
                .find(|(k, _)| k.starts_with(&format!("{}.", e.key)) || e.key.starts_with(&format!("{k}.")))
                .map(|(_, v)| v)
        })
        .cloned()
        .unwrap_or_else(|| chain.last().map(|s| s.label.clone()).unwrap_or_default());
    let line = chain
        .iter()
        .find(|s| s.label == label)
        .and_then(|s| key_line(&s.text, &e.key, &e.value))
        .map(|n| format!(" line {}", n + 1))
        .unwrap_or_default();
    ProfileError(format!("profile {label}{line}: {}: {}", e.key, e.message))
}

/// The line of `key` (dotted) in a YAML text, following its parents down the file, and of
/// `value` under it when given.
fn key_line(text: &str, key: &str, value: &str) -> Option<usize> {
    let lines: Vec<&str> = text.lines().collect();
    let mut at = 0;
    let mut found = None;
    for segment in key.split('.') {
        let pattern = format!("{segment}:");
        let i = (at..lines.len()).find(|&i| lines[i].split('#').next().unwrap_or_default().contains(&pattern))?;
        found = Some(i);
        at = i;
    }
    if !value.is_empty()
        && let Some(i) = (at..lines.len()).find(|&i| lines[i].contains(value))
    {
        return Some(i);
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn loader_in(dir: &Path) -> Loader {
        Loader { locations: vec![Location::Dir(dir.to_path_buf()), Location::Bundled] }
    }

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn bundled_profiles_resolve() {
        let l = Loader { locations: vec![Location::Bundled] };
        for (name, _) in BUNDLED {
            let p = l.load(name).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(p.filesystem.read_only && p.no_new_privileges, "{name}");
            assert!(!p.description.is_empty(), "{name} needs a description");
        }
        let web = l.load("web").unwrap();
        assert_eq!(web.origin("filesystem.tmpfs./tmp"), "bundled:web");
        assert_eq!(web.origin("no_new_privileges"), "bundled:default");
    }

    #[test]
    fn unknown_keys_name_file_and_line() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "typo.yaml", "extends: default\nuser:\n  alow_root: true\n");
        let e = loader_in(d.path()).load("typo").unwrap_err().0;
        assert!(e.contains("typo.yaml line 3") && e.contains("alow_root"), "{e}");
    }

    #[test]
    fn wrong_types_and_malformed_yaml() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "types.yaml", "resources:\n  memory:\n    max: lots\n");
        let e = loader_in(d.path()).load("types").unwrap_err().0;
        assert!(e.contains("types.yaml line 3") && e.contains("lots"), "{e}");
        write(d.path(), "broken.yaml", "user: [\n");
        let e = loader_in(d.path()).load("broken").unwrap_err().0;
        assert!(e.contains("broken.yaml line"), "{e}");
    }

    #[test]
    fn semantic_errors_name_the_key() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "caps.yaml", "extends: default\ncapabilities:\n  allow: [NET_RAW, SYS_ADMIN]\n");
        let e = loader_in(d.path()).load("caps").unwrap_err().0;
        assert!(e.contains("caps.yaml line 3: capabilities.allow") && e.contains("root on the host"), "{e}");
        write(d.path(), "bind.yaml", "filesystem:\n  binds:\n    allow: [/var]\n");
        let e = loader_in(d.path()).load("bind").unwrap_err().0;
        assert!(e.contains("/var/run") || e.contains("/var/lib/docker") || e.contains("never be bound"), "{e}");
    }

    #[test]
    fn value_errors_point_at_their_line() {
        let d = tempfile::tempdir().unwrap();
        write(
            d.path(),
            "lim.yaml",
            "user:\n  default: \"1000\"\nresources:\n  memory:\n    max: 1g\n    default: 2g\n",
        );
        let e = loader_in(d.path()).load("lim").unwrap_err().0;
        assert!(e.contains("lim.yaml line 6: resources.memory.default"), "{e}");
        write(d.path(), "nnp.yaml", "no_new_privileges: false\n");
        let e = loader_in(d.path()).load("nnp").unwrap_err().0;
        assert!(e.contains("line 1") && e.contains("never turns no-new-privileges off"), "{e}");
        write(d.path(), "zero.yaml", "resources:\n  memory: {default: 0}\n");
        assert!(loader_in(d.path()).load("zero").unwrap_err().0.contains("unlimited"));
        write(d.path(), "tx.yaml", "filesystem:\n  tmpfs:\n    /t: exec,size=1m\n");
        let e = loader_in(d.path()).load("tx").unwrap_err().0;
        assert!(e.contains("line 3") && e.contains("tmpfs_exec"), "{e}");
    }

    #[test]
    fn extends_cycles_and_missing_parents() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "a.yaml", "extends: b\n");
        write(d.path(), "b.yaml", "extends: a\n");
        let e = loader_in(d.path()).load("a").unwrap_err().0;
        assert!(e.contains("cycle"), "{e}");
        write(d.path(), "orphan.yaml", "extends: nowhere\n");
        let e = loader_in(d.path()).load("orphan").unwrap_err().0;
        assert!(e.contains("\"nowhere\""), "{e}");
        let e = loader_in(d.path()).load("absent").unwrap_err().0;
        assert!(e.contains("not found") && e.contains("profile list"), "{e}");
        assert!(loader_in(d.path()).load("../etc/passwd").is_err());
    }

    #[test]
    fn a_local_profile_can_refine_the_bundled_one_of_the_same_name() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "default.yaml", "extends: default\nresources:\n  memory:\n    default: 256m\n");
        let p = loader_in(d.path()).load("default").unwrap();
        assert_eq!(p.resources.memory.default, Some(256 << 20));
        assert!(p.origin("resources.memory.default").ends_with("default.yaml"));
        assert_eq!(p.origin("resources.memory.max"), "bundled:default");
    }

    #[test]
    fn null_removes_an_inherited_key() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "notmp.yaml", "extends: web\nfilesystem:\n  tmpfs:\n    /tmp: ~\n");
        let p = loader_in(d.path()).load("notmp").unwrap();
        assert!(p.filesystem.tmpfs.is_empty());
    }

    #[test]
    fn profile_file_and_relative_seccomp_paths() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "sc.json", crate::seccomp::bundled("hardrun-strict").unwrap());
        let p = write(d.path(), "mine.yml", "extends: default\nseccomp:\n  profile: sc.json\n");
        let prof = loader_in(d.path()).load_file(&p).unwrap();
        assert_eq!(prof.seccomp, d.path().join("sc.json").display().to_string());
        let e = loader_in(d.path()).load_file(&d.path().join("missing.yaml")).unwrap_err().0;
        assert!(e.contains("missing.yaml") && e.contains("cannot read"), "{e}");
    }
}
