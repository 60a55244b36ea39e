//! Finding and loading profiles: the search path, `extends` chains, merging, and
//! errors that name the file and line. A file in the project folder counts only once the
//! user trusted it (`trust`); every file is read bounded and its YAML nesting capped.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_yaml::Value;

use super::model::Profile;
use super::resolve::{self, Invalid};
use super::schema::ProfileFile;
use super::trust::TrustList;
use crate::bounded_file::{self, SECCOMP_MAX, TEXT_MAX};
use crate::yaml_nesting as yaml;

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
    /// The project's `./.hardrun/profiles`: a file there is used only when `trust` (the
    /// user's trust list, if they have a config folder) trusts its content.
    Project {
        dir: PathBuf,
        trust: Option<TrustList>,
    },
    /// The user's or the system's own profiles.
    Dir(PathBuf),
    Bundled,
}

/// How a profile file came to be used; anything but `Bundled` is named on every run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Bundled,
    /// Given with `--profile-file` (or to `profile validate`): the user's choice.
    Chosen,
    /// From the user's or the system's profile folder.
    Installed,
    /// From the project folder, trusted by the user.
    Project,
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
    pub kind: Kind,
    /// Index into the search path, so `extends` of the same name looks further down.
    position: usize,
}

/// A project profile passed over because the user has not trusted it (or it changed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Untrusted {
    pub path: PathBuf,
    /// Why it could not even be judged (not a regular file, too large), if so.
    pub unreadable: Option<String>,
}

/// One row of `profile list`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub name: String,
    /// The file's path, or `bundled:NAME`.
    pub source: String,
    pub description: String,
    /// A project file the user has not trusted: it is passed over.
    pub untrusted: bool,
}

#[derive(Debug, Clone)]
pub struct Loader {
    pub locations: Vec<Location>,
}

impl Loader {
    /// The search path of DESIGN.md: ./.hardrun/profiles (trusted files only),
    /// $XDG_CONFIG_HOME/hardrun/profiles (~/.config when unset), /etc/hardrun/profiles,
    /// then the bundled profiles.
    pub fn standard(cwd: &Path, env: &dyn Fn(&str) -> Option<String>) -> Loader {
        let config = env("XDG_CONFIG_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| env("HOME").filter(|h| !h.is_empty()).map(|h| Path::new(&h).join(".config")));
        let trust = config.as_deref().map(TrustList::in_config);
        let mut locations = vec![Location::Project { dir: cwd.join(".hardrun/profiles"), trust }];
        if let Some(c) = config {
            locations.push(Location::Dir(c.join("hardrun/profiles")));
        }
        locations.push(Location::Dir("/etc/hardrun/profiles".into()));
        locations.push(Location::Bundled);
        Loader { locations }
    }

    /// The user's trust list, as the project location knows it.
    pub fn trust_list(&self) -> Option<&TrustList> {
        self.locations.iter().find_map(|l| match l {
            Location::Project { trust, .. } => trust.as_ref(),
            _ => None,
        })
    }

    /// Finds profile `name` at or after search position `from`; project files the user
    /// has not trusted are passed over and noted in `untrusted`.
    fn find(&self, name: &str, from: usize, untrusted: &mut Vec<Untrusted>) -> Result<Option<Source>, ProfileError> {
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
                            kind: Kind::Bundled,
                            position,
                        }));
                    }
                }
                Location::Dir(dir) => {
                    for path in candidates(dir, name) {
                        match read_profile(&path) {
                            Ok(text) => return Ok(Some(file_source(name, &path, text, Kind::Installed, position))),
                            Err(e) if e.is_missing() => {}
                            Err(e) => return Err(ProfileError(format!("profile {}: {e}", path.display()))),
                        }
                    }
                }
                Location::Project { dir, trust } => {
                    for path in candidates(dir, name) {
                        match bounded_file::read(&path, TEXT_MAX) {
                            Err(e) if e.is_missing() => {}
                            Err(e) => untrusted.push(Untrusted { path, unreadable: Some(e.to_string()) }),
                            Ok(bytes) if trust.as_ref().is_some_and(|t| t.is_trusted(&path, &bytes)) => {
                                let text = String::from_utf8(bytes)
                                    .map_err(|_| ProfileError(format!("profile {}: not UTF-8 text", path.display())))?;
                                // Known by its real path: relative paths inside resolve next to
                                // the file that was trusted, not next to a link to it.
                                let real = std::fs::canonicalize(&path).unwrap_or(path);
                                return Ok(Some(file_source(name, &real, text, Kind::Project, position)));
                            }
                            Ok(_) => untrusted.push(Untrusted { path, unreadable: None }),
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
        let mut untrusted = Vec::new();
        let source = self.find(name, 0, &mut untrusted)?.ok_or_else(|| self.missing(name, &untrusted))?;
        self.resolve(source, untrusted)
    }

    /// Loads the profile in `path` (`--profile-file`, `profile validate`): the user chose
    /// it, so it needs no trust; what it extends is searched as usual.
    pub fn load_file(&self, path: &Path) -> Result<Profile, ProfileError> {
        let text = read_profile(path)
            .map_err(|e| ProfileError(format!("cannot read profile file {}: {e}", path.display())))?;
        self.load_text(path, text)
    }

    /// Loads `text` as the profile file at `path`, chosen by the user.
    pub fn load_text(&self, path: &Path, text: String) -> Result<Profile, ProfileError> {
        let name = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "profile".into());
        self.resolve(file_source(&name, path, text, Kind::Chosen, 0), Vec::new())
    }

    /// The raw text of profile `name`, for `profile show`.
    pub fn source(&self, name: &str) -> Result<Source, ProfileError> {
        check_name(name)?;
        let mut untrusted = Vec::new();
        self.find(name, 0, &mut untrusted)?.ok_or_else(|| self.missing(name, &untrusted))
    }

    /// The project files named `name` that are passed over, untrusted.
    pub fn untrusted(&self, name: &str) -> Vec<Untrusted> {
        let mut untrusted = Vec::new();
        let _ = self.find(name, 0, &mut untrusted);
        untrusted
    }

    fn missing(&self, name: &str, untrusted: &[Untrusted]) -> ProfileError {
        if let Some(u) = untrusted.first() {
            return ProfileError(format!("profile {name:?}: {}", untrusted_note(u)));
        }
        let searched: Vec<String> = self
            .locations
            .iter()
            .map(|l| match l {
                Location::Project { dir, .. } | Location::Dir(dir) => dir.display().to_string(),
                Location::Bundled => "bundled".into(),
            })
            .collect();
        ProfileError(format!(
            "profile {name:?} not found (searched {}); `hardrun profile list` shows the ones there are",
            searched.join(", ")
        ))
    }

    /// Every profile on the search path, shadowed and untrusted ones included.
    pub fn list(&self) -> Vec<Listed> {
        let mut out = Vec::new();
        for loc in &self.locations {
            match loc {
                Location::Bundled => {
                    for (name, text) in BUNDLED {
                        out.push(Listed {
                            name: name.to_string(),
                            source: format!("bundled:{name}"),
                            description: description(text),
                            untrusted: false,
                        });
                    }
                }
                Location::Dir(dir) | Location::Project { dir, .. } => {
                    let Ok(entries) = std::fs::read_dir(dir) else { continue };
                    let mut found: Vec<_> = entries
                        .flatten()
                        .map(|e| e.path())
                        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
                        .collect();
                    found.sort();
                    for p in found {
                        let name = p.file_stem().unwrap_or_default().to_string_lossy().into_owned();
                        let read = bounded_file::read(&p, TEXT_MAX);
                        let untrusted = match (loc, &read) {
                            (Location::Project { trust, .. }, Ok(bytes)) => {
                                !trust.as_ref().is_some_and(|t| t.is_trusted(&p, bytes))
                            }
                            (Location::Project { .. }, Err(_)) => true,
                            _ => false,
                        };
                        let description = match read {
                            Ok(bytes) => description(&String::from_utf8_lossy(&bytes)),
                            Err(e) => format!("(unreadable: {e})"),
                        };
                        out.push(Listed { name, source: p.display().to_string(), description, untrusted });
                    }
                }
            }
        }
        out
    }

    /// Follows `extends` from `leaf` to the root, merges the chain and resolves it.
    fn resolve(&self, leaf: Source, mut untrusted: Vec<Untrusted>) -> Result<Profile, ProfileError> {
        let (merged, origins, chain) = self.merge_chain(leaf, &mut untrusted)?;
        let leaf = chain.last().expect("a chain has its leaf");
        let file: ProfileFile = serde_yaml::from_value(merged)
            .map_err(|e| ProfileError(format!("profile {}: {}", leaf.label, strip_location(&e.to_string()))))?;
        let seccomp_file = |path: &str| -> Option<Result<(PathBuf, String), String>> {
            // A relative seccomp path is relative to the file that named it.
            let origin = origins.get("seccomp.profile")?;
            let source = chain.iter().find(|s| &s.label == origin)?;
            let full = source.dir.as_ref().map_or_else(|| PathBuf::from(path), |d| d.join(path));
            Some(self.seccomp_text(&full, source))
        };
        let signatures = file.image.as_ref().and_then(|i| i.signatures.clone());
        let mut profile = resolve::resolve(&leaf.name, file, origins.clone(), seccomp_file)
            .map_err(|e| at_line(&chain, &origins, e))?;
        // Key files, like a seccomp file, are relative to the profile file naming them.
        let named = |key: &str, path: &str| -> Result<String, String> {
            let source = origins.get(key).and_then(|o| chain.iter().find(|s| &s.label == o));
            let full = source.and_then(|s| s.dir.as_ref()).map_or_else(|| PathBuf::from(path), |d| d.join(path));
            self.named_text(&full, source, super::signatures::KEY_MAX)
        };
        profile.image.signatures =
            super::signatures::resolve(signatures, &named).map_err(|e| at_line(&chain, &origins, e))?;
        profile.files = chain.iter().rev().map(|s| (s.label.clone(), s.kind)).collect();
        untrusted.dedup();
        profile.untrusted = untrusted;
        Ok(profile)
    }

    /// The seccomp file a profile names, read once (the policy judges this text). One
    /// named by a project file must be trusted as well: `profile trust` records it.
    fn seccomp_text(&self, path: &Path, named_by: &Source) -> Result<(PathBuf, String), String> {
        let bytes = bounded_file::read(path, SECCOMP_MAX).map_err(|e| format!("{}: {e}", path.display()))?;
        if named_by.kind == Kind::Project && !self.trust_list().is_some_and(|t| t.is_trusted(path, &bytes)) {
            return Err(format!(
                "{} is named by a project profile and is not trusted (or changed since it was): review it, then \
                 `hardrun profile trust {}`",
                path.display(),
                named_by.label
            ));
        }
        let text = String::from_utf8(bytes).map_err(|_| format!("{}: not UTF-8 text", path.display()))?;
        Ok((path.to_path_buf(), text))
    }

    /// A file a profile key names (a signature key, a policy.json): read with a cap and,
    /// when a project profile names it, trusted like the profile (`profile trust`).
    fn named_text(&self, path: &Path, named_by: Option<&Source>, max: u64) -> Result<String, String> {
        let bytes = bounded_file::read(path, max).map_err(|e| format!("{}: {e}", path.display()))?;
        if let Some(source) = named_by.filter(|s| s.kind == Kind::Project)
            && !self.trust_list().is_some_and(|t| t.is_trusted(path, &bytes))
        {
            return Err(format!(
                "{} is named by a project profile and is not trusted (or changed since it was): review it, then \
                 `hardrun profile trust {}`",
                path.display(),
                source.label
            ));
        }
        String::from_utf8(bytes).map_err(|_| format!("{}: not UTF-8 text", path.display()))
    }

    /// The merged YAML of a profile chain with, for every key, the file it came from.
    pub fn merged(&self, name: &str) -> Result<(Value, BTreeMap<String, String>), ProfileError> {
        let source = self.source(name)?;
        let (v, o, _) = self.merge_chain(source, &mut Vec::new())?;
        Ok((v, o))
    }

    fn merge_chain(&self, leaf: Source, untrusted: &mut Vec<Untrusted>) -> Result<Merged, ProfileError> {
        let mut chain = vec![leaf];
        let mut values = Vec::new();
        loop {
            let current = chain.last().expect("chain is never empty");
            let (parsed, value) = parse_file(current)?;
            values.push(value);
            let Some(parent) = parsed.extends else { break };
            check_name(&parent).map_err(|e| ProfileError(format!("profile {}: extends: {}", current.label, e.0)))?;
            // A profile that extends its own name builds on the next one down the path
            // (so ./.hardrun/profiles/default.yaml can refine the bundled default).
            let from = if parent == current.name { current.position + 1 } else { 0 };
            let mut passed_over = Vec::new();
            let next = self.find(&parent, from, &mut passed_over)?;
            let next = next.ok_or_else(|| match passed_over.first() {
                Some(u) => {
                    ProfileError(format!("profile {}: extends {parent:?}, but {}", current.label, untrusted_note(u)))
                }
                None => ProfileError(format!(
                    "profile {}: extends {parent:?}, which is not on the search path",
                    current.label
                )),
            })?;
            untrusted.extend(passed_over);
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
        values.reverse();
        let mut merged = Value::Mapping(Default::default());
        let mut origins = BTreeMap::new();
        for (source, mut value) in chain.iter().zip(values) {
            if let Value::Mapping(m) = &mut value {
                m.remove("extends");
            }
            merge(&mut merged, value, "", &source.label, &mut origins);
        }
        Ok((merged, origins, chain))
    }
}

/// What to tell the user about a project profile that was passed over.
pub fn untrusted_note(u: &Untrusted) -> String {
    let path = crate::sanitize::escape(&u.path.display().to_string());
    match &u.unreadable {
        Some(why) => format!("{path} in the project folder cannot be used: {why}"),
        None => format!(
            "{path} comes with the project folder and you have not trusted it (or it changed since): review it, \
             then `hardrun profile trust {path}`"
        ),
    }
}

/// `dir/name.yaml`, then `dir/name.yml`.
fn candidates(dir: &Path, name: &str) -> [PathBuf; 2] {
    [dir.join(format!("{name}.yaml")), dir.join(format!("{name}.yml"))]
}

fn read_profile(path: &Path) -> Result<String, bounded_file::ReadError> {
    bounded_file::read_text(path, TEXT_MAX)
}

fn file_source(name: &str, path: &Path, text: String, kind: Kind, position: usize) -> Source {
    Source {
        name: name.to_string(),
        label: path.display().to_string(),
        text,
        dir: path.parent().map(Path::to_path_buf),
        kind,
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

/// Parses one file as plain YAML for merging (its nesting checked first), and as the
/// schema, so a typo or a wrong type is reported with its line. A file with no content
/// (empty, only comments, `~`) sets nothing.
fn parse_file(source: &Source) -> Result<(ProfileFile, Value), ProfileError> {
    let failed = |e: yaml::YamlError| {
        let line = e.line().map(|l| format!(" line {l}")).unwrap_or_default();
        ProfileError(format!(
            "profile {}{line}: {}; see docs/profiles.md for the keys",
            source.label,
            strip_location(&e.to_string())
        ))
    };
    let value = yaml::from_str::<Value>(&source.text).map_err(failed)?;
    if let Some(tag) = first_tag(&value) {
        return Err(ProfileError(format!(
            "profile {}: the YAML tag {} has no meaning in a profile, and serde reads a tagged value differently \
             from the same value untagged; remove the tag",
            source.label,
            crate::sanitize::line(&tag, 80)
        )));
    }
    // (serde_yaml's is_null sees through a tag, hence the tag check first.)
    if value.is_null() {
        return Ok((ProfileFile::default(), Value::Mapping(Default::default())));
    }
    let file = serde_yaml::from_str::<ProfileFile>(&source.text).map_err(|e| failed(yaml::YamlError::Parse(e)))?;
    Ok((file, value))
}

/// The first YAML tag (`!name value`) anywhere in `value`. The nesting is capped before
/// parsing, so the recursion is bounded.
fn first_tag(value: &Value) -> Option<String> {
    match value {
        Value::Tagged(t) => Some(t.tag.to_string()),
        Value::Sequence(items) => items.iter().find_map(first_tag),
        Value::Mapping(m) => m.iter().find_map(|(k, v)| first_tag(k).or_else(|| first_tag(v))),
        _ => None,
    }
}

fn strip_location(msg: &str) -> String {
    match msg.find(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

fn description(text: &str) -> String {
    yaml::from_str::<Value>(text)
        .ok()
        .and_then(|v| v.get("description").and_then(Value::as_str).map(str::to_string))
        .unwrap_or_default()
}

/// Forgets what was recorded for the keys below `key` (`key.x`, `key.x.y`), in time
/// proportional to their number: a range of the sorted map, not a scan of all of it.
fn forget_below(origins: &mut BTreeMap<String, String>, key: &str) {
    let prefix = format!("{key}.");
    let below: Vec<String> =
        origins.range(prefix.clone()..).take_while(|(k, _)| k.starts_with(&prefix)).map(|(k, _)| k.clone()).collect();
    for k in below {
        origins.remove(&k);
    }
}

/// Deep merge: maps merge key by key, anything else replaces; a `null` removes the key.
/// Linear in the size of the files: each key is visited once, and replacing a map
/// forgets only the origins below it.
fn merge(base: &mut Value, over: Value, path: &str, label: &str, origins: &mut BTreeMap<String, String>) {
    match (base, over) {
        (Value::Mapping(b), Value::Mapping(o)) => {
            for (k, v) in o {
                let key = k.as_str().map(str::to_string).unwrap_or_else(|| format!("{k:?}"));
                let child = if path.is_empty() { key } else { format!("{path}.{key}") };
                if v.is_null() {
                    b.remove(&k);
                    forget_below(origins, &child);
                    origins.insert(child, label.to_string());
                    continue;
                }
                match b.get_mut(&k) {
                    Some(existing) if existing.is_mapping() && v.is_mapping() => {
                        merge(existing, v, &child, label, origins)
                    }
                    _ => {
                        forget_below(origins, &child);
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

    use crate::profile::trust::TrustList;

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
    fn yaml_tags_are_refused() {
        let d = tempfile::tempdir().unwrap();
        // serde_yaml reads the tagged empty value as an empty section, and the same value
        // written back (`!x null`) as an error: a tag is never given a meaning.
        write(d.path(), "tag.yaml", "extends: default\nresources:\n  ulimits:\n   !x # c\n");
        let e = loader_in(d.path()).load("tag").unwrap_err().0;
        assert!(e.contains("the YAML tag !x has no meaning in a profile"), "{e}");
        write(d.path(), "whole.yaml", "!x\n");
        assert!(loader_in(d.path()).load("whole").unwrap_err().0.contains("the YAML tag !x"));
        write(d.path(), "deep.yaml", "filesystem:\n  tmpfs:\n    /t: !!str size=1m\n");
        assert!(loader_in(d.path()).load("deep").is_ok(), "a core-schema tag is YAML's own, not a tagged value");
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
    fn the_standard_path_keeps_the_trust_list_in_the_users_config() {
        let env = |k: &str| (k == "HOME").then(|| "/home/dev".to_string());
        let l = Loader::standard(Path::new("/work/app"), &env);
        assert_eq!(l.trust_list().unwrap().file, Path::new("/home/dev/.config/hardrun/trusted.json"));
        assert_eq!(l.locations[1], Location::Dir("/home/dev/.config/hardrun/profiles".into()));
        let none = Loader::standard(Path::new("/work/app"), &|_| None);
        assert!(none.trust_list().is_none(), "no config folder, nothing can be trusted");
    }

    #[test]
    fn a_file_that_sets_nothing_is_empty() {
        let d = tempfile::tempdir().unwrap();
        for (name, text) in [("empty", ""), ("comments", "# to do\n# later\n"), ("null", "~\n"), ("dashes", "---\n")] {
            let p = write(d.path(), &format!("{name}.yaml"), text);
            let profile = loader_in(d.path()).load_file(&p).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(profile.origins.len(), 0, "{name}");
        }
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

    /// A cloned repository's ./.hardrun/profiles, and a trust list in a config folder.
    fn project() -> (tempfile::TempDir, PathBuf, Loader) {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("repo/.hardrun/profiles");
        fs::create_dir_all(&dir).unwrap();
        let trust = TrustList { file: d.path().join("config/hardrun/trusted.json") };
        let loader =
            Loader { locations: vec![Location::Project { dir: dir.clone(), trust: Some(trust) }, Location::Bundled] };
        (d, dir, loader)
    }

    const LOOSE: &str = "extends: default\nfilesystem:\n  read_only: false\ncapabilities:\n  add: [NET_RAW]\n";

    #[test]
    fn an_untrusted_project_profile_shadows_nothing() {
        let (_d, dir, loader) = project();
        let file = write(&dir, "default.yaml", LOOSE);
        let p = loader.load("default").unwrap();
        assert!(p.filesystem.read_only && p.capabilities.add.is_empty(), "the bundled default is in force");
        assert_eq!(p.files, [("bundled:default".to_string(), Kind::Bundled)]);
        assert_eq!(p.untrusted, [Untrusted { path: file.clone(), unreadable: None }]);
        assert_eq!(p.files_in_force(), None);
        // Nor does it slip in under a bundled profile that extends `default`.
        let web = loader.load("web").unwrap();
        assert!(web.filesystem.read_only && web.files.iter().all(|(_, k)| *k == Kind::Bundled));
        assert_eq!(web.untrusted.len(), 1);
        // Trusted, it is in force and named.
        loader.trust_list().unwrap().trust(&file, LOOSE.as_bytes()).unwrap();
        let p = loader.load("default").unwrap();
        assert!(!p.filesystem.read_only);
        let named = p.files_in_force().unwrap();
        assert!(named.contains("default.yaml (trusted project file), then bundled:default"), "{named}");
        // Changed, it is passed over again.
        fs::write(&file, format!("{LOOSE}user:\n  allow_root: true\n")).unwrap();
        assert!(loader.load("default").unwrap().filesystem.read_only);
    }

    #[test]
    fn a_profile_only_in_the_project_needs_trust() {
        let (_d, dir, loader) = project();
        write(&dir, "api.yaml", "extends: web\n");
        let e = loader.load("api").unwrap_err().0;
        assert!(e.contains("api.yaml comes with the project folder") && e.contains("hardrun profile trust"), "{e}");
        let chosen = write(&dir, "mine.yaml", "extends: api\n");
        let e = loader.load_file(&chosen).unwrap_err().0;
        assert!(e.contains("extends \"api\", but") && e.contains("not trusted"), "{e}");
        let p = loader.load_file(&write(&dir, "chosen.yaml", "extends: web\n")).unwrap();
        assert!(p.files_in_force().unwrap().contains("chosen.yaml (--profile-file), then bundled:web"));
    }

    #[test]
    fn fifos_and_huge_files_in_the_project_are_passed_over() {
        let (_d, dir, loader) = project();
        let fifo = dir.join("default.yaml");
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        let p = loader.load("default").unwrap();
        assert!(p.untrusted[0].unreadable.as_deref().unwrap().contains("a FIFO"), "{:?}", p.untrusted);
        fs::write(dir.join("big.yaml"), "#".repeat(2 << 20)).unwrap();
        let e = loader.load("big").unwrap_err().0;
        assert!(e.contains("larger than 1 MiB"), "{e}");
    }

    #[test]
    fn deep_nesting_fails_fast_with_the_file_and_line() {
        let d = tempfile::tempdir().unwrap();
        let p = write(d.path(), "deep.yaml", &format!("description: {}\n", "[".repeat(100_000)));
        let start = std::time::Instant::now();
        let e = loader_in(d.path()).load_file(&p).unwrap_err().0;
        assert!(e.contains("deep.yaml line 1") && e.contains("nested more than 32 levels"), "{e}");
        assert!(start.elapsed() < std::time::Duration::from_secs(2), "{:?}", start.elapsed());
    }

    #[test]
    fn merging_wide_files_is_linear() {
        let d = tempfile::tempdir().unwrap();
        let tmpfs: String = (0..20_000).map(|i| format!("    /t{i}: size=1m\n")).collect();
        let base = write(d.path(), "base.yaml", &format!("filesystem:\n  tmpfs:\n{tmpfs}"));
        let start = std::time::Instant::now();
        let (_, origins, _) = loader_in(d.path())
            .merge_chain(
                file_source("base", &base, fs::read_to_string(&base).unwrap(), Kind::Chosen, 0),
                &mut Vec::new(),
            )
            .unwrap();
        assert_eq!(origins.len(), 20_000);
        let mut origins = origins;
        let over = serde_yaml::from_str::<Value>("filesystem:\n  tmpfs: ~\n").unwrap();
        let mut merged = serde_yaml::from_str::<Value>(&fs::read_to_string(&base).unwrap()).unwrap();
        merge(&mut merged, over, "", "over.yaml", &mut origins);
        assert_eq!(origins.len(), 1, "{:?}", origins.keys().take(3).collect::<Vec<_>>());
        assert!(start.elapsed() < std::time::Duration::from_secs(5), "{:?}", start.elapsed());
    }
}
