//! Reading a Compose project from disk: which files (`-f`, `COMPOSE_FILE`, the default
//! names and their override file), the project directory and name, the `.env` file,
//! each file read with a size cap, parsed (anchors and `<<` merge keys applied, duplicate
//! keys refused), its top-level keys checked, its values interpolated and its relative
//! paths made absolute against the directory Compose resolves them from. Merging the
//! files and `extends` is `merge`'s.

use std::path::{Path, PathBuf};

use serde_yaml::{Mapping, Value};

use super::interpolate::{self, Lookup};
use super::{Problem, Project, merge};
use crate::request::mount;

/// The largest Compose or `.env` file hardrun reads.
const FILE_MAX: u64 = 4 << 20;

/// File names Compose looks for when no `-f` is given, in its order.
const DEFAULT_FILES: [&str; 4] = ["compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml"];
const OVERRIDE_FILES: [&str; 4] =
    ["compose.override.yaml", "compose.override.yml", "docker-compose.override.yml", "docker-compose.override.yaml"];

/// Top-level keys of the Compose specification (and `version`, which Compose ignores).
const TOP_LEVEL: [&str; 7] = ["version", "name", "services", "networks", "volumes", "secrets", "configs"];

/// How the user pointed at the project.
pub struct Options<'a> {
    pub files: &'a [PathBuf],
    pub project_name: Option<&'a str>,
    pub project_directory: Option<&'a Path>,
    pub cwd: &'a Path,
    /// hardrun's environment.
    pub env: Lookup<'a>,
}

/// Reads, interpolates and merges the project.
pub fn load(opts: &Options) -> Result<Project, Vec<Problem>> {
    let cwd_env = dotenv(&opts.cwd.join(".env")).map_err(|p| vec![p])?;
    let early = |k: &str| (opts.env)(k).or_else(|| cwd_env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()));
    let files = choose_files(opts, &early).map_err(|p| vec![p])?;
    let dir = match opts.project_directory {
        Some(d) => mount::absolute(&d.to_string_lossy(), opts.cwd),
        None => files[0].parent().map(Path::to_path_buf).unwrap_or_else(|| opts.cwd.to_path_buf()),
    };
    let dot_env = if dir == opts.cwd { cwd_env.clone() } else { dotenv(&dir.join(".env")).map_err(|p| vec![p])? };
    let lookup = |k: &str| (opts.env)(k).or_else(|| dot_env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()));

    let mut problems = Vec::new();
    let mut unset = Vec::new();
    let mut merged: Option<Mapping> = None;
    for file in &files {
        match read_file(file, &dir, &lookup, &mut unset) {
            Ok(doc) => match &mut merged {
                None => merged = Some(doc),
                Some(base) => merge::files(base, doc),
            },
            Err(mut p) => problems.append(&mut p),
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let mut doc = merged.unwrap_or_default();
    let mut loader = |path: &Path| -> Result<Mapping, Vec<Problem>> {
        let base = path.parent().unwrap_or(Path::new("/")).to_path_buf();
        read_file(path, &base, &lookup, &mut Vec::new())
    };
    merge::resolve_extends(&mut doc, &files[0], &mut loader, &mut problems);

    let typed_name = opts.project_name.map(str::to_string).or_else(|| lookup("COMPOSE_PROJECT_NAME"));
    let from_file = doc.get("name").and_then(Value::as_str).map(str::to_string);
    let dir_name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let name = project_name(typed_name.or(from_file).as_deref().unwrap_or(&dir_name));
    if name.is_empty() {
        problems.push(Problem::new(
            "name",
            "the project has no usable name (lowercase letters, digits, - and _); give one with -p NAME",
        ));
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let mut project = Project::from_document(name, dir, files, doc, unset);
    project.dot_env = dot_env;
    Ok(project)
}

/// `-f` files, else `COMPOSE_FILE`, else the default file and its override in `cwd`.
fn choose_files(opts: &Options, lookup: Lookup) -> Result<Vec<PathBuf>, Problem> {
    let typed: Vec<PathBuf> = if !opts.files.is_empty() {
        opts.files.to_vec()
    } else if let Some(list) = lookup("COMPOSE_FILE").filter(|l| !l.is_empty()) {
        let sep = lookup("COMPOSE_PATH_SEPARATOR").unwrap_or_else(|| ":".into());
        list.split(sep.as_str()).filter(|s| !s.is_empty()).map(PathBuf::from).collect()
    } else {
        let found = |names: &[&str]| names.iter().map(|n| opts.cwd.join(n)).find(|p| p.is_file());
        let main = found(&DEFAULT_FILES).ok_or_else(|| {
            Problem::new(
                "-f",
                format!(
                    "no Compose file in {} (looked for {}); name one with -f FILE",
                    opts.cwd.display(),
                    DEFAULT_FILES.join(", ")
                ),
            )
        })?;
        return Ok(std::iter::once(main).chain(found(&OVERRIDE_FILES)).collect());
    };
    if typed.iter().any(|f| f == Path::new("-")) {
        return Err(Problem::new("-f -", "hardrun reads Compose files from disk, not from standard input"));
    }
    Ok(typed.iter().map(|f| mount::absolute(&f.to_string_lossy(), opts.cwd)).collect())
}

/// Compose's project name rules: lowercase, only `a-z 0-9 _ -`, starting with a letter
/// or digit.
pub fn project_name(typed: &str) -> String {
    let lower = typed.to_lowercase();
    let kept: String = lower.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-').collect();
    kept.trim_start_matches(['_', '-']).to_string()
}

/// A file hardrun did not write: a regular file (opened without blocking, so a FIFO is
/// an error, not a hang), at most `FILE_MAX` bytes, UTF-8.
pub fn read_capped(path: &Path) -> Result<String, String> {
    crate::bounded_file::read_text(path, FILE_MAX).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

/// A dotenv file (`.env`, `env_file:`) as Compose reads it: `KEY=VALUE`, `export`,
/// quotes, comments. A missing file is an empty one.
pub fn dotenv(path: &Path) -> Result<Vec<(String, String)>, Problem> {
    if !path.exists() {
        return Ok(Vec::new());
    }
    let shown = path.display().to_string();
    let text = read_capped(path).map_err(|e| Problem::new(&shown, e))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let mut out = Vec::new();
    for item in dotenvy::from_read_iter(text.as_bytes()) {
        let (k, v) = item.map_err(|e| Problem::new(&shown, format!("not a valid env file: {e}")))?;
        out.push((k, v));
    }
    Ok(out)
}

/// One Compose file: parsed, checked at the top level, interpolated, paths absolute
/// against `base`.
fn read_file(path: &Path, base: &Path, lookup: Lookup, unset: &mut Vec<String>) -> Result<Mapping, Vec<Problem>> {
    let shown = path.display().to_string();
    let one = |m: String| vec![Problem::new(&shown, m)];
    let text = read_capped(path).map_err(one)?;
    let mut doc: Value = crate::yaml_nesting::from_str(&text).map_err(|e| one(format!("not valid YAML: {e}")))?;
    doc.apply_merge().map_err(|e| one(format!("a << merge key cannot be applied: {e}")))?;
    let mut doc = match doc {
        Value::Mapping(m) => m,
        Value::Null => Mapping::new(),
        _ => return Err(one("a Compose file is a mapping with services: at the top".into())),
    };
    let mut problems = Vec::new();
    for (k, _) in doc.iter() {
        let key = k.as_str().unwrap_or("");
        if !TOP_LEVEL.contains(&key) && !key.starts_with("x-") {
            let why = if doc.get("services").is_none() {
                "hardrun reads Compose files with a services: section (the version 1 format is not supported)"
            } else {
                "not a top-level key of the Compose specification; hardrun refuses what it does not understand"
            };
            problems.push(Problem::new(&format!("{key:?}"), why));
        }
    }
    for (k, v) in doc.iter_mut() {
        let key = k.as_str().unwrap_or_default().to_string();
        // Extension fields are Compose's to ignore; their anchors were copied already.
        if !key.starts_with("x-") {
            interpolate::value(v, &key, lookup, unset, &mut problems);
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let home = lookup("HOME");
    absolute_paths(&mut doc, base, home.as_deref());
    Ok(doc)
}

/// Relative paths Compose resolves against the project directory (or, for an `extends`
/// file, that file's directory), made absolute so merging cannot move them.
fn absolute_paths(doc: &mut Mapping, base: &Path, home: Option<&str>) {
    let abs = |p: &str| -> Option<String> {
        if let Some(rest) = p.strip_prefix('~') {
            let home = home?;
            return Some(mount::clean(Path::new(&format!("{home}/{rest}"))).display().to_string());
        }
        (!p.starts_with('/')).then(|| mount::absolute(p, base).display().to_string())
    };
    let fix = |v: &mut Value| {
        if let Value::String(s) = v
            && let Some(a) = abs(s)
        {
            *s = a;
        }
    };
    if let Some(Value::Mapping(services)) = doc.get_mut("services") {
        for (_, svc) in services.iter_mut() {
            let Value::Mapping(svc) = svc else { continue };
            if let Some(Value::Sequence(vols)) = svc.get_mut("volumes") {
                for v in vols {
                    match v {
                        Value::String(s) => {
                            if let Some((src, rest)) = s.split_once(':')
                                && (src.starts_with('.') || src.starts_with('~'))
                                && let Some(a) = abs(src)
                            {
                                *s = format!("{a}:{rest}");
                            }
                        }
                        Value::Mapping(m) if m.get("type").and_then(Value::as_str) == Some("bind") => {
                            if let Some(src) = m.get_mut("source") {
                                fix(src);
                            }
                        }
                        _ => {}
                    }
                }
            }
            match svc.get_mut("env_file") {
                Some(v @ Value::String(_)) => fix(v),
                Some(Value::Sequence(list)) => {
                    for item in list {
                        match item {
                            Value::Mapping(m) => m.get_mut("path").into_iter().for_each(fix),
                            other => fix(other),
                        }
                    }
                }
                _ => {}
            }
            match svc.get_mut("build") {
                Some(v @ Value::String(_)) if !remote(v) => fix(v),
                Some(Value::Mapping(b)) => {
                    if let Some(ctx) = b.get_mut("context").filter(|c| !remote(c)) {
                        fix(ctx);
                    }
                }
                _ => {}
            }
            if let Some(Value::Mapping(ext)) = svc.get_mut("extends") {
                ext.get_mut("file").into_iter().for_each(fix);
            }
        }
    }
    for section in ["secrets", "configs"] {
        if let Some(Value::Mapping(defs)) = doc.get_mut(section) {
            for (_, def) in defs.iter_mut() {
                if let Value::Mapping(d) = def {
                    d.get_mut("file").into_iter().for_each(fix);
                }
            }
        }
    }
}

/// A build context Compose fetches (git, an URL) rather than reads from disk.
fn remote(v: &Value) -> bool {
    v.as_str().is_some_and(|s| s.contains("://") || s.starts_with("git@") || s.starts_with("github.com/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    fn load_in(dir: &Path, files: &[PathBuf], env: Lookup) -> Result<Project, Vec<Problem>> {
        load(&Options { files, project_name: None, project_directory: None, cwd: dir, env })
    }

    #[test]
    fn default_file_override_and_dot_env() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), ".env", "TAG=1.2\nexport MODE=\"prod\" # comment\n");
        write(
            d.path(),
            "docker-compose.yml",
            "services:\n  web:\n    image: app:${TAG}\n    volumes: ['./data:/data']\n",
        );
        write(d.path(), "docker-compose.override.yml", "services:\n  web:\n    environment: {MODE: $MODE}\n");
        let p = load_in(d.path(), &[], &|_| None).unwrap();
        let web = &p.services[0].1;
        assert_eq!(web["image"], Value::from("app:1.2"));
        assert_eq!(web["environment"]["MODE"], Value::from("prod"));
        assert_eq!(web["volumes"][0], Value::from(format!("{}/data:/data", d.path().display())));
        let dir_name = d.path().file_name().unwrap().to_string_lossy().to_lowercase();
        assert_eq!(p.name, project_name(&dir_name));
    }

    #[test]
    fn environment_wins_over_dot_env() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), ".env", "TAG=from-file\n");
        let f = write(d.path(), "c.yml", "name: My_App\nservices:\n  web:\n    image: app:${TAG}\n");
        let p = load_in(d.path(), &[f], &|k| (k == "TAG").then(|| "from-env".into())).unwrap();
        assert_eq!(p.services[0].1["image"], Value::from("app:from-env"));
        assert_eq!(p.name, "my_app");
    }

    #[test]
    fn refusals_name_the_file_and_key() {
        let d = tempfile::tempdir().unwrap();
        let f = write(d.path(), "c.yml", "services: {}\nbogus: 1\n");
        let e = load_in(d.path(), &[f], &|_| None).unwrap_err();
        assert!(e[0].to_string().contains("\"bogus\""), "{e:?}");
        let f = write(d.path(), "v1.yml", "web:\n  image: app:1\n");
        assert!(load_in(d.path(), &[f], &|_| None).unwrap_err()[0].to_string().contains("version 1"));
        let f = write(d.path(), "dup.yml", "services:\n  a: {image: x:1}\n  a: {image: y:1}\n");
        assert!(load_in(d.path(), &[f], &|_| None).unwrap_err()[0].to_string().contains("duplicate"));
        let f = write(d.path(), "bad.yml", "services:\n  a: {image: 'x:${NOPE:?needed}'}\n");
        let e = load_in(d.path(), &[f], &|_| None).unwrap_err();
        assert!(e[0].to_string().starts_with("services.a.image") && e[0].to_string().contains("needed"), "{e:?}");
        assert!(
            load_in(d.path(), &[d.path().to_path_buf()], &|_| None).unwrap_err()[0].to_string().contains("regular")
        );
    }

    #[test]
    fn fifos_devices_and_deep_nesting_fail_fast() {
        let d = tempfile::tempdir().unwrap();
        let fifo = d.path().join("compose.yaml");
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        let start = std::time::Instant::now();
        let e = load_in(d.path(), &[fifo], &|_| None).unwrap_err()[0].to_string();
        assert!(e.contains("a FIFO, not a regular file"), "{e}");
        let e = load_in(d.path(), &["/dev/zero".into()], &|_| None).unwrap_err()[0].to_string();
        assert!(e.contains("a character device"), "{e}");
        let deep = write(d.path(), "deep.yml", &format!("services: {}\n", "[".repeat(100_000)));
        let e = load_in(d.path(), &[deep], &|_| None).unwrap_err()[0].to_string();
        assert!(e.contains("nested more than 32 levels"), "{e}");
        assert!(start.elapsed() < std::time::Duration::from_secs(2), "{:?}", start.elapsed());
    }

    #[test]
    fn merge_keys_and_anchors() {
        let d = tempfile::tempdir().unwrap();
        let f = write(
            d.path(),
            "c.yml",
            "x-base: &base\n  image: app:1\n  read_only: false\nservices:\n  a:\n    <<: *base\n    read_only: true\n",
        );
        let p = load_in(d.path(), &[f], &|_| None).unwrap();
        assert_eq!(p.services[0].1["read_only"], Value::Bool(true));
        assert_eq!(p.services[0].1["image"], Value::from("app:1"));
    }

    #[test]
    fn names() {
        assert_eq!(project_name("My App.v2"), "myappv2");
        assert_eq!(project_name("__x"), "x");
        assert_eq!(project_name("..."), "");
    }
}
