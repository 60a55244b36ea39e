//! Resource limits: memory (swap equal to memory), CPUs, pids and ulimits, each from the
//! flag when it stays under the profile's ceiling, else from the profile's default.
//! Zero and negative values mean "unlimited" to docker and are judged as such.

use bollard::models::{ResourcesUlimits, ThrottleDevice};

use super::{Hardening, Refusal};
use crate::plan::Source;
use crate::profile::schema::UNLIMITED;
use crate::request::{format_cpus, size::format_bytes};

pub(super) fn apply(h: &mut Hardening) {
    let memory = memory(h);
    swap(h, memory);
    cpus(h);
    pids(h);
    ulimits(h);
    pass_through(h, memory);
}

fn over_ceiling(asked: String, what: &str, max: String, key: &str) -> Refusal {
    Refusal::unless(
        asked,
        format!("it is above this profile's ceiling for {what} ({max}), so one container could starve the host"),
        format!("ask for {max} or less"),
        key,
    )
}

fn unlimited(asked: String, what: &str, key: &str) -> Refusal {
    Refusal::unless(
        asked,
        format!("it removes the {what} limit, so one container can starve the host"),
        format!("give a finite {what} limit"),
        key,
    )
}

/// The final memory limit in bytes (0 when unlimited).
fn memory(h: &mut Hardening) -> i64 {
    let limit = h.profile.resources.memory;
    let (value, source) = match h.req.memory {
        Some(0) if !limit.allows_unlimited() => {
            h.refuse(unlimited("--memory 0".into(), "memory", "resources.memory.max"));
            return 0;
        }
        Some(m) if m > 0 && !limit.within(m) => {
            let max = format_bytes(limit.max.unwrap_or_default());
            h.refuse(over_ceiling(format!("--memory {}", format_bytes(m)), "memory", max, "resources.memory.max"));
            return 0;
        }
        Some(m) => (m, Hardening::flag(format!("--memory {}", format_bytes(m)))),
        None => match limit.default {
            Some(d) if d != UNLIMITED => (d, h.profile_source("resources.memory.default")),
            _ => (0, h.profile_source("resources.memory.default")),
        },
    };
    h.decide("memory", if value > 0 { format_bytes(value) } else { "unlimited".into() }, source);
    if value > 0 {
        h.hc.memory = Some(value);
    }
    value
}

fn swap(h: &mut Hardening, memory: i64) {
    let max = h.profile.resources.swap_max;
    let asked = h.req.memory_swap;
    if memory == 0 {
        if let Some(s) = asked.filter(|s| *s > 0) {
            h.hc.memory_swap = Some(s);
        }
        return;
    }
    let total = match asked {
        // 0 is docker's "unset": the hardened default applies.
        None | Some(0) => memory,
        Some(-1) if max == UNLIMITED => -1,
        Some(-1) => {
            h.refuse(unlimited("--memory-swap -1".into(), "swap", "resources.swap.max"));
            return;
        }
        Some(s) if s < memory => {
            h.refuse(Refusal::never(
                format!("--memory-swap {}", format_bytes(s)),
                format!(
                    "it counts memory plus swap, so it cannot be below the memory limit ({})",
                    format_bytes(memory)
                ),
                "leave --memory-swap out (swap equal to memory: no swap), or raise it with --memory",
            ));
            return;
        }
        Some(s) if max != UNLIMITED && s - memory > max => {
            let allowed = if max == 0 { "none".into() } else { format_bytes(max) };
            h.refuse(Refusal::unless(
                format!("--memory-swap {}", format_bytes(s)),
                format!("it allows {} of swap, more than this profile's {allowed}", format_bytes(s - memory)),
                "leave --memory-swap out (swap equal to memory: no swap)",
                "resources.swap.max",
            ));
            return;
        }
        Some(s) => s,
    };
    let source = match asked {
        Some(s) if s != 0 => {
            Hardening::flag(format!("--memory-swap {}", if s < 0 { "-1".into() } else { format_bytes(s) }))
        }
        _ => h.profile_source("resources.swap.max"),
    };
    let shown = match total {
        -1 => "unlimited".to_string(),
        t if t == memory => "none (memory+swap equals memory)".to_string(),
        t => format_bytes(t - memory),
    };
    h.decide("swap", shown, source);
    h.hc.memory_swap = Some(total);
}

fn cpus(h: &mut Hardening) {
    let limit = h.profile.resources.cpus;
    let req = h.req;
    if req.cpu_rt_runtime.is_some() || req.cpu_rt_period.is_some() {
        if h.allows_flag("cpu-rt-runtime") {
            h.hc.cpu_realtime_runtime = req.cpu_rt_runtime;
            h.hc.cpu_realtime_period = req.cpu_rt_period;
        } else {
            h.refuse(Refusal::unless(
                "--cpu-rt-runtime/--cpu-rt-period",
                "realtime scheduling lets the container starve every other process on its CPUs",
                "use --cpus or --cpu-shares",
                "allow_flags: [cpu-rt-runtime]",
            ));
        }
    }
    let ceiling = |h: &mut Hardening, asked: String, nanos: i64| -> bool {
        if nanos <= 0 {
            if !limit.allows_unlimited() {
                h.refuse(unlimited(asked, "CPU", "resources.cpus.max"));
                return false;
            }
        } else if !limit.within(nanos) {
            let max = format_cpus(limit.max.unwrap_or_default());
            h.refuse(over_ceiling(asked, "CPUs", max, "resources.cpus.max"));
            return false;
        }
        true
    };
    // The quota/period form is exclusive with NanoCpus in the Engine API.
    if req.cpu_quota.is_some() || req.cpu_period.is_some() {
        let period = req.cpu_period.filter(|p| *p > 0).unwrap_or(100_000);
        let quota = match req.cpu_quota {
            Some(q) => {
                let nanos = if q > 0 { q.saturating_mul(1_000_000_000) / period } else { 0 };
                if !ceiling(h, format!("--cpu-quota {q}"), nanos) {
                    return;
                }
                h.decide(
                    "cpus",
                    if q > 0 { format_cpus(nanos) } else { "unlimited".into() },
                    Hardening::flag(format!("--cpu-quota {q}")),
                );
                q
            }
            None => {
                let nanos = limit.default.filter(|d| *d > 0).unwrap_or(0);
                let src = h.profile_source("resources.cpus.default");
                h.decide("cpus", format_cpus(nanos), src);
                nanos.saturating_mul(period) / 1_000_000_000
            }
        };
        h.hc.cpu_period = req.cpu_period;
        if quota != 0 {
            h.hc.cpu_quota = Some(quota);
        }
        return;
    }
    let (nanos, source): (i64, Source) = match req.nano_cpus {
        Some(n) => {
            if !ceiling(h, format!("--cpus {}", format_cpus(n)), n) {
                return;
            }
            (n, Hardening::flag(format!("--cpus {}", format_cpus(n))))
        }
        None => (limit.default.filter(|d| *d > 0).unwrap_or(0), h.profile_source("resources.cpus.default")),
    };
    h.decide("cpus", if nanos > 0 { format_cpus(nanos) } else { "unlimited".into() }, source);
    if nanos > 0 {
        h.hc.nano_cpus = Some(nanos);
    }
}

fn pids(h: &mut Hardening) {
    let limit = h.profile.resources.pids;
    let (value, source) = match h.req.pids_limit {
        Some(n) if n <= 0 => {
            h.refuse(Refusal::never(
                format!("--pids-limit {n}"),
                "it removes the process limit, so a fork bomb in the container takes the host down",
                format!("give a finite limit (this profile allows up to {})", limit.max.unwrap_or_default()),
            ));
            return;
        }
        Some(n) if !limit.within(n) => {
            h.refuse(over_ceiling(
                format!("--pids-limit {n}"),
                "processes",
                limit.max.unwrap_or_default().to_string(),
                "resources.pids.max",
            ));
            return;
        }
        Some(n) => (n, Hardening::flag(format!("--pids-limit {n}"))),
        None => (limit.default.unwrap_or(256), h.profile_source("resources.pids.default")),
    };
    h.decide("pids", value.to_string(), source);
    h.hc.pids_limit = Some(value);
}

/// Ulimits: an allow-list with ceilings. A resource the profile sets no ceiling for is
/// refused (`rtprio`, `core`... each has its own way to reach past the container).
fn ulimits(h: &mut Hardening) {
    let rules = h.profile.resources.ulimits.clone();
    let mut out: Vec<ResourcesUlimits> = Vec::new();
    for u in &h.req.ulimits {
        let asked = format!("--ulimit {u}");
        let key_max = format!("resources.ulimits.{}.max", u.name);
        let Some(rule) = rules.iter().find(|r| r.name == u.name) else {
            h.refuse(Refusal::unless(
                asked,
                format!("this profile sets no ceiling for {}, so it cannot tell how far is safe", u.name),
                "leave it out",
                &key_max,
            ));
            continue;
        };
        if u.hard == -1 || u.soft == -1 {
            h.refuse(unlimited(asked, u.name, &key_max));
            continue;
        }
        if u.hard > rule.max || u.soft > rule.max {
            h.refuse(over_ceiling(asked, u.name, rule.max.to_string(), &key_max));
            continue;
        }
        h.decide(
            &format!("ulimit {}", u.name),
            format!("{}:{}", u.soft, u.hard),
            Hardening::flag(format!("--ulimit {u}")),
        );
        out.push(ResourcesUlimits { name: Some(u.name.into()), soft: Some(u.soft), hard: Some(u.hard) });
    }
    for rule in &rules {
        let Some((soft, hard)) = rule.default else { continue };
        if h.req.ulimits.iter().any(|u| u.name == rule.name) {
            continue;
        }
        let source = h.profile_source(&format!("resources.ulimits.{}.soft", rule.name));
        h.decide(&format!("ulimit {}", rule.name), format!("{soft}:{hard}"), source);
        out.push(ResourcesUlimits { name: Some(rule.name.into()), soft: Some(soft), hard: Some(hard) });
    }
    if !out.is_empty() {
        h.hc.ulimits = Some(out);
    }
}

/// Limits that only tighten or tune, kept as asked; and the few that loosen.
fn pass_through(h: &mut Hardening, memory: i64) {
    let req = h.req;
    if req.oom_kill_disable == Some(true) && memory == 0 {
        h.refuse(Refusal::never(
            "--oom-kill-disable",
            "without a memory limit the container can then take all host memory and never be killed",
            "set --memory as well, or leave the OOM killer on",
        ));
    }
    if let Some(adj) = req.oom_score_adj.filter(|a| *a < 0)
        && !h.allows_flag("oom-score-adj")
    {
        h.refuse(Refusal::unless(
            format!("--oom-score-adj {adj}"),
            "a negative score makes the kernel kill host processes before this container",
            "leave the score at 0 or raise it",
            "allow_flags: [oom-score-adj]",
        ));
    }
    let throttles = |v: &[crate::request::Throttle]| {
        (!v.is_empty())
            .then(|| v.iter().map(|t| ThrottleDevice { path: Some(t.path.clone()), rate: Some(t.rate) }).collect())
    };
    let hc = &mut h.hc;
    hc.oom_kill_disable = req.oom_kill_disable;
    hc.oom_score_adj = req.oom_score_adj;
    hc.memory_reservation = req.memory_reservation;
    hc.memory_swappiness = req.memory_swappiness;
    hc.cpu_shares = req.cpu_shares;
    hc.cpuset_cpus = req.cpuset_cpus.clone();
    hc.cpuset_mems = req.cpuset_mems.clone();
    hc.cpu_count = req.cpu_count;
    hc.cpu_percent = req.cpu_percent;
    hc.blkio_weight = req.blkio_weight;
    hc.blkio_weight_device = (!req.blkio_weight_devices.is_empty()).then(|| {
        req.blkio_weight_devices
            .iter()
            .map(|(p, w)| bollard::models::ResourcesBlkioWeightDevice {
                path: Some(p.clone()),
                weight: Some(*w as usize),
            })
            .collect()
    });
    hc.blkio_device_read_bps = throttles(&req.device_read_bps);
    hc.blkio_device_write_bps = throttles(&req.device_write_bps);
    hc.blkio_device_read_iops = throttles(&req.device_read_iops);
    hc.blkio_device_write_iops = throttles(&req.device_write_iops);
    hc.io_maximum_bandwidth = req.io_max_bandwidth;
    hc.io_maximum_iops = req.io_max_iops;
    hc.shm_size = req.shm_size;
}
