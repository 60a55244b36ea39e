//! `hardrun profile list | show NAME [--resolved] | validate FILE...`.

use std::collections::BTreeMap;

use anyhow::Result;
use serde_yaml::Value;

use crate::cli::ProfileCommand;
use crate::profile::Loader;

pub fn run(cmd: &ProfileCommand, loader: &Loader) -> Result<i32> {
    match cmd {
        ProfileCommand::List => {
            let rows = loader.list();
            let w = rows.iter().map(|r| r.0.len()).max().unwrap_or(4).max(4);
            let w2 = rows.iter().map(|r| r.1.len()).max().unwrap_or(6).max(6);
            println!("{:w$}  {:w2$}  DESCRIPTION", "NAME", "SOURCE");
            let mut seen = std::collections::HashSet::new();
            for (name, source, desc) in rows {
                let shadowed = if seen.insert(name.clone()) { "" } else { " (shadowed)" };
                println!("{name:w$}  {source:w2$}  {desc}{shadowed}");
            }
            Ok(0)
        }
        ProfileCommand::Show { name, resolved: false } => {
            print!("{}", loader.source(name)?.text);
            Ok(0)
        }
        ProfileCommand::Show { name, resolved: true } => {
            // Check the whole chain first, so a broken profile is an error, not output.
            loader.load(name)?;
            let (merged, origins) = loader.merged(name)?;
            print!("{}", annotated_yaml(&merged, &origins));
            Ok(0)
        }
        ProfileCommand::Validate { files } => {
            let mut failed = 0;
            for f in files {
                match loader.load_file(f) {
                    Ok(p) => eprintln!("ok: {} (profile {:?})", f.display(), p.name),
                    Err(e) => {
                        failed += 1;
                        eprintln!("hardrun: {e}");
                    }
                }
            }
            Ok(if failed == 0 { 0 } else { 125 })
        }
    }
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
