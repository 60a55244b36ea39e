//! The hardened Compose file: each service written from its Plan (the create body
//! hardrun judged: resolved bind paths, numeric user, limits, the seccomp profile as a
//! file), plus what is Compose's own (depends_on, profiles, networks by key). Every `$`
//! is escaped so Compose reads back exactly these values, and the YAML is written so
//! docker-compose 1.x (YAML 1.1) and `docker compose` (YAML 1.2) read the same.

use bollard::models::{ContainerCreateBody, HostConfig, Mount, MountType, RestartPolicyNameEnum};
use serde_yaml::{Mapping, Number, Value};

use super::{Project, Service, interpolate};
use crate::plan::Plan;
use crate::request::duration::format_nanos;
use crate::request::user::UserSpec;

/// Which Compose reads the file: docker-compose 1.x lacks a few keys (`cgroup`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// docker-compose 1.27–1.29 (the Compose specification without the newer keys).
    V1,
    /// `docker compose` (v2).
    V2,
}

/// A control the file cannot carry for this Compose, to say so rather than pretend.
pub fn gaps(dialect: Dialect) -> Vec<String> {
    match dialect {
        Dialect::V1 => vec![
            "docker-compose 1.x has no key for the cgroup namespace, so the daemon's default applies \
             (hardrun run asks for a private one); `docker compose` v2 takes cgroup: private"
                .into(),
        ],
        Dialect::V2 => Vec::new(),
    }
}

/// The hardened document. `seccomp_file` is where a plan's seccomp profile is on disk.
pub fn document(
    project: &Project,
    hardened: &[(Service, Plan)],
    seccomp_file: &dyn Fn(&Plan) -> String,
    dialect: Dialect,
) -> Value {
    let mut services = Mapping::new();
    for (svc, plan) in hardened {
        services.insert(svc.name.clone().into(), Value::Mapping(service(project, svc, plan, seccomp_file, dialect)));
    }
    let mut doc = Mapping::new();
    doc.insert("services".into(), Value::Mapping(services));
    let used_default = hardened.iter().any(|(s, _)| s.networks.iter().any(|n| n == "default"));
    let mut networks = project.networks.clone();
    if used_default && !networks.contains_key("default") {
        let mut def = Mapping::new();
        def.insert("driver".into(), "bridge".into());
        networks.insert("default".into(), Value::Mapping(def));
    }
    if !networks.is_empty() {
        doc.insert("networks".into(), Value::Mapping(networks));
    }
    if !project.volumes.is_empty() {
        doc.insert("volumes".into(), Value::Mapping(project.volumes.clone()));
    }
    for (k, v) in &project.extensions {
        doc.insert(k.clone(), v.clone());
    }
    let mut doc = Value::Mapping(doc);
    interpolate::escape(&mut doc);
    doc
}

struct Out(Mapping);

impl Out {
    fn put(&mut self, key: &str, v: impl Into<Value>) {
        self.0.insert(key.into(), v.into());
    }

    fn opt(&mut self, key: &str, v: Option<impl Into<Value>>) {
        if let Some(v) = v {
            self.put(key, v);
        }
    }

    fn list(&mut self, key: &str, items: Option<&Vec<String>>) {
        if let Some(items) = items.filter(|i| !i.is_empty()) {
            self.put(key, strings(items));
        }
    }
}

fn strings(items: &[String]) -> Value {
    Value::Sequence(items.iter().map(|s| Value::String(s.clone())).collect())
}

fn bytes(b: i64) -> Value {
    let text = crate::request::size::format_bytes(b);
    // docker-compose 1.x takes k, m and g; anything else is written in bytes.
    match text.ends_with(['k', 'm', 'g']) {
        true => Value::String(text),
        false => Value::Number(b.into()),
    }
}

fn service(
    project: &Project,
    svc: &Service,
    plan: &Plan,
    seccomp_file: &dyn Fn(&Plan) -> String,
    d: Dialect,
) -> Mapping {
    let c: &ContainerCreateBody = &plan.create;
    let default_hc = HostConfig::default();
    let hc = c.host_config.as_ref().unwrap_or(&default_hc);
    let mut o = Out(Mapping::new());
    o.opt("image", c.image.clone());
    if let Some(b) = svc.kept.get("build") {
        o.put("build", b.clone());
    }
    o.opt("container_name", plan.name.clone());
    if let Some(ep) = &c.entrypoint {
        o.put("entrypoint", strings(ep));
    }
    if let Some(cmd) = &c.cmd {
        o.put("command", strings(cmd));
    }
    o.opt("working_dir", c.working_dir.clone());
    o.opt("user", c.user.clone());
    o.list("group_add", hc.group_add.as_ref());
    if let Some(env) = c.env.as_ref().filter(|e| !e.is_empty()) {
        let mut m = Mapping::new();
        for e in env {
            match e.split_once('=') {
                Some((k, v)) => m.insert(k.into(), v.into()),
                None => m.insert(e.clone().into(), Value::Null),
            };
        }
        o.put("environment", Value::Mapping(m));
    }
    if let Some(labels) = &c.labels {
        let mut sorted: Vec<_> = labels.iter().collect();
        sorted.sort();
        o.put(
            "labels",
            Value::Mapping(sorted.into_iter().map(|(k, v)| (k.clone().into(), v.clone().into())).collect()),
        );
    }
    o.opt("hostname", c.hostname.clone());
    o.opt("domainname", c.domainname.clone());

    // The controls.
    o.list("cap_drop", hc.cap_drop.as_ref());
    o.list("cap_add", hc.cap_add.as_ref());
    o.opt("read_only", hc.readonly_rootfs);
    if let Some(opts) = &hc.security_opt {
        let opts: Vec<String> = opts
            .iter()
            .map(|opt| match opt.strip_prefix("seccomp=") {
                Some(json) if json.starts_with('{') => format!("seccomp={}", seccomp_file(plan)),
                _ => opt.clone(),
            })
            .collect();
        o.list("security_opt", Some(&opts));
    }
    o.opt("ipc", hc.ipc_mode.clone());
    o.opt("pid", hc.pid_mode.clone());
    o.opt("uts", hc.uts_mode.clone());
    o.opt("userns_mode", hc.userns_mode.clone());
    if d == Dialect::V2 {
        o.opt("cgroup", hc.cgroupns_mode.map(|m| m.as_ref().to_string()));
    }
    o.opt("cgroup_parent", hc.cgroup_parent.clone());
    o.opt("runtime", hc.runtime.clone());
    o.opt("mem_limit", hc.memory.map(bytes));
    o.opt("memswap_limit", hc.memory_swap.map(|s| if s < 0 { Value::from(s) } else { bytes(s) }));
    o.opt("mem_reservation", hc.memory_reservation.map(bytes));
    o.opt("mem_swappiness", hc.memory_swappiness);
    o.opt("cpus", hc.nano_cpus.map(|n| n as f64 / 1e9));
    o.opt("cpu_shares", hc.cpu_shares);
    o.opt("cpu_period", hc.cpu_period);
    o.opt("cpu_quota", hc.cpu_quota);
    o.opt("cpu_rt_period", hc.cpu_realtime_period);
    o.opt("cpu_rt_runtime", hc.cpu_realtime_runtime);
    o.opt("cpuset", hc.cpuset_cpus.clone());
    o.opt("pids_limit", hc.pids_limit);
    if let Some(ulimits) = hc.ulimits.as_ref().filter(|u| !u.is_empty()) {
        let mut m = Mapping::new();
        for u in ulimits {
            let mut sh = Mapping::new();
            sh.insert("soft".into(), u.soft.unwrap_or(0).into());
            sh.insert("hard".into(), u.hard.unwrap_or(0).into());
            m.insert(u.name.clone().unwrap_or_default().into(), Value::Mapping(sh));
        }
        o.put("ulimits", Value::Mapping(m));
    }
    o.opt("oom_kill_disable", hc.oom_kill_disable.filter(|d| *d));
    o.opt("oom_score_adj", hc.oom_score_adj);
    o.opt("shm_size", hc.shm_size.map(bytes));
    blkio(&mut o, hc);
    o.opt("sysctls", hc.sysctls.as_ref().map(sorted_map));
    o.opt("storage_opt", hc.storage_opt.as_ref().map(sorted_map));

    storage(&mut o, plan, hc);
    network(&mut o, project, svc, hc);

    o.opt(
        "restart",
        hc.restart_policy.as_ref().and_then(|p| {
            let name = match p.name? {
                RestartPolicyNameEnum::ALWAYS => "always",
                RestartPolicyNameEnum::UNLESS_STOPPED => "unless-stopped",
                RestartPolicyNameEnum::ON_FAILURE => {
                    return Some(match p.maximum_retry_count.filter(|n| *n > 0) {
                        Some(n) => format!("on-failure:{n}"),
                        None => "on-failure".into(),
                    });
                }
                _ => return None,
            };
            Some(name.to_string())
        }),
    );
    o.opt("stop_signal", c.stop_signal.clone());
    o.opt("stop_grace_period", c.stop_timeout.map(|s| format!("{s}s")));
    o.opt("init", hc.init);
    o.opt("tty", c.tty.filter(|t| *t));
    o.opt("stdin_open", c.open_stdin.filter(|t| *t));
    healthcheck(&mut o, svc, c);
    if let Some(log) = &hc.log_config {
        let mut m = Mapping::new();
        if let Some(t) = &log.typ {
            m.insert("driver".into(), t.clone().into());
        }
        if let Some(opts) = &log.config {
            m.insert("options".into(), sorted_map(opts));
        }
        o.put("logging", Value::Mapping(m));
    }
    o.opt("platform", plan.lifecycle.platform.clone());
    match plan.lifecycle.pull {
        crate::request::PullPolicy::Always => o.put("pull_policy", "always"),
        crate::request::PullPolicy::Never => o.put("pull_policy", "never"),
        crate::request::PullPolicy::Missing => {}
    }
    for (k, v) in &svc.kept {
        if k.as_str() != Some("build") {
            o.0.insert(k.clone(), v.clone());
        }
    }
    o.0
}

fn sorted_map(m: &std::collections::HashMap<String, String>) -> Value {
    let mut items: Vec<_> = m.iter().collect();
    items.sort();
    Value::Mapping(items.into_iter().map(|(k, v)| (k.clone().into(), v.clone().into())).collect())
}

fn blkio(o: &mut Out, hc: &HostConfig) {
    let mut m = Mapping::new();
    if let Some(w) = hc.blkio_weight {
        m.insert("weight".into(), w.into());
    }
    let devices = |list: &Option<Vec<bollard::models::ThrottleDevice>>| -> Option<Value> {
        let list = list.as_ref().filter(|l| !l.is_empty())?;
        Some(Value::Sequence(
            list.iter()
                .map(|t| {
                    let mut d = Mapping::new();
                    d.insert("path".into(), t.path.clone().unwrap_or_default().into());
                    d.insert("rate".into(), t.rate.unwrap_or(0).into());
                    Value::Mapping(d)
                })
                .collect(),
        ))
    };
    for (key, list) in [
        ("device_read_bps", &hc.blkio_device_read_bps),
        ("device_write_bps", &hc.blkio_device_write_bps),
        ("device_read_iops", &hc.blkio_device_read_iops),
        ("device_write_iops", &hc.blkio_device_write_iops),
    ] {
        if let Some(v) = devices(list) {
            m.insert(key.into(), v);
        }
    }
    if let Some(weights) = hc.blkio_weight_device.as_ref().filter(|w| !w.is_empty()) {
        let items = weights
            .iter()
            .map(|w| {
                let mut d = Mapping::new();
                d.insert("path".into(), w.path.clone().unwrap_or_default().into());
                d.insert("weight".into(), w.weight.unwrap_or(0).into());
                Value::Mapping(d)
            })
            .collect();
        m.insert("weight_device".into(), Value::Sequence(items));
    }
    if !m.is_empty() {
        o.put("blkio_config", Value::Mapping(m));
    }
}

/// tmpfs mounts owned by the service's user (Compose's long syntax cannot say so), binds
/// by their resolved paths, named and anonymous volumes, and `--mount` ones
/// (`volumes_from` is written as the service wrote it).
fn storage(o: &mut Out, plan: &Plan, hc: &HostConfig) {
    let user = plan.create.user.as_deref().and_then(|u| UserSpec::parse(u).ok());
    if let Some(tmpfs) = hc.tmpfs.as_ref().filter(|t| !t.is_empty()) {
        let mut items: Vec<String> = tmpfs.iter().map(|(path, opts)| tmpfs_entry(path, opts, user.as_ref())).collect();
        items.sort();
        o.list("tmpfs", Some(&items));
    }
    let mut volumes: Vec<Value> = hc.binds.iter().flatten().map(|b| Value::String(b.clone())).collect();
    volumes.extend(plan.create.volumes.iter().flatten().map(|t| Value::String(t.clone())));
    volumes.extend(hc.mounts.iter().flatten().map(long_mount));
    if !volumes.is_empty() {
        o.put("volumes", Value::Sequence(volumes));
    }
}

fn tmpfs_entry(path: &str, options: &str, user: Option<&UserSpec>) -> String {
    let mut opts: Vec<String> = options.split(',').filter(|o| !o.is_empty()).map(str::to_string).collect();
    let has = |opts: &[String], k: &str| opts.iter().any(|o| o.starts_with(&format!("{k}=")));
    if let Some(uid) = user.and_then(UserSpec::uid).filter(|_| !has(&opts, "uid")) {
        opts.push(format!("uid={uid}"));
    }
    if let Some(gid) = user.and_then(UserSpec::gid).filter(|_| !has(&opts, "gid")) {
        opts.push(format!("gid={gid}"));
    }
    if opts.is_empty() { path.to_string() } else { format!("{path}:{}", opts.join(",")) }
}

fn long_mount(m: &Mount) -> Value {
    let mut v = Mapping::new();
    let kind = match m.typ {
        Some(MountType::BIND) => "bind",
        Some(MountType::TMPFS) => "tmpfs",
        _ => "volume",
    };
    v.insert("type".into(), kind.into());
    if let Some(s) = &m.source {
        v.insert("source".into(), s.clone().into());
    }
    v.insert("target".into(), m.target.clone().unwrap_or_default().into());
    if m.read_only == Some(true) {
        v.insert("read_only".into(), true.into());
    }
    if let Some(p) = m.bind_options.as_ref().and_then(|b| b.propagation) {
        let mut b = Mapping::new();
        b.insert("propagation".into(), p.as_ref().to_string().into());
        v.insert("bind".into(), Value::Mapping(b));
    }
    if let Some(vo) = &m.volume_options {
        let mut opts = Mapping::new();
        if vo.no_copy == Some(true) {
            opts.insert("nocopy".into(), true.into());
        }
        if let Some(s) = &vo.subpath {
            opts.insert("subpath".into(), s.clone().into());
        }
        if !opts.is_empty() {
            v.insert("volume".into(), Value::Mapping(opts));
        }
    }
    if let Some(size) = m.tmpfs_options.as_ref().and_then(|t| t.size_bytes) {
        let mut t = Mapping::new();
        t.insert("size".into(), size.into());
        v.insert("tmpfs".into(), Value::Mapping(t));
    }
    Value::Mapping(v)
}

/// The Compose networks by key (Compose names them for the project, and the plan may
/// hold a network by the ID the daemon resolved it to), with the endpoint settings the
/// service asked for; or the mode. Ports as `[IP:]HOST:CONTAINER/PROTO`.
fn network(o: &mut Out, project: &Project, svc: &Service, hc: &HostConfig) {
    if svc.networks.is_empty() {
        o.opt("network_mode", hc.network_mode.clone());
    } else {
        let mut nets = Mapping::new();
        for key in &svc.networks {
            let real = project.network_name(key);
            let mut m = Mapping::new();
            if let Some(a) = svc.req.networks.iter().find(|a| a.name == real) {
                if !a.aliases.is_empty() {
                    m.insert("aliases".into(), strings(&a.aliases));
                }
                for (k, v) in [("ipv4_address", &a.ipv4), ("ipv6_address", &a.ipv6)] {
                    if let Some(ip) = v {
                        m.insert(k.into(), ip.clone().into());
                    }
                }
                if !a.link_local_ips.is_empty() {
                    m.insert("link_local_ips".into(), strings(&a.link_local_ips));
                }
            }
            nets.insert(key.clone().into(), if m.is_empty() { Value::Null } else { Value::Mapping(m) });
        }
        o.put("networks", Value::Mapping(nets));
    }
    // As the request has them (ranges stay ranges); the plan binds exactly these.
    let ports: Vec<String> = svc.req.publish.iter().map(|p| p.to_string()).collect();
    o.list("ports", Some(&ports));
    let expose: Vec<String> = svc.req.expose.iter().map(|e| format!("{}/{}", e.ports, e.proto)).collect();
    o.list("expose", Some(&expose));
    o.list("dns", hc.dns.as_ref());
    o.list("dns_opt", hc.dns_options.as_ref());
    o.list("dns_search", hc.dns_search.as_ref());
    o.list("extra_hosts", hc.extra_hosts.as_ref());
    o.list("links", hc.links.as_ref());
    o.opt("mac_address", svc.req.mac_address.clone());
}

fn healthcheck(o: &mut Out, svc: &Service, c: &ContainerCreateBody) {
    let Some(h) = &c.healthcheck else { return };
    let mut m = Mapping::new();
    let test = match (&svc.health_exec, &h.test) {
        (Some(args), _) => Some([vec!["CMD".to_string()], args.clone()].concat()),
        (None, t) => t.clone(),
    };
    if let Some(t) = test {
        m.insert("test".into(), strings(&t));
    }
    let d = |v: Option<i64>| v.map(|n| Value::String(format_nanos(n)));
    for (k, v) in [
        ("interval", d(h.interval)),
        ("timeout", d(h.timeout)),
        ("start_period", d(h.start_period)),
        ("start_interval", d(h.start_interval)),
        ("retries", h.retries.map(|r| Value::Number(Number::from(r)))),
    ] {
        if let Some(v) = v {
            m.insert(k.into(), v);
        }
    }
    o.put("healthcheck", Value::Mapping(m));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tmpfs_belongs_to_the_service_user() {
        let u = UserSpec::parse("10001:10001").unwrap();
        assert_eq!(tmpfs_entry("/tmp", "size=64m", Some(&u)), "/tmp:size=64m,uid=10001,gid=10001");
        assert_eq!(tmpfs_entry("/run", "uid=5", Some(&u)), "/run:uid=5,gid=10001");
        assert_eq!(tmpfs_entry("/run", "", None), "/run");
        let named = UserSpec::parse("app").unwrap();
        assert_eq!(tmpfs_entry("/run", "", Some(&named)), "/run");
    }

    #[test]
    fn sizes_compose_1_reads() {
        assert_eq!(bytes(512 << 20), Value::from("512m"));
        assert_eq!(bytes(1 << 40), Value::from(1i64 << 40));
        assert_eq!(bytes(1000), Value::from(1000));
    }
}
