//! Every profile key, and the code that acts on it. This is the fact the key reference in
//! docs/profiles.md is checked against (see the tests): the keys are those the schema
//! accepts, and a key the docs call "not enforced yet" must have no code acting on it,
//! so the docs cannot drift from what hardrun does again.

/// A profile key (dotted path, as the docs write it) and the source files that act on it
/// (empty: validated only).
pub struct Key {
    pub path: &'static str,
    pub enforced_in: &'static [&'static str],
}

const POLICY: &str = "src/policy";

pub const KEYS: &[Key] = &[
    Key { path: "extends", enforced_in: &["src/profile/load.rs"] },
    Key { path: "description", enforced_in: &["src/command/profile.rs"] },
    Key { path: "user.default", enforced_in: &[POLICY] },
    Key { path: "user.allow_root", enforced_in: &[POLICY] },
    Key { path: "user.from_image", enforced_in: &[POLICY] },
    Key { path: "capabilities.add", enforced_in: &[POLICY] },
    Key { path: "capabilities.allow", enforced_in: &[POLICY] },
    Key { path: "filesystem.read_only", enforced_in: &[POLICY] },
    Key { path: "filesystem.tmpfs", enforced_in: &[POLICY] },
    Key { path: "filesystem.tmpfs_exec", enforced_in: &[POLICY] },
    Key { path: "filesystem.binds.project", enforced_in: &[POLICY] },
    Key { path: "filesystem.binds.allow", enforced_in: &[POLICY] },
    Key { path: "filesystem.binds.propagation", enforced_in: &[POLICY] },
    Key { path: "filesystem.volume_drivers", enforced_in: &[POLICY] },
    Key { path: "filesystem.volume_types", enforced_in: &[POLICY] },
    Key { path: "filesystem.image_tmpfs.size", enforced_in: &[POLICY] },
    Key { path: "filesystem.image_tmpfs.max", enforced_in: &[POLICY] },
    Key { path: "no_new_privileges", enforced_in: &[POLICY] },
    Key { path: "seccomp.profile", enforced_in: &[POLICY] },
    Key { path: "seccomp.allow_custom", enforced_in: &[POLICY] },
    Key { path: "seccomp.allow_escape_routes", enforced_in: &[POLICY] },
    Key { path: "apparmor.profile", enforced_in: &[POLICY] },
    Key { path: "apparmor.required", enforced_in: &[POLICY] },
    Key { path: "apparmor.allow_custom", enforced_in: &[POLICY] },
    Key { path: "resources.memory.default", enforced_in: &[POLICY] },
    Key { path: "resources.memory.max", enforced_in: &[POLICY] },
    Key { path: "resources.swap.max", enforced_in: &[POLICY] },
    Key { path: "resources.cpus.default", enforced_in: &[POLICY] },
    Key { path: "resources.cpus.max", enforced_in: &[POLICY] },
    Key { path: "resources.pids.default", enforced_in: &[POLICY] },
    Key { path: "resources.pids.max", enforced_in: &[POLICY] },
    Key { path: "resources.ulimits", enforced_in: &[POLICY] },
    Key { path: "network.default", enforced_in: &[POLICY] },
    Key { path: "network.allow", enforced_in: &[POLICY] },
    Key { path: "network.publish", enforced_in: &[POLICY] },
    Key { path: "network.max_ports", enforced_in: &[POLICY] },
    Key { path: "image.tags", enforced_in: &["src/image/gate.rs"] },
    Key { path: "image.registries", enforced_in: &["src/image/gate.rs"] },
    Key { path: "image.require_digest", enforced_in: &["src/image/gate.rs", "src/policy/image.rs"] },
    Key { path: "image.secrets", enforced_in: &["src/image/gate.rs"] },
    Key { path: "image.minimal", enforced_in: &["src/image/gate.rs"] },
    Key { path: "image.scan.scanner", enforced_in: &["src/image/scan.rs"] },
    Key { path: "image.scan.fail_on", enforced_in: &["src/image/gate.rs"] },
    Key { path: "image.scan.required", enforced_in: &["src/image/gate.rs"] },
    Key { path: "image.signatures.required", enforced_in: &["src/image/signature/policy.rs"] },
    Key { path: "image.signatures.keys", enforced_in: &["src/profile/signatures.rs"] },
    Key { path: "image.signatures.registries", enforced_in: &["src/profile/signatures.rs"] },
    Key { path: "image.signatures.plain_http", enforced_in: &["src/image/signature/registry.rs"] },
    Key { path: "image.signatures.policy", enforced_in: &["src/profile/signatures.rs"] },
    Key { path: "sysctls.allow", enforced_in: &[POLICY] },
    Key { path: "annotations.allow", enforced_in: &[POLICY] },
    Key { path: "logging.drivers", enforced_in: &[POLICY] },
    Key { path: "logging.options", enforced_in: &[POLICY] },
    Key { path: "logging.max_size", enforced_in: &[POLICY] },
    Key { path: "logging.max_file", enforced_in: &[POLICY] },
    Key { path: "runtimes.allow", enforced_in: &[POLICY] },
    Key { path: "allow_flags", enforced_in: &[POLICY] },
];

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::Path;

    use super::KEYS;
    use crate::profile::schema::ProfileFile;

    /// The fields serde accepts at `path` (a struct), from its own "unknown field"
    /// error; `None` when `path` is not a struct (a value, list or map).
    fn fields_at(path: &[&str]) -> Option<Vec<String>> {
        let mut yaml = "__probe: 1".to_string();
        for part in path.iter().rev() {
            yaml = format!("{part}: {{{yaml}}}");
        }
        let err = serde_yaml::from_str::<ProfileFile>(&yaml).err()?.to_string();
        let list = err.split_once("unknown field `__probe`, expected ")?.1;
        let list = list.split(" at line").next().unwrap();
        Some(list.split('`').skip(1).step_by(2).map(str::to_string).collect())
    }

    /// Every leaf key the schema accepts, as a dotted path.
    fn accepted(path: &mut Vec<&'static str>, out: &mut BTreeSet<String>) {
        let Some(fields) = fields_at(path) else {
            out.insert(path.join("."));
            return;
        };
        for f in fields {
            path.push(Box::leak(f.into_boxed_str()));
            accepted(path, out);
            path.pop();
        }
    }

    #[test]
    fn the_key_list_is_what_the_schema_accepts() {
        let mut schema = BTreeSet::new();
        accepted(&mut Vec::new(), &mut schema);
        let listed: BTreeSet<String> = KEYS.iter().map(|k| k.path.to_string()).collect();
        assert_eq!(schema, listed);
    }

    #[test]
    fn each_enforcing_file_acts_on_its_key() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        for k in KEYS {
            let field = k.path.rsplit('.').next().unwrap();
            for place in k.enforced_in {
                let p = root.join(place);
                let text: String = if p.is_dir() {
                    let files = std::fs::read_dir(&p).unwrap().flatten().map(|e| e.path());
                    files.filter(|f| f.is_file()).map(|f| std::fs::read_to_string(f).unwrap()).collect()
                } else {
                    std::fs::read_to_string(&p).unwrap()
                };
                assert!(text.contains(field), "{place} does not mention {field} ({})", k.path);
            }
        }
    }

    /// docs/profiles.md names every key, and says "not enforced" of exactly the keys no
    /// code acts on.
    #[test]
    fn the_profile_reference_tells_each_keys_status() {
        let docs = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/profiles.md")).unwrap();
        for k in KEYS {
            // A key is documented by its own name or by its section's (`resources.memory`
            // documents `{default, max}`).
            let parts: Vec<&str> = k.path.split('.').collect();
            let names: Vec<String> = (1..=parts.len()).map(|n| format!("`{}`", parts[..n].join("."))).collect();
            assert!(names.iter().any(|n| docs.contains(n)), "docs/profiles.md does not document {}", k.path);
            let rows = docs.lines().filter(|l| names.iter().any(|n| l.starts_with(&format!("| {n} |"))));
            for row in rows {
                let says_not = row.contains("not enforced");
                assert_eq!(
                    says_not,
                    k.enforced_in.is_empty(),
                    "docs/profiles.md says of {}: {row} (the code {})",
                    k.path,
                    if k.enforced_in.is_empty() { "does not act on it" } else { "enforces it" }
                );
            }
        }
        let stale = docs.lines().filter(|l| l.contains("not enforced yet")).count();
        let unenforced = KEYS.iter().filter(|k| k.enforced_in.is_empty()).count();
        assert!(stale <= unenforced, "docs/profiles.md says 'not enforced yet' {stale} times");
    }
}
