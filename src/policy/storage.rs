//! Storage: the read-only root and its tmpfs mounts, bind sources (judged where they
//! really point), named volumes whose options make them binds, and `--volumes-from`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use bollard::models::{
    Mount, MountBindOptions, MountBindOptionsPropagationEnum, MountTmpfsOptions, MountType, MountVolumeOptions,
    MountVolumeOptionsDriverConfig,
};

use super::{Hardening, MountFacts, Refusal, VolumeFacts};
use crate::profile::model::exposed_system_path;
use crate::request::{MountSpec, VolumeSource};

/// Socket file names that are a container runtime's API: binding one is root on the host.
const RUNTIME_SOCKETS: [&str; 5] = ["docker.sock", "containerd.sock", "podman.sock", "crio.sock", "dockershim.sock"];

pub(super) fn apply(h: &mut Hardening) {
    root_filesystem(h);
    tmpfs(h);
    volumes(h);
    mounts(h);
    volumes_from(h);
}

fn root_filesystem(h: &mut Hardening) {
    let profile_ro = h.profile.filesystem.read_only;
    match h.req.read_only {
        Some(false) if profile_ro => h.refuse(Refusal::unless(
            "--read-only=false",
            "a writable root lets an attacker change the image's programs and keep tools around",
            "keep the root read-only and mount a writable directory where the service writes (--tmpfs /path or -v)",
            "filesystem.read_only",
        )),
        _ => {}
    }
    let ro = profile_ro || h.req.read_only == Some(true);
    let source = if profile_ro || h.req.read_only != Some(true) {
        h.profile_source("filesystem.read_only")
    } else {
        Hardening::flag("--read-only")
    };
    h.decide("root filesystem", if ro { "read-only" } else { "writable" }, source);
    h.hc.readonly_rootfs = Some(ro);
    h.expect.read_only_root = ro;
}

/// Options that undo docker's `noexec,nosuid,nodev` defaults on a tmpfs.
fn tmpfs_loosening(options: &str) -> Vec<&str> {
    options.split(',').filter(|o| matches!(*o, "exec" | "suid" | "dev")).collect()
}

fn tmpfs(h: &mut Hardening) {
    let mut map = HashMap::new();
    // Owned by the user the container runs as, or it cannot write there.
    let ids = super::writable::run_ids(h);
    let user_targets: Vec<String> = h
        .req
        .volumes
        .iter()
        .map(|v| v.target.clone())
        .chain(h.req.mounts.iter().map(|m| m.target.clone()))
        .chain(h.req.tmpfs.iter().map(|(p, _)| p.clone()))
        .collect();
    for (path, options) in &h.profile.filesystem.tmpfs {
        // A mount the user asked for at the same place wins.
        if user_targets.contains(path) {
            continue;
        }
        let key = format!("filesystem.tmpfs.{path}");
        let source = h.profile_source(&key);
        let options = super::writable::owned(options, ids);
        h.decide("tmpfs", format!("{path} {}", describe_tmpfs(&options)), source);
        map.insert(path.clone(), options);
    }
    for (path, options) in &h.req.tmpfs {
        let loose = tmpfs_loosening(options);
        if !loose.is_empty() && !h.profile.filesystem.tmpfs_exec {
            h.refuse(Refusal::unless(
                format!("--tmpfs {path}:{options}"),
                format!("{} on a writable mount lets an attacker drop and run tools", loose.join(",")),
                format!("leave out {} (docker mounts tmpfs noexec,nosuid,nodev)", loose.join(",")),
                "filesystem.tmpfs_exec",
            ));
        }
        let options = super::writable::owned(options, ids);
        h.decide("tmpfs", format!("{path} {}", describe_tmpfs(&options)), Hardening::flag(format!("--tmpfs {path}")));
        map.insert(path.clone(), options);
    }
    if !map.is_empty() {
        h.hc.tmpfs = Some(map);
    }
}

fn describe_tmpfs(options: &str) -> String {
    let mut o: Vec<&str> = options.split(',').filter(|s| !s.is_empty()).collect();
    // docker's defaults, unless the options already say otherwise.
    for (default, opposite) in [("noexec", "exec"), ("nosuid", "suid"), ("nodev", "dev")] {
        if !o.iter().any(|x| *x == default || *x == opposite) {
            o.push(default);
        }
    }
    o.join(",")
}

/// Judges one host path about to be bound. Returns whether it may be.
fn judge_bind(h: &mut Hardening, asked: &str, typed: &Path) -> bool {
    let real = h.host.real(typed);
    for p in [typed, real.as_path()] {
        if let Some(sys) = exposed_system_path(p) {
            let what = if sys == "/" { "the host's whole filesystem".to_string() } else { format!("the host's {sys}") };
            let shown = if p == typed { String::new() } else { format!(" (it resolves to {})", p.display()) };
            h.refuse(Refusal::never(
                asked,
                format!("it exposes {what}{shown}, from which a container can take over the host"),
                "bind only the project files the service needs, e.g. -v ./data:/data",
            ));
            return false;
        }
    }
    let is_socket_name = real.file_name().is_some_and(|n| RUNTIME_SOCKETS.iter().any(|s| n == *s));
    if is_socket_name || h.host.daemon_sockets.iter().any(|s| s.starts_with(&real) || s.starts_with(typed)) {
        h.refuse(Refusal::never(
            asked,
            "it exposes the container runtime's API socket, which starts privileged containers: root on the host",
            "talk to Docker from outside the container, or through a proxy that allows only what is needed",
        ));
        return false;
    }
    let fs = &h.profile.filesystem;
    let in_project = fs.binds_project && real.starts_with(&h.host.cwd);
    let listed = fs.binds_allow.iter().any(|a| real.starts_with(a));
    if in_project || listed {
        return true;
    }
    let shown = if real == typed {
        typed.display().to_string()
    } else {
        format!("{} (really {})", typed.display(), real.display())
    };
    h.refuse(Refusal::unless(
        asked,
        format!("{shown} is outside the project directory {}", h.host.cwd.display()),
        "bind a path inside the project (run hardrun from the project's folder), or use a named volume",
        "filesystem.binds.allow",
    ));
    false
}

fn propagation_ok(h: &mut Hardening, asked: &str, propagation: Option<&str>) {
    if let Some(p @ ("shared" | "rshared")) = propagation
        && !h.profile.filesystem.binds_propagation
    {
        h.refuse(Refusal::unless(
            asked,
            format!("{p} propagation carries mounts between the container and the host"),
            "use the default (rprivate) propagation",
            "filesystem.binds.propagation",
        ));
    }
}

/// Judges a named volume: its driver and the options that would make it a bind or a device.
fn judge_volume(h: &mut Hardening, asked: &str, driver: Option<&str>, options: &[(String, String)]) {
    let driver = driver.unwrap_or("local");
    if !h.profile.filesystem.volume_drivers.iter().any(|d| d == driver) {
        h.refuse(Refusal::unless(
            asked,
            format!("volume driver {driver} decides on its own what the volume really is (a host path, a device)"),
            "use the local driver",
            "filesystem.volume_drivers",
        ));
        return;
    }
    let get = |k: &str| options.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
    let device = get("device");
    let o = get("o").unwrap_or("");
    let is_bind = o.split(',').any(|x| x == "bind" || x == "rbind") || get("type") == Some("none");
    match (device, get("type")) {
        (Some(dev), _) if is_bind => {
            if dev.starts_with('/') {
                let path = crate::request::mount::clean(Path::new(dev));
                judge_bind(h, &format!("{asked} (a bind of {dev})"), &path);
            } else {
                h.refuse(Refusal::never(asked, "a bind volume needs an absolute device path", "use -v ./path:/dst"));
            }
        }
        (Some("tmpfs"), Some("tmpfs")) => {}
        (Some(_), Some("nfs" | "nfs4" | "cifs")) => {}
        (Some(dev), _) => h.refuse(Refusal::never(
            asked,
            format!("the volume mounts {dev}, a host device, into the container"),
            "use a plain named volume, or a tmpfs/nfs volume",
        )),
        (None, _) if is_bind => h.refuse(Refusal::never(asked, "a bind volume without a device", "use -v ./path:/dst")),
        (None, _) => {}
    }
}

fn volume_facts_options(v: &VolumeFacts) -> Vec<(String, String)> {
    v.options.iter().map(|(k, val)| (k.clone(), val.clone())).collect()
}

fn volumes(h: &mut Hardening) {
    let mut binds = Vec::new();
    let mut anonymous = Vec::new();
    for v in &h.req.volumes {
        let asked = format!("-v {}", v.bind_string().unwrap_or_else(|| v.target.clone()));
        match &v.source {
            VolumeSource::Host(path) => {
                judge_bind(h, &asked, path);
                propagation_ok(h, &asked, v.propagation());
            }
            VolumeSource::Named(name) => {
                // An existing volume keeps its own driver and options; a new one gets
                // --volume-driver's.
                match h.host.volumes.get(name).cloned() {
                    Some(facts) => judge_volume(h, &asked, Some(&facts.driver), &volume_facts_options(&facts)),
                    None => judge_volume(h, &asked, h.req.volume_driver.as_deref(), &[]),
                }
            }
            VolumeSource::Anonymous => {}
        }
        match v.bind_string() {
            Some(b) => binds.push(b),
            None => anonymous.push(v.target.clone()),
        }
    }
    if let Some(driver) = &h.req.volume_driver {
        judge_volume(h, &format!("--volume-driver {driver}"), Some(driver), &[]);
        h.hc.volume_driver = Some(driver.clone());
    }
    if !binds.is_empty() {
        h.hc.binds = Some(binds);
    }
    if !anonymous.is_empty() {
        h.config.volumes = Some(anonymous);
    }
}

fn mounts(h: &mut Hardening) {
    let mut out = Vec::new();
    for m in &h.req.mounts {
        let asked = format!("--mount type={},target={}", m.kind, m.target);
        match m.kind.as_str() {
            "bind" => {
                let src = PathBuf::from(m.source.as_deref().unwrap_or("/"));
                let asked = format!("--mount type=bind,source={},target={}", src.display(), m.target);
                judge_bind(h, &asked, &src);
                propagation_ok(h, &asked, m.bind_propagation.as_deref());
            }
            "volume" => {
                let existing = m.source.as_ref().and_then(|n| h.host.volumes.get(n)).cloned();
                if let Some(facts) = existing {
                    judge_volume(h, &asked, Some(&facts.driver), &volume_facts_options(&facts));
                }
                let driver = m.volume_driver.as_deref().or(h.req.volume_driver.as_deref());
                judge_volume(h, &asked, driver, &m.volume_options);
            }
            _ => {}
        }
        out.push(api_mount(m));
    }
    if !out.is_empty() {
        h.hc.mounts = Some(out);
    }
}

/// The Engine API `Mount` for a `--mount` value, as the docker CLI builds it.
fn api_mount(m: &MountSpec) -> Mount {
    let typ = match m.kind.as_str() {
        "bind" => MountType::BIND,
        "tmpfs" => MountType::TMPFS,
        "image" => MountType::IMAGE,
        _ => MountType::VOLUME,
    };
    let bind_options = (m.kind == "bind"
        && (m.bind_propagation.is_some() || m.bind_non_recursive || m.bind_create_host_path))
        .then(|| MountBindOptions {
            propagation: m.bind_propagation.as_deref().map(|p| match p {
                "shared" => MountBindOptionsPropagationEnum::SHARED,
                "rshared" => MountBindOptionsPropagationEnum::RSHARED,
                "slave" => MountBindOptionsPropagationEnum::SLAVE,
                "rslave" => MountBindOptionsPropagationEnum::RSLAVE,
                "private" => MountBindOptionsPropagationEnum::PRIVATE,
                _ => MountBindOptionsPropagationEnum::RPRIVATE,
            }),
            non_recursive: m.bind_non_recursive.then_some(true),
            create_mountpoint: m.bind_create_host_path.then_some(true),
            ..Default::default()
        });
    let volume_options = (m.kind == "volume"
        && (m.volume_no_copy
            || !m.volume_labels.is_empty()
            || m.volume_driver.is_some()
            || !m.volume_options.is_empty()
            || m.volume_subpath.is_some()))
    .then(|| MountVolumeOptions {
        no_copy: m.volume_no_copy.then_some(true),
        labels: (!m.volume_labels.is_empty()).then(|| m.volume_labels.iter().cloned().collect()),
        // The docker CLI always sends a driver config with volume options.
        driver_config: Some(MountVolumeOptionsDriverConfig {
            name: m.volume_driver.clone(),
            options: (!m.volume_options.is_empty()).then(|| m.volume_options.iter().cloned().collect()),
        }),
        subpath: m.volume_subpath.clone(),
    });
    let tmpfs_options = (m.kind == "tmpfs" && (m.tmpfs_size.is_some() || m.tmpfs_mode.is_some()))
        .then_some(MountTmpfsOptions { size_bytes: m.tmpfs_size, mode: m.tmpfs_mode, options: None });
    Mount {
        target: Some(m.target.clone()),
        source: m.source.clone(),
        typ: Some(typ),
        read_only: m.read_only.then_some(true),
        consistency: m.consistency.clone(),
        bind_options,
        volume_options,
        tmpfs_options,
        image_options: None,
    }
}

fn volumes_from(h: &mut Hardening) {
    if h.req.volumes_from.is_empty() {
        return;
    }
    let mut allowed = Vec::new();
    for spec in &h.req.volumes_from {
        let name = spec.split(':').next().unwrap_or(spec);
        let asked = format!("--volumes-from {spec}");
        if !h.allows_flag("volumes-from") {
            h.refuse(Refusal::unless(
                asked,
                "it brings in every mount of another container, host paths included, unseen",
                "mount the same named volume directly with -v NAME:/path",
                "allow_flags: [volumes-from]",
            ));
            continue;
        }
        let Some(mounts) = h.host.containers.get(name).cloned() else {
            if !h.host.daemon_asked {
                continue;
            }
            h.refuse(Refusal::never(
                asked,
                format!("container {name}'s mounts could not be inspected, so what they expose cannot be judged"),
                "check the container exists, or mount its named volumes directly with -v NAME:/path",
            ));
            continue;
        };
        for m in mounts {
            judge_inherited(h, &asked, &m);
        }
        allowed.push(spec.clone());
    }
    h.hc.volumes_from = Some(allowed);
}

fn judge_inherited(h: &mut Hardening, asked: &str, m: &MountFacts) {
    let asked = format!("{asked} ({} at {})", m.source, m.destination);
    match m.kind.as_str() {
        "bind" => {
            judge_bind(h, &asked, Path::new(&m.source));
        }
        "volume" => {
            if let Some(facts) = m.name.as_ref().and_then(|n| h.host.volumes.get(n)).cloned() {
                judge_volume(h, &asked, Some(&facts.driver), &volume_facts_options(&facts));
            }
        }
        _ => {}
    }
}
