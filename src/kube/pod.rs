//! A plan as a pod spec meeting "restricted": the container's command, environment,
//! ports and health check; a non-root numeric user at pod and container level, no
//! privilege escalation, capabilities dropped (NET_BIND_SERVICE the only add), the
//! seccomp profile, a read-only root, limits and requests; tmpfs as memory-backed
//! emptyDirs with a size limit, named volumes as PersistentVolumeClaims.

use std::collections::BTreeMap;

use bollard::models::{HostConfig, MountType, RestartPolicyNameEnum};
use k8s_openapi::api::core::v1::{
    Capabilities, Container, ContainerPort, EmptyDirVolumeSource, EnvVar, ExecAction, HostAlias, PersistentVolumeClaim,
    PersistentVolumeClaimSpec, PersistentVolumeClaimVolumeSource, PodDNSConfig, PodDNSConfigOption, PodSecurityContext,
    PodSpec, Probe, ResourceRequirements, SecurityContext, Sysctl, Volume, VolumeMount, VolumeResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::restricted::{ADDABLE, numeric_user};
use super::seccomp::Choice;
use super::{Workload, dns_label};
use crate::cli::KubeKind;

/// The size of a tmpfs that did not give one (docker's would be half the host's memory).
pub const DEFAULT_TMPFS: &str = "64Mi";
/// What each PersistentVolumeClaim asks for.
pub const CLAIM_SIZE: &str = "1Gi";

pub struct Built {
    pub spec: PodSpec,
    /// PersistentVolumeClaims by name.
    pub claims: Vec<(String, PersistentVolumeClaim)>,
    pub annotations: BTreeMap<String, String>,
    pub notes: Vec<String>,
}

/// Bytes as a Kubernetes quantity (`512Mi`).
pub fn memory(bytes: i64) -> Quantity {
    for (unit, size) in [("Ti", 1i64 << 40), ("Gi", 1 << 30), ("Mi", 1 << 20), ("Ki", 1 << 10)] {
        if bytes >= size && bytes % size == 0 {
            return Quantity(format!("{}{unit}", bytes / size));
        }
    }
    Quantity(bytes.to_string())
}

/// Nano-CPUs as a Kubernetes quantity (`1`, `500m`), never below what was asked.
pub fn cpu(nanos: i64) -> Quantity {
    if nanos % 1_000_000_000 == 0 {
        Quantity((nanos / 1_000_000_000).to_string())
    } else {
        Quantity(format!("{}m", nanos.saturating_add(999_999) / 1_000_000))
    }
}

fn seconds(nanos: Option<i64>) -> Option<i32> {
    nanos
        .filter(|n| *n > 0)
        .map(|n| i32::try_from(n.saturating_add(999_999_999) / 1_000_000_000).unwrap_or(i32::MAX).max(1))
}

/// A qualified name Kubernetes takes as an annotation or label key.
pub fn qualified_name(key: &str) -> bool {
    let (prefix, name) = match key.rsplit_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    let name_ok = !name.is_empty()
        && name.len() <= 63
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    let prefix_ok = prefix.is_none_or(|p| {
        !p.is_empty() && p.len() <= 253 && p.split('.').all(|l| !l.is_empty() && l == dns_label(l) && l.len() <= 63)
    });
    name_ok && prefix_ok
}

pub fn build(w: &Workload, seccomp: &Choice, kind: KubeKind) -> Built {
    let c = &w.plan.create;
    let default_hc = HostConfig::default();
    let hc = c.host_config.as_ref().unwrap_or(&default_hc);
    let mut notes = Vec::new();
    let (uid, gid) = numeric_user(c.user.as_deref()).unwrap_or((65532, 65532));
    let (uid, gid) = (i64::from(uid), i64::from(gid));

    let mut volumes = Vec::new();
    let mut mounts = Vec::new();
    let mut claims = Vec::new();
    storage(hc, c.volumes.as_deref().unwrap_or_default(), &mut volumes, &mut mounts, &mut claims, &mut notes);

    let add: Vec<String> = hc
        .cap_add
        .iter()
        .flatten()
        .map(|cap| cap.strip_prefix("CAP_").unwrap_or(cap).to_string())
        .filter(|cap| cap == ADDABLE)
        .collect();
    let env: Vec<EnvVar> = c
        .env
        .iter()
        .flatten()
        .filter_map(|e| e.split_once('='))
        .map(|(k, v)| EnvVar { name: k.to_string(), value: Some(v.to_string()), value_from: None })
        .collect();
    let mut ports: Vec<ContainerPort> = c
        .exposed_ports
        .iter()
        .flatten()
        .filter_map(|p| {
            let (port, proto) = p.split_once('/').unwrap_or((p, "tcp"));
            Some(ContainerPort {
                container_port: port.parse().ok()?,
                protocol: Some(proto.to_ascii_uppercase()),
                ..Default::default()
            })
        })
        .collect();
    ports.sort_by_key(|p| p.container_port);
    let mut limits = BTreeMap::new();
    let mut requests = BTreeMap::new();
    if let Some(m) = hc.memory.filter(|m| *m > 0) {
        limits.insert("memory".to_string(), memory(m));
        requests.insert("memory".to_string(), memory(hc.memory_reservation.filter(|r| *r > 0 && *r <= m).unwrap_or(m)));
    }
    if let Some(n) = hc.nano_cpus.filter(|n| *n > 0) {
        limits.insert("cpu".to_string(), cpu(n));
        requests.insert("cpu".to_string(), cpu(n));
    }
    if c.entrypoint.as_ref().is_some_and(|e| e.iter().all(String::is_empty)) {
        notes.push("--entrypoint \"\" (no entrypoint) has no counterpart: the image's entrypoint stays".into());
    }
    let container = Container {
        name: dns_label(&w.name),
        image: c.image.clone(),
        command: c.entrypoint.clone().filter(|e| !e.iter().all(String::is_empty)),
        args: c.cmd.clone(),
        working_dir: c.working_dir.clone(),
        env: (!env.is_empty()).then_some(env),
        ports: (!ports.is_empty()).then_some(ports),
        resources: (!limits.is_empty()).then(|| ResourceRequirements {
            limits: Some(limits),
            requests: Some(requests),
            ..Default::default()
        }),
        security_context: Some(SecurityContext {
            allow_privilege_escalation: Some(false),
            privileged: Some(false),
            read_only_root_filesystem: Some(hc.readonly_rootfs == Some(true)),
            run_as_non_root: Some(true),
            run_as_user: Some(uid),
            run_as_group: Some(gid),
            capabilities: Some(Capabilities { drop: Some(vec!["ALL".into()]), add: (!add.is_empty()).then_some(add) }),
            ..Default::default()
        }),
        readiness_probe: probe(w),
        volume_mounts: (!mounts.is_empty()).then_some(mounts),
        tty: c.tty.filter(|t| *t),
        stdin: c.open_stdin.filter(|t| *t),
        ..Default::default()
    };

    let groups: Vec<i64> = hc.group_add.iter().flatten().filter_map(|g| g.parse().ok()).collect();
    let sysctls: Vec<Sysctl> = {
        let mut s: Vec<Sysctl> =
            hc.sysctls.iter().flatten().map(|(k, v)| Sysctl { name: k.clone(), value: v.clone() }).collect();
        s.sort_by(|a, b| a.name.cmp(&b.name));
        s
    };
    let restart = match (kind, hc.restart_policy.as_ref().and_then(|p| p.name)) {
        (KubeKind::Deployment, _) => "Always",
        (KubeKind::Pod, Some(RestartPolicyNameEnum::ALWAYS | RestartPolicyNameEnum::UNLESS_STOPPED)) => "Always",
        (KubeKind::Pod, Some(RestartPolicyNameEnum::ON_FAILURE)) => "OnFailure",
        (KubeKind::Pod, _) => "Never",
    };
    let spec = PodSpec {
        containers: vec![container],
        automount_service_account_token: Some(false),
        enable_service_links: Some(false),
        restart_policy: Some(restart.into()),
        termination_grace_period_seconds: c.stop_timeout,
        hostname: c.hostname.clone().filter(|h| *h == dns_label(h)),
        host_aliases: host_aliases(hc),
        dns_config: dns(hc),
        dns_policy: hc.dns.as_ref().filter(|d| !d.is_empty()).map(|_| "None".to_string()),
        security_context: Some(PodSecurityContext {
            run_as_non_root: Some(true),
            run_as_user: Some(uid),
            run_as_group: Some(gid),
            fs_group: Some(gid),
            supplemental_groups: (!groups.is_empty()).then_some(groups),
            seccomp_profile: Some(seccomp.for_pod(w)),
            sysctls: (!sysctls.is_empty()).then_some(sysctls),
            ..Default::default()
        }),
        volumes: (!volumes.is_empty()).then_some(volumes),
        ..Default::default()
    };
    let mut annotations = BTreeMap::new();
    let mut dropped = Vec::new();
    for (k, v) in c.labels.iter().flatten() {
        if qualified_name(k) {
            annotations.insert(k.clone(), v.clone());
        } else {
            dropped.push(k.clone());
        }
    }
    if !dropped.is_empty() {
        dropped.sort();
        notes.push(format!("labels {} are not valid annotation keys and were left out", dropped.join(", ")));
    }
    Built { spec, claims, annotations, notes }
}

/// tmpfs mounts, named and anonymous volumes. Binds were refused before.
fn storage(
    hc: &HostConfig,
    anonymous: &[String],
    volumes: &mut Vec<Volume>,
    mounts: &mut Vec<VolumeMount>,
    claims: &mut Vec<(String, PersistentVolumeClaim)>,
    notes: &mut Vec<String>,
) {
    let mut tmpfs: Vec<(&String, &String)> = hc.tmpfs.iter().flatten().collect();
    tmpfs.sort();
    let mut in_memory = |path: &str, size: Option<Quantity>, read_only: bool, volumes: &mut Vec<Volume>| {
        let name = format!("tmpfs-{}", volumes.len());
        volumes.push(Volume {
            name: name.clone(),
            empty_dir: Some(EmptyDirVolumeSource {
                medium: Some("Memory".into()),
                size_limit: Some(size.unwrap_or_else(|| Quantity(DEFAULT_TMPFS.into()))),
            }),
            ..Default::default()
        });
        mounts.push(VolumeMount {
            name,
            mount_path: path.to_string(),
            read_only: read_only.then_some(true),
            ..Default::default()
        });
    };
    for (path, options) in tmpfs {
        let opts: Vec<&str> = options.split(',').collect();
        let size =
            opts.iter().find_map(|o| o.strip_prefix("size=")).and_then(crate::request::size::parse_bytes).map(memory);
        in_memory(path, size, opts.contains(&"ro"), volumes);
    }
    for m in hc.mounts.iter().flatten().filter(|m| m.typ == Some(MountType::TMPFS)) {
        let size = m.tmpfs_options.as_ref().and_then(|t| t.size_bytes).map(memory);
        in_memory(m.target.as_deref().unwrap_or_default(), size, m.read_only == Some(true), volumes);
    }
    let mut named =
        |name: Option<&str>, target: &str, read_only: bool, sub_path: Option<String>, vols: &mut Vec<Volume>| {
            let volume_name = format!("data-{}", vols.len());
            let source = match name {
                Some(n) => {
                    let claim = dns_label(n);
                    if !claims.iter().any(|(c, _)| *c == claim) {
                        claims.push((claim.clone(), claim_object(&claim)));
                        notes.push(format!(
                            "volume {n} is the PersistentVolumeClaim {claim} ({CLAIM_SIZE}; adjust its size)"
                        ));
                    }
                    Volume {
                        name: volume_name.clone(),
                        persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                            claim_name: claim,
                            read_only: None,
                        }),
                        ..Default::default()
                    }
                }
                None => Volume {
                    name: volume_name.clone(),
                    empty_dir: Some(EmptyDirVolumeSource::default()),
                    ..Default::default()
                },
            };
            vols.push(source);
            mounts.push(VolumeMount {
                name: volume_name,
                mount_path: target.to_string(),
                read_only: read_only.then_some(true),
                sub_path,
                ..Default::default()
            });
        };
    for b in hc.binds.iter().flatten().filter(|b| !b.starts_with('/')) {
        let parts: Vec<&str> = b.split(':').collect();
        let read_only = parts.get(2).is_some_and(|m| m.split(',').any(|o| o == "ro"));
        named(parts.first().copied(), parts.get(1).copied().unwrap_or_default(), read_only, None, volumes);
    }
    for target in anonymous {
        named(None, target, false, None, volumes);
    }
    for m in hc.mounts.iter().flatten().filter(|m| m.typ == Some(MountType::VOLUME)) {
        let sub = m.volume_options.as_ref().and_then(|o| o.subpath.clone());
        named(m.source.as_deref(), m.target.as_deref().unwrap_or_default(), m.read_only == Some(true), sub, volumes);
    }
}

fn claim_object(name: &str) -> PersistentVolumeClaim {
    PersistentVolumeClaim {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            labels: Some(BTreeMap::from([("app.kubernetes.io/managed-by".to_string(), "hardrun".to_string())])),
            ..Default::default()
        },
        spec: Some(PersistentVolumeClaimSpec {
            access_modes: Some(vec!["ReadWriteOnce".into()]),
            resources: Some(VolumeResourceRequirements {
                requests: Some(BTreeMap::from([("storage".to_string(), Quantity(CLAIM_SIZE.into()))])),
                ..Default::default()
            }),
            ..Default::default()
        }),
        status: None,
    }
}

/// The health check as a readiness probe (what Compose's `service_healthy` waits for).
fn probe(w: &Workload) -> Option<Probe> {
    let h = w.plan.create.healthcheck.as_ref()?;
    let command = match (w.health_exec, h.test.as_deref()) {
        (Some(args), _) => args.to_vec(),
        (None, Some([kind, line])) if kind == "CMD-SHELL" => vec!["/bin/sh".into(), "-c".into(), line.clone()],
        (None, Some([kind, args @ ..])) if kind == "CMD" && !args.is_empty() => args.to_vec(),
        _ => return None,
    };
    Some(Probe {
        exec: Some(ExecAction { command: Some(command) }),
        period_seconds: seconds(h.interval),
        timeout_seconds: seconds(h.timeout),
        initial_delay_seconds: seconds(h.start_period),
        failure_threshold: h.retries.filter(|r| *r > 0).and_then(|r| i32::try_from(r).ok()),
        ..Default::default()
    })
}

fn host_aliases(hc: &HostConfig) -> Option<Vec<HostAlias>> {
    let mut by_ip: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for entry in hc.extra_hosts.iter().flatten() {
        if let Some((host, ip)) = entry.split_once(':') {
            by_ip.entry(ip.to_string()).or_default().push(host.to_string());
        }
    }
    (!by_ip.is_empty())
        .then(|| by_ip.into_iter().map(|(ip, hostnames)| HostAlias { ip, hostnames: Some(hostnames) }).collect())
}

fn dns(hc: &HostConfig) -> Option<PodDNSConfig> {
    let list = |v: &Option<Vec<String>>| v.clone().filter(|l| !l.is_empty());
    let options = list(&hc.dns_options).map(|opts| {
        opts.iter()
            .map(|o| {
                let (name, value) = o.split_once(':').map_or((o.as_str(), None), |(n, v)| (n, Some(v.to_string())));
                PodDNSConfigOption { name: Some(name.to_string()), value }
            })
            .collect()
    });
    let config = PodDNSConfig { nameservers: list(&hc.dns), searches: list(&hc.dns_search), options };
    (config != PodDNSConfig::default()).then_some(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities() {
        assert_eq!(memory(512 << 20).0, "512Mi");
        assert_eq!(memory(1 << 30).0, "1Gi");
        assert_eq!(memory(1000).0, "1000");
        assert_eq!(cpu(2_000_000_000).0, "2");
        assert_eq!(cpu(500_000_000).0, "500m");
        assert_eq!(cpu(1_500_000).0, "2m");
    }

    #[test]
    fn annotation_keys() {
        for ok in ["org.hardrun.profile", "example.com/key", "a", "com.docker.compose.project"] {
            assert!(qualified_name(ok), "{ok}");
        }
        for bad in ["", "-x", "x-", "a b", "/x", "Bad_Prefix/x", &"a".repeat(64)] {
            assert!(!qualified_name(bad), "{bad}");
        }
    }
}
