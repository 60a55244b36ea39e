//! Profile loading: any text as a `--profile-file`, with `extends` reaching the bundled
//! profiles. Properties, for any text:
//! - loading ends quickly (YAML nesting is capped before libyaml parses it) and never
//!   panics;
//! - a profile that loads keeps every guarantee no profile can lift: no capability that
//!   amounts to host root, no-new-privileges, seccomp on, a finite pids limit, no host
//!   or container network, no bind of a host system path, tmpfs noexec unless the
//!   profile says so, a non-root default user unless the profile allows root;
//! - parse, print and parse again: the profile's YAML written back out by serde_yaml
//!   loads to the same profile.

#![no_main]

use std::path::Path;
use std::sync::LazyLock;

use hardrun_fuzz::policy::host_paths::exposed_system_path;
use hardrun_fuzz::profile::load::{Loader, Location};
use hardrun_fuzz::profile::model::{DefaultUser, Profile};
use hardrun_fuzz::profile::schema::UNLIMITED;
use libfuzzer_sys::fuzz_target;

static LOADER: LazyLock<Loader> = LazyLock::new(|| Loader { locations: vec![Location::Bundled] });

const FILE: &str = "/nonexistent/hardrun-fuzz/profile.yaml";

fn check(p: &Profile) {
    for c in p.capabilities.add.iter().chain(&p.capabilities.allow) {
        assert!(!c.is_host_root(), "{c}");
    }
    assert!(p.no_new_privileges);
    assert_ne!(p.seccomp, "unconfined");
    assert!(p.resources.pids.default.is_some_and(|d| d > 0), "{:?}", p.resources.pids);
    assert!(p.resources.pids.max != Some(UNLIMITED), "{:?}", p.resources.pids);
    assert!(p.network.default != "host" && !p.network.default.starts_with("container:"));
    assert!(!p.network.allow.iter().any(|n| n == "host" || n.starts_with("container:")));
    for b in &p.filesystem.binds_allow {
        assert!(exposed_system_path(b).is_none(), "{b:?}");
    }
    if !p.filesystem.tmpfs_exec {
        for (path, opts) in &p.filesystem.tmpfs {
            assert!(!opts.split(',').any(|o| matches!(o, "exec" | "suid" | "dev")), "{path}: {opts}");
        }
    }
    if let DefaultUser::Fixed(u) = &p.user.default {
        assert!(p.user.allow_root || !u.is_root(), "{u}");
    }
    for r in &p.seccomp_escape_routes {
        assert!(hardrun_fuzz::seccomp::ESCAPE_ROUTES.contains(&r.as_str()), "{r}");
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let loaded = LOADER.load_text(Path::new(FILE), text.to_string());
    let Ok(profile) = loaded else { return };
    check(&profile);
    let value: serde_yaml::Value = serde_yaml::from_str(text).expect("a profile that loads is YAML");
    let printed = serde_yaml::to_string(&value).expect("YAML prints");
    let again = match LOADER.load_text(Path::new(FILE), printed.clone()) {
        Ok(again) => again,
        // serde_yaml reads an empty value (`nofile:`) into a section as an empty mapping,
        // but prints it as `null`, which it reads as unit: the printed form is refused,
        // never read as something else.
        Err(e) if e.0.contains("invalid type: unit value") => return,
        Err(e) => panic!("{text:?} prints as {printed:?}, which does not load: {e}"),
    };
    assert_eq!(again, profile, "{text:?} prints as {printed:?}");
});
