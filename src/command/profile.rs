//! `hardrun profile list | show NAME [--resolved] | validate FILE... | trust FILE... |
//! untrust FILE...`. Text from profile files (names, paths, descriptions, the files
//! themselves) is someone else's: it is printed with control characters escaped.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Result, anyhow};
use serde_yaml::Value;

use crate::bounded_file::{self, SECCOMP_MAX, TEXT_MAX};
use crate::cli::ProfileCommand;
use crate::profile::load::{Loader, untrusted_note};
use crate::profile::schema::ProfileFile;
use crate::profile::trust::{TrustList, sha256};
use crate::sanitize::{LINE_MAX, escape, line};
use crate::yaml_nesting as yaml;

pub fn run(cmd: &ProfileCommand, loader: &Loader) -> Result<i32> {
    match cmd {
        ProfileCommand::List => {
            print!("{}", list(loader));
            Ok(0)
        }
        ProfileCommand::Show { name, resolved: false } => {
            warn_untrusted(loader, name);
            print!("{}", escape_lines(&loader.source(name)?.text));
            Ok(0)
        }
        ProfileCommand::Show { name, resolved: true } => {
            warn_untrusted(loader, name);
            // Check the whole chain first, so a broken profile is an error, not output.
            loader.load(name)?;
            let (merged, origins) = loader.merged(name)?;
            print!("{}", escape_lines(&annotated_yaml(&merged, &origins)));
            Ok(0)
        }
        ProfileCommand::Validate { files } => {
            let mut failed = 0;
            for f in files {
                match loader.load_file(f) {
                    Ok(p) => eprintln!("ok: {} (profile {:?})", shown(f), p.name),
                    Err(e) => {
                        failed += 1;
                        eprintln!("hardrun: {}", escape(&e.to_string()));
                    }
                }
            }
            Ok(if failed == 0 { 0 } else { 125 })
        }
        ProfileCommand::Trust { files } => {
            let list = trust_list(loader)?;
            for f in files {
                trust(loader, list, f)?;
            }
            Ok(0)
        }
        ProfileCommand::Untrust { files } => {
            let list = trust_list(loader)?;
            for f in files {
                match list.untrust(f).map_err(anyhow::Error::msg)? {
                    true => eprintln!("hardrun: no longer trusted: {}", shown(f)),
                    false => eprintln!("hardrun: {} was not trusted", shown(f)),
                }
            }
            Ok(0)
        }
    }
}

fn shown(path: &Path) -> String {
    escape(&path.display().to_string())
}

/// Text printed line by line with every control character escaped.
fn escape_lines(text: &str) -> String {
    text.lines().map(|l| escape(l) + "\n").collect()
}

fn warn_untrusted(loader: &Loader, name: &str) {
    for u in loader.untrusted(name) {
        eprintln!("hardrun: warning: passed over {}", untrusted_note(&u));
    }
}

fn trust_list(loader: &Loader) -> Result<&TrustList> {
    loader
        .trust_list()
        .ok_or_else(|| anyhow!("there is no config folder to keep the trust list in: set HOME or XDG_CONFIG_HOME"))
}

/// Trusts `path` as it is now (checked as a profile first), and the seccomp file it names.
fn trust(loader: &Loader, list: &TrustList, path: &Path) -> Result<()> {
    let bytes = bounded_file::read(path, TEXT_MAX).map_err(|e| anyhow!("cannot read {}: {e}", shown(path)))?;
    let text = String::from_utf8(bytes.clone()).map_err(|_| anyhow!("{} is not UTF-8 text", shown(path)))?;
    // The same bytes are judged and recorded: what is trusted is what was checked.
    loader.load_text(path, text.clone()).map_err(|e| anyhow!("not trusted: {e}"))?;
    let seccomp = named_seccomp_file(path, &text)?;
    list.trust(path, &bytes).map_err(anyhow::Error::msg)?;
    eprintln!("hardrun: trusted {} (sha256 {})", shown(path), &sha256(&bytes)[..16]);
    if let Some((file, bytes)) = seccomp {
        list.trust(&file, &bytes).map_err(anyhow::Error::msg)?;
        eprintln!("hardrun: trusted {}, the seccomp profile it names (sha256 {})", shown(&file), &sha256(&bytes)[..16]);
    }
    for (file, bytes) in signature_files(path, &text)? {
        list.trust(&file, &bytes).map_err(anyhow::Error::msg)?;
        eprintln!("hardrun: trusted {}, named by image.signatures (sha256 {})", shown(&file), &sha256(&bytes)[..16]);
    }
    Ok(())
}

/// The key files and policy `text`'s `image.signatures` names, with their content.
fn signature_files(path: &Path, text: &str) -> Result<Vec<(std::path::PathBuf, Vec<u8>)>> {
    let file: ProfileFile = yaml::from_str(text).map_err(|e| anyhow!("not trusted: {}: {e}", shown(path)))?;
    let Some(section) = file.image.and_then(|i| i.signatures) else { return Ok(Vec::new()) };
    let dir = path.parent().unwrap_or(Path::new("."));
    crate::profile::signatures::named_files(&section, dir)
        .into_iter()
        .map(|f| {
            let bytes = bounded_file::read(&f, crate::profile::signatures::KEY_MAX)
                .map_err(|e| anyhow!("cannot read {}: {e}", shown(&f)))?;
            Ok((f, bytes))
        })
        .collect()
}

/// The seccomp file `text` (the profile at `path`) names itself, with its content.
fn named_seccomp_file(path: &Path, text: &str) -> Result<Option<(std::path::PathBuf, Vec<u8>)>> {
    let file: ProfileFile = yaml::from_str(text).map_err(|e| anyhow!("not trusted: {}: {e}", shown(path)))?;
    let Some(name) = file.seccomp.and_then(|s| s.profile) else { return Ok(None) };
    if crate::seccomp::bundled(&name).is_some() {
        return Ok(None);
    }
    let full = path.parent().map_or_else(|| name.clone().into(), |d| d.join(&name));
    let bytes = bounded_file::read(&full, SECCOMP_MAX).map_err(|e| anyhow!("cannot read {}: {e}", shown(&full)))?;
    Ok(Some((full, bytes)))
}

/// `profile list`: every profile on the search path, marked when passed over.
fn list(loader: &Loader) -> String {
    let rows = loader.list();
    let name = |r: &crate::profile::load::Listed| escape(&r.name);
    let source = |r: &crate::profile::load::Listed| escape(&r.source);
    let w = rows.iter().map(|r| name(r).chars().count()).max().unwrap_or(4).max(4);
    let w2 = rows.iter().map(|r| source(r).chars().count()).max().unwrap_or(6).max(6);
    let mut out = format!("{:w$}  {:w2$}  DESCRIPTION\n", "NAME", "SOURCE");
    let mut seen = std::collections::HashSet::new();
    for r in &rows {
        let mark = if r.untrusted {
            " (untrusted: passed over until `hardrun profile trust`)"
        } else if !seen.insert(r.name.clone()) {
            " (shadowed)"
        } else {
            ""
        };
        let description = line(&r.description, LINE_MAX);
        out += &format!("{:w$}  {:w2$}  {description}{mark}\n", name(r), source(r));
    }
    out
}

/// YAML with a `# from FILE` comment on every value.
fn annotated_yaml(v: &Value, origins: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    write_map(v, "", 0, origins, &mut out);
    out
}

fn scalar(v: &Value) -> String {
    match v {
        Value::Sequence(items) => format!("[{}]", items.iter().map(scalar).collect::<Vec<_>>().join(", ")),
        Value::Mapping(m) if m.is_empty() => "{}".into(),
        other => serde_yaml::to_string(other).unwrap_or_default().trim_end().to_string(),
    }
}

fn write_map(v: &Value, path: &str, depth: usize, origins: &BTreeMap<String, String>, out: &mut String) {
    let Value::Mapping(map) = v else { return };
    for (k, child) in map {
        let key = k.as_str().map(str::to_string).unwrap_or_else(|| scalar(k));
        let full = if path.is_empty() { key.clone() } else { format!("{path}.{key}") };
        let indent = "  ".repeat(depth);
        let shown_key = if key.contains(['/', ':', ' ']) { format!("{key:?}") } else { key.clone() };
        match child {
            Value::Mapping(m) if !m.is_empty() => {
                out.push_str(&format!("{indent}{shown_key}:\n"));
                write_map(child, &full, depth + 1, origins, out);
            }
            _ => {
                let from = origins.get(&full).map(String::as_str).unwrap_or("built-in");
                out.push_str(&format!("{indent}{shown_key}: {}  # from {from}\n", scalar(child)));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::load::Location;

    fn project(dir: &Path, trust: &Path) -> Loader {
        let list = TrustList { file: trust.join("trusted.json") };
        Loader {
            locations: vec![
                Location::Project { dir: dir.join(".hardrun/profiles"), trust: Some(list) },
                Location::Bundled,
            ],
        }
    }

    #[test]
    fn list_marks_untrusted_and_escapes_what_files_say() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join(".hardrun/profiles");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("default.yaml"), "description: \"\\e]0;pwned\\a\\e[2J loose\"\n").unwrap();
        let loader = project(d.path(), d.path());
        let out = list(&loader);
        assert!(!out.contains('\x1b') && !out.contains('\x07'), "{out}");
        assert!(out.contains("\\x1b]0;pwned\\x07\\x1b[2J loose (untrusted"), "{out}");
        let bundled_default = out.lines().find(|l| l.contains("bundled:default")).unwrap();
        assert!(!bundled_default.contains("shadowed"), "an untrusted file shadows nothing: {out}");
        trust(&loader, loader.trust_list().unwrap(), &dir.join("default.yaml")).unwrap();
        let out = list(&loader);
        assert!(out.lines().find(|l| l.contains("bundled:default")).unwrap().contains("(shadowed)"), "{out}");
    }

    #[test]
    fn trust_refuses_a_broken_profile_and_takes_its_seccomp_file_along() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join(".hardrun/profiles");
        std::fs::create_dir_all(&dir).unwrap();
        let loader = project(d.path(), d.path());
        let list = loader.trust_list().unwrap();
        let broken = dir.join("broken.yaml");
        std::fs::write(&broken, "capabilities:\n  add: [SYS_ADMIN]\n").unwrap();
        assert!(trust(&loader, list, &broken).unwrap_err().to_string().contains("not trusted"));
        assert!(!list.is_trusted(&broken, &std::fs::read(&broken).unwrap()));
        let sc = dir.join("sc.json");
        std::fs::write(&sc, crate::seccomp::bundled("hardrun-strict").unwrap()).unwrap();
        let p = dir.join("api.yaml");
        std::fs::write(&p, "extends: default\nseccomp:\n  profile: sc.json\n").unwrap();
        trust(&loader, list, &p).unwrap();
        assert!(list.is_trusted(&sc, &std::fs::read(&sc).unwrap()));
        assert!(loader.load("api").is_ok());
        std::fs::write(&sc, "{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":[]}").unwrap();
        let e = loader.load("api").unwrap_err().0;
        assert!(e.contains("is not trusted") && e.contains("sc.json"), "a changed seccomp file: {e}");
    }

    #[test]
    fn trust_takes_the_signature_keys_a_profile_names_along() {
        use p256::pkcs8::EncodePublicKey as _;
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join(".hardrun/profiles");
        std::fs::create_dir_all(&dir).unwrap();
        let loader = project(d.path(), d.path());
        let list = loader.trust_list().unwrap();
        let pem = |seed: u8| {
            let sk = p256::ecdsa::SigningKey::from_slice(&[seed; 32]).unwrap();
            sk.verifying_key().to_public_key_pem(Default::default()).unwrap()
        };
        let key = dir.join("cosign.pub");
        std::fs::write(&key, pem(1)).unwrap();
        let p = dir.join("signed.yaml");
        std::fs::write(&p, "extends: default\nimage:\n  signatures:\n    required: true\n    keys: [cosign.pub]\n")
            .unwrap();
        trust(&loader, list, &p).unwrap();
        assert!(list.is_trusted(&key, &std::fs::read(&key).unwrap()));
        assert!(loader.load("signed").is_ok());
        // A key swapped after the review is not used.
        std::fs::write(&key, pem(2)).unwrap();
        let e = loader.load("signed").unwrap_err().0;
        assert!(e.contains("is not trusted") && e.contains("cosign.pub") && e.contains("image.signatures.keys"), "{e}");
    }
}
