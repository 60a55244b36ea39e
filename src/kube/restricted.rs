//! What Pod Security Standards "restricted" forbid in a plan hardrun itself allowed (a
//! profile may allow more than "restricted" does): capabilities other than
//! NET_BIND_SERVICE, host paths, another container's volumes, a user that is not a
//! numeric non-root uid and gid, unsafe sysctls, custom SELinux labels. Each is refused
//! with the rule that forbids it.

use bollard::models::{HostConfig, MountType};

use super::Workload;
use crate::policy::Refusal;
use crate::request::user::UserSpec;

/// The only capability "restricted" lets a container add.
pub const ADDABLE: &str = "NET_BIND_SERVICE";

/// Sysctls Kubernetes counts as safe (namespaced, harmless to neighbours), the only ones
/// "baseline" and "restricted" allow.
pub const SAFE_SYSCTLS: [&str; 10] = [
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
];

/// The numeric uid and gid a plan runs as, when it names both as numbers.
pub fn numeric_user(user: Option<&str>) -> Option<(u32, u32)> {
    let spec = UserSpec::parse(user?).ok()?;
    Some((spec.uid()?, spec.gid()?))
}

pub fn check(w: &Workload) -> Vec<Refusal> {
    let mut out = Vec::new();
    let refuse = |out: &mut Vec<Refusal>, asked: String, why: &str, fix: &str| {
        out.push(Refusal::never(w.said(&asked), format!("Pod Security \"restricted\": {why}"), fix));
    };
    let default_hc = HostConfig::default();
    let hc = w.plan.create.host_config.as_ref().unwrap_or(&default_hc);
    for cap in hc.cap_add.iter().flatten() {
        let name = cap.strip_prefix("CAP_").unwrap_or(cap);
        if name != ADDABLE {
            refuse(
                &mut out,
                format!("capability {name}"),
                "a container may add NET_BIND_SERVICE and no other capability",
                "drop it; give the service what it needs another way (files it owns, a port above 1023)",
            );
        }
    }
    let host_paths = hc
        .binds
        .iter()
        .flatten()
        .filter(|b| b.starts_with('/'))
        .map(|b| b.split(':').next().unwrap_or_default().to_string())
        .chain(
            hc.mounts
                .iter()
                .flatten()
                .filter(|m| m.typ == Some(MountType::BIND))
                .map(|m| m.source.clone().unwrap_or_default()),
        );
    for path in host_paths {
        refuse(
            &mut out,
            format!("bind of {path}"),
            "hostPath volumes are forbidden",
            "use a named volume (a PersistentVolumeClaim) or put the files in a ConfigMap or Secret",
        );
    }
    for from in hc.volumes_from.iter().flatten() {
        refuse(
            &mut out,
            format!("volumes from {from}"),
            "a pod cannot take another pod's volumes",
            "mount the same named volume (PersistentVolumeClaim) in both",
        );
    }
    match numeric_user(w.plan.create.user.as_deref()) {
        Some((0, _)) | Some((_, 0)) => refuse(
            &mut out,
            format!("user {}", w.plan.create.user.as_deref().unwrap_or_default()),
            "pods run as a non-root user (runAsNonRoot, runAsUser not 0), and hardrun also keeps the group non-root",
            "give --user UID:GID with non-zero ids (user: \"UID:GID\" in Compose)",
        ),
        Some(_) => {}
        None => refuse(
            &mut out,
            format!("user {}", w.plan.create.user.as_deref().unwrap_or("(the image's)")),
            "runAsUser and runAsGroup are numbers, and runAsNonRoot can only be proven for a numeric user",
            "give --user UID:GID as numbers (user: \"UID:GID\" in Compose)",
        ),
    }
    for g in hc.group_add.iter().flatten() {
        if g.parse::<u32>().map_or(true, |n| n == 0) {
            refuse(
                &mut out,
                format!("group {g}"),
                "supplementalGroups are non-zero numbers",
                "add the group by its non-zero number",
            );
        }
    }
    for k in hc.sysctls.iter().flatten().map(|(k, _)| k) {
        if !SAFE_SYSCTLS.contains(&k.as_str()) {
            refuse(&mut out, format!("sysctl {k}"), "only the safe sysctls are allowed", "leave it out");
        }
    }
    for opt in hc.security_opt.iter().flatten() {
        if let Some(label) = opt.strip_prefix("label=").or_else(|| opt.strip_prefix("label:")) {
            refuse(
                &mut out,
                format!("SELinux label {label}"),
                "SELinux options other than the container types are forbidden",
                "leave the label to the runtime",
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users() {
        assert_eq!(numeric_user(Some("10001:10001")), Some((10001, 10001)));
        assert_eq!(numeric_user(Some("app:app")), None);
        assert_eq!(numeric_user(Some("1000")), None);
        assert_eq!(numeric_user(None), None);
    }
}
