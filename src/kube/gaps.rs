//! Controls of a plan that a pod spec cannot carry, said plainly so nobody believes they
//! carried over: per-container pids limits, ulimits, tmpfs mount options, swap, the
//! cgroup namespace, memory reservations and CPU weights, the restart policy of a
//! Deployment, published host addresses, AppArmor loading, the project-folder bind rule.

use bollard::models::{HostConfig, RestartPolicyNameEnum};

use super::Workload;
use crate::cli::{KubeArgs, KubeKind, KubeSeccomp};
use crate::request::size::format_bytes;

/// Gaps of the export as a whole.
pub fn always() -> Vec<String> {
    vec![
        "the bind rule (only the project folder may be bound): pods here mount no host path at all; \
         data lives in PersistentVolumeClaims"
            .into(),
        "AppArmor: hardrun loads its profile next to the daemon; on Kubernetes load it on every node, then set \
         securityContext.appArmorProfile {type: Localhost, localhostProfile: hardrun-default}"
            .into(),
    ]
}

pub fn of(w: &Workload, args: &KubeArgs) -> Vec<String> {
    let default_hc = HostConfig::default();
    let hc = w.plan.create.host_config.as_ref().unwrap_or(&default_hc);
    let mut out = Vec::new();
    if let Some(n) = hc.pids_limit.filter(|n| *n > 0) {
        out.push(format!("pids limit {n}: Kubernetes limits processes per pod only in the kubelet's podPidsLimit"));
    }
    for u in hc.ulimits.iter().flatten() {
        out.push(format!(
            "ulimit {}={}:{}: the container runtime's defaults apply",
            u.name.as_deref().unwrap_or_default(),
            u.soft.unwrap_or(0),
            u.hard.unwrap_or(0)
        ));
    }
    let mut tmpfs: Vec<&String> = hc.tmpfs.iter().flatten().map(|(p, _)| p).collect();
    tmpfs.sort();
    for path in tmpfs {
        out.push(format!("tmpfs {path} noexec,nosuid,nodev: an emptyDir takes no mount options"));
    }
    if let (Some(m), Some(s)) = (hc.memory, hc.memory_swap)
        && m > 0
    {
        let swap = if s == m { "no swap".to_string() } else { format!("memory+swap {}", format_bytes(s)) };
        out.push(format!("{swap}: swap is the node's setting (memorySwap.swapBehavior), not the pod's"));
    }
    if hc.cgroupns_mode.is_some() {
        out.push("private cgroup namespace: Kubernetes gives one on cgroup v2 nodes only".into());
    }
    if let Some(r) = hc.memory_reservation.filter(|r| *r > 0) {
        out.push(format!("memory reservation {} is the memory request (a scheduling hint)", format_bytes(r)));
    }
    for (what, set) in [
        ("CPU shares", hc.cpu_shares.is_some()),
        ("CPU period/quota", hc.cpu_period.is_some() || hc.cpu_quota.is_some()),
        ("cpuset", hc.cpuset_cpus.is_some()),
        ("block I/O weights and throttles", hc.blkio_weight.is_some() || hc.blkio_device_read_bps.is_some()),
        ("OOM score adjustment", hc.oom_score_adj.is_some()),
        ("shm size", hc.shm_size.is_some()),
        ("stop signal", w.plan.create.stop_signal.is_some()),
        ("log driver", hc.log_config.as_ref().is_some_and(|l| l.typ.is_some())),
        ("runtime", hc.runtime.is_some()),
    ] {
        if set {
            out.push(format!("{what}: no pod field"));
        }
    }
    let restart = hc.restart_policy.as_ref().and_then(|p| p.name);
    if args.kind == KubeKind::Deployment && matches!(restart, None | Some(RestartPolicyNameEnum::NO)) {
        out.push("restart no: a Deployment always restarts its pod (use --kind pod)".into());
    }
    for (port, bindings) in hc.port_bindings.iter().flatten() {
        for b in bindings.iter().flatten() {
            let ip = b.host_ip.as_deref().unwrap_or_default();
            let host = b.host_port.as_deref().unwrap_or_default();
            out.push(format!(
                "published {}{host}->{port}: the Service is reachable inside the cluster only; expose it with an \
                 Ingress or a LoadBalancer",
                if ip.is_empty() { String::new() } else { format!("{ip}:") }
            ));
        }
    }
    if args.seccomp == KubeSeccomp::RuntimeDefault {
        out.push(
            "seccomp: the runtime's default profile, looser than hardrun's (--seccomp localhost or operator \
             carries hardrun's)"
                .into(),
        );
    }
    out
}
