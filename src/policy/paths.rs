//! Container paths: the working directory, the program and PATH, and mount targets,
//! each cleaned as the daemon and the kernel read it (Go's `path.Clean`) before it is
//! judged, and sent cleaned. Paths into /proc lead to file descriptors and roots outside
//! the container (the runc `/proc/self/fd` escapes); mounts over /proc or /sys change
//! what the kernel's own interfaces show the container.

use super::{Hardening, Refusal};
use crate::request::path;
use crate::sanitize::escape;

/// Kernel filesystems no mount may be placed over or inside.
const KERNEL_FS: [&str; 2] = ["/proc", "/sys"];

pub(super) fn apply(h: &mut Hardening) {
    let image = h.host.image.clone();
    let image_name = h.req.image.clone();
    // The working directory: the flag's (sent cleaned, as the daemon would clean it), or
    // the image's (judged; hostile metadata).
    let workdir = match &h.req.workdir {
        Some(w) => {
            let clean = path::clean(w);
            if is_proc(&clean) {
                h.refuse(into_proc(format!("--workdir {w}"), &clean));
            }
            h.config.working_dir = Some(clean.clone());
            clean
        }
        None => match image.as_ref().map(|i| i.working_dir.as_str()).filter(|w| !w.is_empty()) {
            Some(w) => {
                let clean = path::clean(w);
                if is_proc(&clean) {
                    h.refuse(into_proc(format!("image {image_name} with WORKDIR {}", escape(w)), &clean));
                }
                clean
            }
            None => "/".to_string(),
        },
    };
    // The program: --entrypoint (sent cleaned when absolute), or the image's entrypoint,
    // or the command; the command's first word is judged as typed whatever runs it.
    let entrypoint: Vec<String> = match &h.req.entrypoint {
        Some(e) if e.is_empty() => Vec::new(),
        Some(e) => vec![e.clone()],
        None => image.as_ref().map(|i| i.entrypoint.clone()).unwrap_or_default(),
    };
    if let Some(e) = &h.req.entrypoint {
        let sent = if e.starts_with('/') { path::clean(e) } else { e.clone() };
        h.config.entrypoint = Some(vec![sent]);
    }
    let cmd = match (h.req.command.is_empty(), &h.req.entrypoint) {
        (false, _) => h.req.command.clone(),
        // A new entrypoint drops the image's CMD, as the daemon does.
        (true, Some(_)) => Vec::new(),
        (true, None) => image.as_ref().map(|i| i.cmd.clone()).unwrap_or_default(),
    };
    let mut programs: Vec<(String, String)> = Vec::new();
    let from_image = h.req.entrypoint.is_none() && !entrypoint.is_empty();
    match (entrypoint.first(), cmd.first()) {
        (Some(p), _) if from_image => {
            programs.push((format!("image {image_name} with ENTRYPOINT {}", escape(p)), p.clone()))
        }
        (Some(p), _) => programs.push((format!("--entrypoint {p}"), p.clone())),
        (None, Some(p)) if h.req.command.is_empty() => {
            programs.push((format!("image {image_name} with CMD {}", escape(p)), p.clone()))
        }
        _ => {}
    }
    if let Some(c) = h.req.command.first() {
        programs.push((format!("command {c}"), c.clone()));
    }
    for (asked, program) in programs {
        if let Some(p) = path::program(&program, &workdir).filter(|p| is_proc(p)) {
            h.refuse(into_proc(asked, &p));
        }
    }
    search_path(h, &workdir);
}

/// A bare program name is looked up in PATH inside the container: a PATH into /proc
/// reaches the same descriptors as a path would.
fn search_path(h: &mut Hardening, workdir: &str) {
    let image_env = h.host.image.as_ref().map(|i| i.env.clone()).unwrap_or_default();
    let from_flags = h.req.env.iter().filter_map(|e| e.strip_prefix("PATH=")).map(|p| (format!("-e PATH={p}"), p));
    let from_image = image_env
        .iter()
        .filter_map(|e| e.strip_prefix("PATH="))
        .map(|p| (format!("image {} with ENV PATH={}", h.req.image, escape(p)), p));
    let mut refusals = Vec::new();
    for (asked, value) in from_flags.chain(from_image) {
        // An empty entry is the working directory.
        let dirs = value
            .split(':')
            .map(|d| if d.starts_with('/') { path::clean(d) } else { path::clean(&format!("{workdir}/{d}")) });
        if let Some(dir) = dirs.into_iter().find(|d| is_proc(d)) {
            refusals.push(into_proc(asked, &dir));
        }
    }
    for r in refusals {
        h.refuse(r);
    }
}

fn is_proc(clean: &str) -> bool {
    path::is_within(clean, "/proc")
}

fn into_proc(asked: String, clean: &str) -> Refusal {
    let clean = escape(clean);
    let shown = if asked.ends_with(&clean) { String::new() } else { format!(" (it is {clean})") };
    Refusal::never(
        asked,
        format!("a path under /proc{shown} can lead to file descriptors and roots outside the container"),
        "use a path inside the image",
    )
}

/// A mount target as the daemon will use it (cleaned), refused over or inside /proc and
/// /sys. Returns the cleaned target to send.
pub(super) fn target(h: &mut Hardening, asked: &str, target: &str) -> String {
    let clean = path::clean(target);
    if let Some(fs) = kernel_fs(&clean) {
        let shown = if clean == target { String::new() } else { format!(" ({clean})") };
        h.refuse(Refusal::never(
            asked,
            format!("a mount at {target}{shown} covers the kernel's {fs}, changing what it shows or hides from the container"),
            "mount it somewhere else, e.g. under /data",
        ));
    }
    clean
}

/// The kernel filesystem a mount target covers or sits in, if any (profile validation
/// asks this of `filesystem.tmpfs` too).
pub fn kernel_fs(target: &str) -> Option<&'static str> {
    KERNEL_FS.iter().copied().find(|fs| path::is_within(target, fs))
}
