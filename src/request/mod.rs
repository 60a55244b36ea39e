//! `RunRequest`: what the user asked `docker run` for, in typed docker terms (sizes in
//! bytes, CPUs in nano-CPUs, parsed ports and mounts). Nothing here is a decision: a
//! field is `None` or empty when the user did not ask, so policy can tell an explicit
//! request from a default.

pub mod duration;
pub mod env_file;
pub mod gobool;
pub mod mount;
pub mod namespace;
pub mod network;
pub mod path;
pub mod port;
pub mod restart;
pub mod security_opt;
pub mod size;
pub mod ulimit;
pub mod user;

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::capability::Capability;
pub use mount::{MountKind, MountSpec, VolumeSource, VolumeSpec};
pub use namespace::{NamespaceKind, NamespaceMode};
pub use network::{NetworkAttachment, NetworkMode};
pub use port::{Exposed, PortBinding};
pub use restart::RestartPolicy;
pub use security_opt::{SeccompChoice, SecurityOpt};
pub use ulimit::Ulimit;
pub use user::UserSpec;

/// `--pull missing|always|never`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PullPolicy {
    #[default]
    Missing,
    Always,
    Never,
}

impl PullPolicy {
    pub fn parse(value: &str) -> Result<Self, String> {
        match value {
            "missing" => Ok(PullPolicy::Missing),
            "always" => Ok(PullPolicy::Always),
            "never" => Ok(PullPolicy::Never),
            other => Err(format!("invalid pull policy {other:?} (use missing, always or never)")),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            PullPolicy::Missing => "missing",
            PullPolicy::Always => "always",
            PullPolicy::Never => "never",
        }
    }
}

/// The `--health-*` flags.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Health {
    pub cmd: Option<String>,
    pub interval: Option<i64>,
    pub timeout: Option<i64>,
    pub start_period: Option<i64>,
    pub start_interval: Option<i64>,
    pub retries: Option<i64>,
    pub disabled: bool,
}

impl Health {
    pub fn is_set(&self) -> bool {
        self.cmd.is_some()
            || self.interval.is_some()
            || self.timeout.is_some()
            || self.start_period.is_some()
            || self.start_interval.is_some()
            || self.retries.is_some()
    }
}

/// A `--device-read-bps /dev/sda:1mb`-style throttle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Throttle {
    pub path: String,
    pub rate: i64,
}

/// Everything a `docker run` invocation asks for.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunRequest {
    pub image: String,
    pub command: Vec<String>,

    // Lifecycle: how hardrun drives the container, not what the container is.
    pub detach: bool,
    pub interactive: bool,
    pub tty: bool,
    pub auto_remove: bool,
    pub name: Option<String>,
    pub attach: Vec<String>,
    pub detach_keys: Option<String>,
    pub sig_proxy: Option<bool>,
    pub pull: PullPolicy,
    pub quiet: bool,
    pub platform: Option<String>,
    pub cidfile: Option<PathBuf>,
    pub disable_content_trust: Option<bool>,

    // The process.
    pub env: Vec<String>,
    pub labels: BTreeMap<String, String>,
    pub entrypoint: Option<String>,
    pub workdir: Option<String>,
    pub user: Option<UserSpec>,
    pub group_add: Vec<String>,
    pub hostname: Option<String>,
    pub domainname: Option<String>,
    pub init: Option<bool>,
    pub stop_signal: Option<String>,
    pub stop_timeout: Option<i64>,
    pub restart: Option<RestartPolicy>,
    pub health: Health,
    pub log_driver: Option<String>,
    pub log_opts: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,

    // Isolation.
    pub privileged: Option<bool>,
    pub cap_add: Vec<Capability>,
    pub cap_drop: Vec<Capability>,
    pub security_opts: Vec<SecurityOpt>,
    pub read_only: Option<bool>,
    pub userns: Option<NamespaceMode>,
    pub cgroupns: Option<NamespaceMode>,
    pub pid: Option<NamespaceMode>,
    pub ipc: Option<NamespaceMode>,
    pub uts: Option<NamespaceMode>,
    pub devices: Vec<String>,
    pub device_cgroup_rules: Vec<String>,
    pub gpus: Option<String>,
    pub runtime: Option<String>,
    pub sysctls: BTreeMap<String, String>,
    pub cgroup_parent: Option<String>,
    pub isolation: Option<String>,
    pub use_api_socket: bool,

    // Network.
    pub networks: Vec<NetworkAttachment>,
    pub network_aliases: Vec<String>,
    pub ip: Option<String>,
    pub ip6: Option<String>,
    pub link_local_ips: Vec<String>,
    pub mac_address: Option<String>,
    pub links: Vec<String>,
    pub dns: Vec<String>,
    pub dns_options: Vec<String>,
    pub dns_search: Vec<String>,
    pub add_hosts: Vec<String>,
    pub publish: Vec<PortBinding>,
    pub publish_all: bool,
    pub expose: Vec<Exposed>,

    // Storage.
    pub volumes: Vec<VolumeSpec>,
    pub mounts: Vec<MountSpec>,
    pub tmpfs: Vec<(String, String)>,
    pub volumes_from: Vec<String>,
    pub volume_driver: Option<String>,
    pub storage_opts: BTreeMap<String, String>,
    pub shm_size: Option<i64>,

    // Resources.
    pub memory: Option<i64>,
    pub memory_swap: Option<i64>,
    pub memory_reservation: Option<i64>,
    pub memory_swappiness: Option<i64>,
    pub oom_kill_disable: Option<bool>,
    pub oom_score_adj: Option<i64>,
    pub nano_cpus: Option<i64>,
    pub cpu_shares: Option<i64>,
    pub cpu_period: Option<i64>,
    pub cpu_quota: Option<i64>,
    pub cpu_rt_period: Option<i64>,
    pub cpu_rt_runtime: Option<i64>,
    pub cpuset_cpus: Option<String>,
    pub cpuset_mems: Option<String>,
    pub cpu_count: Option<i64>,
    pub cpu_percent: Option<i64>,
    pub pids_limit: Option<i64>,
    pub blkio_weight: Option<u16>,
    pub blkio_weight_devices: Vec<(String, u16)>,
    pub device_read_bps: Vec<Throttle>,
    pub device_write_bps: Vec<Throttle>,
    pub device_read_iops: Vec<Throttle>,
    pub device_write_iops: Vec<Throttle>,
    pub io_max_bandwidth: Option<i64>,
    pub io_max_iops: Option<i64>,
    pub ulimits: Vec<Ulimit>,

    /// Keys of map-valued flags given more than once (`--log-opt max-size`): the daemon
    /// keeps only the last, so policy refuses them rather than guess which was meant.
    pub repeated_keys: Vec<RepeatedKey>,
}

/// A key given twice to a map-valued flag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepeatedKey {
    pub flag: &'static str,
    pub key: String,
}

impl RunRequest {
    /// Inserts `key=value` into one of the request's maps, last value winning as in the
    /// docker CLI, and records the key when it was there already.
    pub fn insert_keyed(&mut self, flag: &'static str, key: String, value: String, map: MapFlag) {
        let target = match map {
            MapFlag::LogOpt => &mut self.log_opts,
            MapFlag::Annotation => &mut self.annotations,
            MapFlag::Sysctl => &mut self.sysctls,
            MapFlag::StorageOpt => &mut self.storage_opts,
        };
        if target.insert(key.clone(), value).is_some() {
            self.repeated_keys.push(RepeatedKey { flag, key });
        }
    }
}

/// The request's map-valued flags whose repeated keys are recorded.
#[derive(Debug, Clone, Copy)]
pub enum MapFlag {
    LogOpt,
    Annotation,
    Sysctl,
    StorageOpt,
}

/// Parses `--cpus 1.5` into nano-CPUs exactly (docker refuses more than 9 decimals).
pub fn parse_nano_cpus(value: &str) -> Result<i64, String> {
    let bad = || format!("invalid --cpus {value:?} (expected a number such as 0.5 or 2)");
    let (negative, digits) = match value.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, value.strip_prefix('+').unwrap_or(value)),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    if (whole.is_empty() && fraction.is_empty())
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !fraction.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(bad());
    }
    let fraction = fraction.trim_end_matches('0');
    if fraction.len() > 9 {
        return Err(format!("invalid --cpus {value:?}: value is too precise"));
    }
    let whole: i64 = if whole.is_empty() { 0 } else { whole.parse().map_err(|_| bad())? };
    let frac: i64 = format!("{fraction:0<9}").parse().map_err(|_| bad())?;
    let nanos = whole.checked_mul(1_000_000_000).and_then(|w| w.checked_add(frac)).ok_or_else(bad)?;
    Ok(if negative { -nanos } else { nanos })
}

/// Formats nano-CPUs back into the `--cpus` spelling.
pub fn format_cpus(nanos: i64) -> String {
    let whole = nanos / 1_000_000_000;
    let frac = (nanos % 1_000_000_000).abs();
    if frac == 0 {
        return whole.to_string();
    }
    let frac = format!("{frac:09}");
    format!("{whole}.{}", frac.trim_end_matches('0'))
}

/// Splits `KEY=VALUE` (the value may be empty), as docker's map-valued flags do.
pub fn key_value(flag: &str, value: &str) -> Result<(String, String), String> {
    match value.split_once('=') {
        Some(("", _)) => Err(format!("{flag} {value:?}: the key is empty")),
        Some((k, v)) => Ok((k.to_string(), v.to_string())),
        None => Err(format!("{flag} {value:?}: expected KEY=VALUE")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpus() {
        assert_eq!(parse_nano_cpus("1.5"), Ok(1_500_000_000));
        assert_eq!(parse_nano_cpus("0.5"), Ok(500_000_000));
        assert_eq!(parse_nano_cpus(".25"), Ok(250_000_000));
        assert_eq!(parse_nano_cpus("2"), Ok(2_000_000_000));
        assert_eq!(parse_nano_cpus("0"), Ok(0));
        assert_eq!(parse_nano_cpus("-1"), Ok(-1_000_000_000));
        assert!(parse_nano_cpus("0.0000000001").is_err());
        assert!(parse_nano_cpus("1e3").is_err());
        assert!(parse_nano_cpus("99999999999999").is_err());
        assert_eq!(format_cpus(1_500_000_000), "1.5");
        assert_eq!(format_cpus(2_000_000_000), "2");
    }
}
