//! Storage: the read-only root and its tmpfs mounts, bind sources (judged where they
//! really point, sent as that real path), `-v` and `--mount` (judged on the body that is
//! sent, targets cleaned), and `--volumes-from`. Named volumes' options are `volume`'s.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use bollard::models::{
    Mount, MountBindOptions, MountBindOptionsPropagationEnum, MountTmpfsOptions, MountType, MountVolumeOptions,
    MountVolumeOptionsDriverConfig,
};

use super::host_paths::{exposed_system_path, exposes_runtime_socket, project_root};
use super::{Hardening, MountFacts, Refusal, paths, volume};
use crate::request::{MountKind, MountSpec, VolumeSource, path};
use crate::sanitize::escape;

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
    let user_targets: Vec<String> = h
        .req
        .volumes
        .iter()
        .map(|v| v.target.as_str())
        .chain(h.req.mounts.iter().map(|m| m.target.as_str()))
        .chain(h.req.tmpfs.iter().map(|(p, _)| p.as_str()))
        .map(path::clean)
        .collect();
    for (p, options) in &h.profile.filesystem.tmpfs {
        // A mount the user asked for at the same place wins.
        if user_targets.contains(&path::clean(p)) {
            continue;
        }
        let key = format!("filesystem.tmpfs.{p}");
        let source = h.profile_source(&key);
        h.decide("tmpfs", format!("{p} {}", describe_tmpfs(options)), source);
        map.insert(path::clean(p), options.clone());
    }
    let mut seen = Vec::new();
    for (p, options) in &h.req.tmpfs {
        let asked = format!("--tmpfs {p}");
        let target = paths::target(h, &asked, p);
        if seen.contains(&target) {
            h.refuse(Refusal::never(
                asked,
                format!("{target} is given twice, and the daemon keeps only the last"),
                "give each tmpfs once",
            ));
        }
        seen.push(target.clone());
        let loose = tmpfs_loosening(options);
        if !loose.is_empty() && !h.profile.filesystem.tmpfs_exec {
            h.refuse(Refusal::unless(
                format!("--tmpfs {p}:{options}"),
                format!("{} on a writable mount lets an attacker drop and run tools", loose.join(",")),
                format!("leave out {} (docker mounts tmpfs noexec,nosuid,nodev)", loose.join(",")),
                "filesystem.tmpfs_exec",
            ));
        }
        map.insert(target, options.clone());
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

/// Judges one host path about to be bound. Returns whether it may be; the caller sends
/// `h.host.real(typed)`, the path it was judged as.
pub(super) fn judge_bind(h: &mut Hardening, asked: &str, typed: &Path) -> bool {
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
    if exposes_runtime_socket(typed, &real, &h.host.daemon_sockets) {
        h.refuse(Refusal::never(
            asked,
            "it exposes the container runtime's API socket, which starts privileged containers: root on the host",
            "talk to Docker from outside the container, or through a proxy that allows only what is needed",
        ));
        return false;
    }
    let fs = &h.profile.filesystem;
    if fs.binds_allow.iter().any(|a| real.starts_with(a)) {
        return true;
    }
    let project = project_root(&h.host.cwd, h.host.home.as_deref());
    if fs.binds_project && project.is_ok_and(|p| real.starts_with(p)) {
        return true;
    }
    let shown = if real == typed {
        typed.display().to_string()
    } else {
        format!("{} (really {})", typed.display(), real.display())
    };
    let why = match project {
        Err(not) if fs.binds_project => format!(
            "the working directory {} is {}, which is never a project folder, so no host path counts as the project's",
            h.host.cwd.display(),
            not.describe()
        ),
        _ => format!("{shown} is outside the project directory {}", h.host.cwd.display()),
    };
    h.refuse(Refusal::unless(
        asked,
        why,
        "run hardrun from the project's own folder (cd into it) and bind paths inside it, or use a named volume",
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

fn volumes(h: &mut Hardening) {
    let mut binds = Vec::new();
    let mut anonymous = Vec::new();
    for v in &h.req.volumes {
        let asked = format!("-v {}", v.bind_string().unwrap_or_else(|| v.target.clone()));
        let target = paths::target(h, &asked, &v.target);
        let source = match &v.source {
            VolumeSource::Host(p) => {
                judge_bind(h, &asked, p);
                propagation_ok(h, &asked, v.propagation());
                let real = h.host.real(p).display().to_string();
                // A bind string is split on `:`; a source holding one would be read as
                // another source, target and mode.
                if real.contains(':') {
                    h.refuse(Refusal::never(
                        asked.clone(),
                        format!(
                            "the source is really {}, whose ':' the daemon would read as a separator",
                            escape(&real)
                        ),
                        "use --mount type=bind,source=...,target=..., which has no separator to confuse",
                    ));
                }
                Some(real)
            }
            VolumeSource::Named(name) => {
                // An existing volume keeps its own driver and options; a new one gets
                // --volume-driver's.
                match h.host.volumes.get(name).cloned() {
                    Some(facts) => {
                        volume::judge(h, &asked, Some(&facts.driver), &facts.options);
                    }
                    None => {
                        volume::judge(h, &asked, h.req.volume_driver.as_deref(), &BTreeMap::new());
                    }
                }
                Some(name.clone())
            }
            VolumeSource::Anonymous => None,
        };
        match source {
            Some(s) if v.mode.is_empty() => binds.push(format!("{s}:{target}")),
            Some(s) => binds.push(format!("{s}:{target}:{}", v.mode)),
            None => anonymous.push(target),
        }
    }
    if let Some(driver) = &h.req.volume_driver {
        volume::judge(h, &format!("--volume-driver {driver}"), Some(driver), &BTreeMap::new());
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
        for key in &m.repeated {
            h.refuse(Refusal::never(
                format!("{asked} with {key} given twice"),
                "the daemon keeps only the last value, so what is judged and what runs could differ",
                "give each key once",
            ));
        }
        let mut body = api_mount(m);
        body.target = Some(paths::target(h, &asked, &m.target));
        match m.kind {
            MountKind::Bind => {
                let src = PathBuf::from(m.source.as_deref().unwrap_or("/"));
                let asked = format!("--mount type=bind,source={},target={}", src.display(), m.target);
                judge_bind(h, &asked, &src);
                propagation_ok(h, &asked, m.bind_propagation.as_deref());
                body.source = Some(h.host.real(&src).display().to_string());
            }
            MountKind::Volume => {
                let existing = m.source.as_ref().and_then(|n| h.host.volumes.get(n)).cloned();
                if let Some(facts) = existing {
                    volume::judge(h, &asked, Some(&facts.driver), &facts.options);
                }
                // Judged as the body carries them: the map the daemon gets.
                let driver = m.volume_driver.as_deref().or(h.req.volume_driver.as_deref());
                let options = body
                    .volume_options
                    .as_ref()
                    .and_then(|v| v.driver_config.as_ref())
                    .and_then(|d| d.options.as_ref())
                    .map(|o| o.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                    .unwrap_or_default();
                let sent = volume::judge(h, &asked, driver, &options);
                if let Some(config) = body.volume_options.as_mut().and_then(|v| v.driver_config.as_mut())
                    && config.options.is_some()
                {
                    config.options = Some(sent.into_iter().collect());
                }
            }
            MountKind::Tmpfs | MountKind::Image => {}
        }
        out.push(body);
    }
    if !out.is_empty() {
        h.hc.mounts = Some(out);
    }
}

/// The Engine API `Mount` for a `--mount` value, as the docker CLI builds it.
fn api_mount(m: &MountSpec) -> Mount {
    let typ = match m.kind {
        MountKind::Bind => MountType::BIND,
        MountKind::Tmpfs => MountType::TMPFS,
        MountKind::Image => MountType::IMAGE,
        MountKind::Volume => MountType::VOLUME,
    };
    let bind_options = (m.kind == MountKind::Bind
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
    let volume_options = (m.kind == MountKind::Volume
        && (m.volume_no_copy
            || !m.volume_labels.is_empty()
            || m.volume_driver.is_some()
            || !m.volume_options.is_empty()
            || m.volume_subpath.is_some()))
    .then(|| MountVolumeOptions {
        no_copy: m.volume_no_copy.then_some(true),
        labels: (!m.volume_labels.is_empty()).then(|| m.volume_labels.clone().into_iter().collect()),
        // The docker CLI always sends a driver config with volume options.
        driver_config: Some(MountVolumeOptionsDriverConfig {
            name: m.volume_driver.clone(),
            options: (!m.volume_options.is_empty()).then(|| m.volume_options.clone().into_iter().collect()),
        }),
        subpath: m.volume_subpath.clone(),
    });
    let tmpfs_options = (m.kind == MountKind::Tmpfs && (m.tmpfs_size.is_some() || m.tmpfs_mode.is_some()))
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
    match MountKind::parse(&m.kind) {
        Some(MountKind::Bind) => {
            judge_bind(h, &asked, Path::new(&m.source));
        }
        Some(MountKind::Volume) => {
            if let Some(facts) = m.name.as_ref().and_then(|n| h.host.volumes.get(n)).cloned() {
                volume::judge(h, &asked, Some(&facts.driver), &facts.options);
            }
        }
        Some(MountKind::Tmpfs | MountKind::Image) => {}
        None => h.refuse(Refusal::never(
            asked,
            format!("a {} mount is not one hardrun can judge", m.kind),
            "mount what it holds directly",
        )),
    }
}
