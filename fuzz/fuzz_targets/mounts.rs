//! `-v`, `--mount` and `--tmpfs` values. The first byte picks the parser, the rest is
//! the value. Properties, for any value:
//! - parsing ends without a panic;
//! - an accepted mount has an absolute destination, and a bind source that is absolute
//!   and already clean (what is judged is what is sent);
//! - `-v`: the `HostConfig.Binds` entry hardrun sends parses back to the same mount;
//! - `--mount` is read as Go's encoding/csv reads it: quoting every field changes nothing.

#![no_main]

use std::path::Path;

use hardrun_fuzz::request::mount::{self, MountKind, VolumeSource};
use libfuzzer_sys::fuzz_target;

const CWD: &str = "/home/dev/project";

fn clean(p: &str) -> bool {
    p.starts_with('/') && mount::clean(Path::new(p)) == Path::new(p)
}

fn volume(spec: &str) {
    let Ok(v) = mount::parse_volume(spec, Path::new(CWD)) else { return };
    assert!(v.target.starts_with('/'), "{spec:?}: {v:?}");
    if let VolumeSource::Host(p) = &v.source {
        assert!(clean(p.to_str().unwrap()), "{spec:?}: source {p:?}");
    }
    if let Some(bind) = v.bind_string() {
        let again = mount::parse_volume(&bind, Path::new("/elsewhere"))
            .unwrap_or_else(|e| panic!("{spec:?} is sent as {bind:?}, which does not parse: {e}"));
        assert_eq!(again, v, "{spec:?} is sent as {bind:?}");
    }
}

/// Each field of an unquoted CSV record, quoted (a `"` doubled).
fn quoted(spec: &str) -> Option<String> {
    if spec.contains('"') {
        return None;
    }
    Some(spec.split(',').map(|f| format!("\"{f}\"")).collect::<Vec<_>>().join(","))
}

fn mount_flag(spec: &str) {
    let parsed = mount::parse_mount(spec, Path::new(CWD));
    if let Ok(m) = &parsed {
        assert!(m.target.starts_with('/'), "{spec:?}: {m:?}");
        if m.kind == MountKind::Bind {
            let src = m.source.as_deref().expect("a bind has a source");
            assert!(clean(src), "{spec:?}: source {src:?}");
        }
    }
    if let Some(q) = quoted(spec) {
        let requoted = mount::parse_mount(&q, Path::new(CWD));
        assert_eq!(requoted.is_ok(), parsed.is_ok(), "{spec:?} vs {q:?}: {parsed:?} / {requoted:?}");
        if let (Ok(a), Ok(b)) = (&parsed, &requoted) {
            assert_eq!(a, b, "{spec:?} vs {q:?}");
        }
    }
}

fn tmpfs(spec: &str) {
    if let Ok((path, _)) = mount::parse_tmpfs(spec) {
        assert!(path.starts_with('/'), "{spec:?}");
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else { return };
    let Ok(spec) = std::str::from_utf8(rest) else { return };
    match which % 3 {
        0 => volume(spec),
        1 => mount_flag(spec),
        _ => tmpfs(spec),
    }
});
