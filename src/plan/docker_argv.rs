//! The plan as the `docker run` command line that creates the same container, for people
//! who want to paste it or review it. Built from the create body itself, so it says what
//! hardrun sends, not what the user typed.

use bollard::models::{EndpointSettings, HostConfig, MountType};

use super::Plan;
use crate::request::{duration::format_nanos, format_cpus, size::format_bytes};

/// The argv (without the shell quoting). `seccomp_file` is where the seccomp profile the
/// plan sends inline can be read from, since the docker CLI takes a file.
pub fn argv(plan: &Plan, seccomp_file: &str) -> Vec<String> {
    let mut a = Args(vec!["docker".into(), "run".into()]);
    let life = &plan.lifecycle;
    a.switch("-d", life.detach);
    a.switch("-i", life.interactive);
    a.switch("-t", life.tty);
    a.opt("--name", plan.name.as_deref());
    if !life.detach {
        let all_default = life.attach_stdout && life.attach_stderr;
        if !all_default || (life.attach_stdin && !life.interactive) {
            for (on, s) in
                [(life.attach_stdin, "stdin"), (life.attach_stdout, "stdout"), (life.attach_stderr, "stderr")]
            {
                a.switch_val("-a", s, on);
            }
        }
    }
    a.opt("--detach-keys", life.detach_keys.as_deref());
    a.switch("--sig-proxy=false", !life.sig_proxy);
    if life.pull != crate::request::PullPolicy::Missing {
        a.pair("--pull", life.pull.as_str());
    }
    a.switch("-q", life.quiet);
    a.opt("--platform", life.platform.as_deref());

    let c = &plan.create;
    a.opt("--user", c.user.as_deref());
    a.opt("--workdir", c.working_dir.as_deref());
    a.opt("--hostname", c.hostname.as_deref());
    a.opt("--domainname", c.domainname.as_deref());
    for e in c.env.iter().flatten() {
        a.pair("-e", e);
    }
    let mut labels: Vec<_> = c.labels.iter().flatten().collect();
    labels.sort();
    for (k, v) in labels {
        a.pair("--label", &format!("{k}={v}"));
    }
    if let Some(ep) = &c.entrypoint {
        a.pair("--entrypoint", ep.first().map(String::as_str).unwrap_or(""));
    }
    a.opt("--stop-signal", c.stop_signal.as_deref());
    a.opt("--stop-timeout", c.stop_timeout.map(|t| t.to_string()).as_deref());
    if let Some(hc) = &c.healthcheck {
        match hc.test.as_deref() {
            Some([none]) if none == "NONE" => a.0.push("--no-healthcheck".into()),
            test => {
                if let Some([_, cmd]) = test {
                    a.pair("--health-cmd", cmd);
                }
                let d = |v: Option<i64>| v.map(format_nanos);
                a.opt("--health-interval", d(hc.interval).as_deref());
                a.opt("--health-timeout", d(hc.timeout).as_deref());
                a.opt("--health-start-period", d(hc.start_period).as_deref());
                a.opt("--health-start-interval", d(hc.start_interval).as_deref());
                a.opt("--health-retries", hc.retries.map(|r| r.to_string()).as_deref());
            }
        }
    }
    let default_hc = HostConfig::default();
    let hc = c.host_config.as_ref().unwrap_or(&default_hc);
    security(&mut a, hc, seccomp_file);
    resources(&mut a, hc);
    network(&mut a, plan, hc);
    storage(&mut a, plan, hc);
    process(&mut a, hc);
    a.0.push(plan.create.image.clone().unwrap_or_default());
    a.0.extend(c.cmd.iter().flatten().cloned());
    a.0
}

/// Shell-quoted, ready to paste.
pub fn render(plan: &Plan, seccomp_file: &str) -> String {
    argv(plan, seccomp_file).iter().map(|w| quote(w)).collect::<Vec<_>>().join(" ")
}

/// One word for a POSIX shell. A word holding a character a terminal would act on or
/// that displays as something else (control characters, bidi and zero-width format
/// characters: a `\r` could hide the rest of a flag from whoever reviews the line) is
/// written in ANSI-C quoting, `$'...'`, each such character as its UTF-8 bytes in `\xHH`
/// escapes: the line shows what it runs and runs what it shows (bash, zsh, ksh, and
/// POSIX.1-2024 shells). Values from env files and the image can hold them.
fn quote(word: &str) -> std::borrow::Cow<'_, str> {
    use std::fmt::Write as _;
    if !word.chars().any(crate::sanitize::dangerous) {
        return shell_words::quote(word);
    }
    let mut out = String::from("$'");
    for c in word.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            c if crate::sanitize::dangerous(c) => {
                for b in c.encode_utf8(&mut [0u8; 4]).bytes() {
                    let _ = write!(out, "\\x{b:02x}");
                }
            }
            c => out.push(c),
        }
    }
    out.push('\'');
    out.into()
}

struct Args(Vec<String>);

impl Args {
    fn switch(&mut self, flag: &str, on: bool) {
        if on {
            self.0.push(flag.into());
        }
    }

    fn switch_val(&mut self, flag: &str, value: &str, on: bool) {
        if on {
            self.pair(flag, value);
        }
    }

    fn pair(&mut self, flag: &str, value: &str) {
        self.0.push(flag.into());
        self.0.push(value.into());
    }

    fn opt(&mut self, flag: &str, value: Option<&str>) {
        if let Some(v) = value {
            self.pair(flag, v);
        }
    }

    fn list(&mut self, flag: &str, values: Option<&Vec<String>>) {
        for v in values.into_iter().flatten() {
            self.pair(flag, v);
        }
    }
}

fn security(a: &mut Args, hc: &HostConfig, seccomp_file: &str) {
    a.switch("--read-only", hc.readonly_rootfs == Some(true));
    a.list("--cap-drop", hc.cap_drop.as_ref());
    for cap in hc.cap_add.iter().flatten() {
        a.pair("--cap-add", cap.strip_prefix("CAP_").unwrap_or(cap));
    }
    for opt in hc.security_opt.iter().flatten() {
        if let Some(json) = opt.strip_prefix("seccomp=")
            && json.starts_with('{')
        {
            a.pair("--security-opt", &format!("seccomp={seccomp_file}"));
        } else {
            a.pair("--security-opt", opt);
        }
    }
    if let Some(mode) = &hc.cgroupns_mode {
        a.pair("--cgroupns", mode.as_ref());
    }
    a.opt("--ipc", hc.ipc_mode.as_deref());
    a.opt("--runtime", hc.runtime.as_deref());
    let mut sysctls: Vec<_> = hc.sysctls.iter().flatten().collect();
    sysctls.sort();
    for (k, v) in sysctls {
        a.pair("--sysctl", &format!("{k}={v}"));
    }
    a.list("--group-add", hc.group_add.as_ref());
    a.opt("--cgroup-parent", hc.cgroup_parent.as_deref());
}

fn resources(a: &mut Args, hc: &HostConfig) {
    let bytes = |v: Option<i64>| v.map(|b| if b < 0 { b.to_string() } else { format_bytes(b) });
    a.opt("--memory", bytes(hc.memory).as_deref());
    a.opt("--memory-swap", bytes(hc.memory_swap).as_deref());
    a.opt("--memory-reservation", bytes(hc.memory_reservation).as_deref());
    a.opt("--memory-swappiness", hc.memory_swappiness.map(|v| v.to_string()).as_deref());
    a.opt("--cpus", hc.nano_cpus.map(format_cpus).as_deref());
    a.opt("--cpu-period", hc.cpu_period.map(|v| v.to_string()).as_deref());
    a.opt("--cpu-quota", hc.cpu_quota.map(|v| v.to_string()).as_deref());
    a.opt("--cpu-rt-period", hc.cpu_realtime_period.map(|v| v.to_string()).as_deref());
    a.opt("--cpu-rt-runtime", hc.cpu_realtime_runtime.map(|v| v.to_string()).as_deref());
    a.opt("--cpu-shares", hc.cpu_shares.map(|v| v.to_string()).as_deref());
    a.opt("--cpuset-cpus", hc.cpuset_cpus.as_deref());
    a.opt("--cpuset-mems", hc.cpuset_mems.as_deref());
    a.opt("--pids-limit", hc.pids_limit.map(|v| v.to_string()).as_deref());
    for u in hc.ulimits.iter().flatten() {
        let (name, soft, hard) = (u.name.as_deref().unwrap_or_default(), u.soft.unwrap_or(0), u.hard.unwrap_or(0));
        a.pair("--ulimit", &format!("{name}={soft}:{hard}"));
    }
    // Said either way when the body says it, so the line sends what the body sends.
    if let Some(disable) = hc.oom_kill_disable {
        a.0.push(if disable { "--oom-kill-disable" } else { "--oom-kill-disable=false" }.into());
    }
    a.opt("--oom-score-adj", hc.oom_score_adj.map(|v| v.to_string()).as_deref());
    a.opt("--blkio-weight", hc.blkio_weight.map(|v| v.to_string()).as_deref());
    for w in hc.blkio_weight_device.iter().flatten() {
        a.pair(
            "--blkio-weight-device",
            &format!("{}:{}", w.path.as_deref().unwrap_or_default(), w.weight.unwrap_or(0)),
        );
    }
    for (flag, list) in [
        ("--device-read-bps", &hc.blkio_device_read_bps),
        ("--device-write-bps", &hc.blkio_device_write_bps),
        ("--device-read-iops", &hc.blkio_device_read_iops),
        ("--device-write-iops", &hc.blkio_device_write_iops),
    ] {
        for t in list.iter().flatten() {
            a.pair(flag, &format!("{}:{}", t.path.as_deref().unwrap_or_default(), t.rate.unwrap_or(0)));
        }
    }
    a.opt("--shm-size", bytes(hc.shm_size).as_deref());
}

fn network(a: &mut Args, plan: &Plan, hc: &HostConfig) {
    let endpoints = plan.create.networking_config.as_ref().and_then(|n| n.endpoints_config.as_ref());
    match (hc.network_mode.as_deref(), endpoints) {
        (Some("default") | None, None) => {}
        (mode, Some(eps)) => {
            let mut names: Vec<&String> = eps.keys().collect();
            names.sort_by_key(|n| Some(n.as_str()) != mode);
            for (i, name) in names.into_iter().enumerate() {
                endpoint(a, name, &eps[name], i == 0);
            }
        }
        (Some(mode), None) => a.pair("--network", mode),
    }
    for spec in publish_specs(hc) {
        a.pair("-p", &spec);
    }
    let bound: std::collections::HashSet<&String> = hc.port_bindings.iter().flatten().map(|(k, _)| k).collect();
    let exposed = plan.create.exposed_ports.iter().flatten().filter(|p| !bound.contains(p));
    for spec in fold(exposed.filter_map(|k| split_key(k)).map(|(port, proto)| Entry {
        proto,
        ip: String::new(),
        port,
        host: String::new(),
    })) {
        a.pair("--expose", &spec.expose());
    }
    a.switch("-P", hc.publish_all_ports == Some(true));
    a.list("--dns", hc.dns.as_ref());
    a.list("--dns-option", hc.dns_options.as_ref());
    a.list("--dns-search", hc.dns_search.as_ref());
    a.list("--add-host", hc.extra_hosts.as_ref());
    a.list("--link", hc.links.as_ref());
}

/// One `--network`. The docker CLI lowercases every field of the long form, so what case
/// matters in goes elsewhere: the first network's aliases and addresses as the flags that
/// apply to it (`--network-alias`, `--ip`, `--mac-address`...), and its name plain when
/// nothing else needs the long form. Fields are CSV-quoted, as the CLI reads the long form as CSV.
fn endpoint(a: &mut Args, name: &str, ep: &EndpointSettings, first: bool) {
    let ipam = ep.ipam_config.clone().unwrap_or_default();
    let mut spec = vec![format!("name={name}")];
    if first {
        a.list("--network-alias", ep.aliases.as_ref());
        a.opt("--ip", ipam.ipv4_address.as_deref());
        a.opt("--ip6", ipam.ipv6_address.as_deref());
        a.list("--link-local-ip", ipam.link_local_ips.as_ref());
        a.opt("--mac-address", ep.mac_address.as_deref());
    } else {
        spec.extend(ep.aliases.iter().flatten().map(|alias| format!("alias={alias}")));
        spec.extend(ipam.ipv4_address.iter().map(|ip| format!("ip={ip}")));
        spec.extend(ipam.ipv6_address.iter().map(|ip| format!("ip6={ip}")));
        spec.extend(ipam.link_local_ips.iter().flatten().map(|ip| format!("link-local-ip={ip}")));
        spec.extend(ep.mac_address.iter().map(|m| format!("mac-address={m}")));
    }
    let mut opts: Vec<_> = ep.driver_opts.iter().flatten().collect();
    opts.sort();
    spec.extend(opts.into_iter().map(|(k, v)| format!("driver-opt={k}={v}")));
    spec.extend(ep.gw_priority.map(|p| format!("gw-priority={p}")));
    let value = match spec.len() {
        1 => name.to_string(),
        _ => spec.iter().map(|f| csv_field(f)).collect::<Vec<_>>().join(","),
    };
    a.pair("--network", &value);
}

fn storage(a: &mut Args, plan: &Plan, hc: &HostConfig) {
    a.list("-v", hc.binds.as_ref());
    a.list("-v", plan.create.volumes.as_ref());
    a.opt("--volume-driver", hc.volume_driver.as_deref());
    a.list("--volumes-from", hc.volumes_from.as_ref());
    for m in hc.mounts.iter().flatten() {
        let kind = match m.typ {
            Some(MountType::BIND) => "bind",
            Some(MountType::TMPFS) => "tmpfs",
            Some(MountType::IMAGE) => "image",
            _ => "volume",
        };
        let mut spec = vec![format!("type={kind}")];
        spec.extend(m.source.iter().map(|s| format!("source={s}")));
        spec.extend(m.target.iter().map(|t| format!("target={t}")));
        if m.read_only == Some(true) {
            spec.push("readonly".into());
        }
        if let Some(b) = &m.bind_options {
            spec.extend(b.propagation.iter().map(|p| format!("bind-propagation={p}")));
            if b.non_recursive == Some(true) {
                spec.push("bind-recursive=disabled".into());
            }
        }
        if let Some(v) = &m.volume_options {
            if v.no_copy == Some(true) {
                spec.push("volume-nocopy".into());
            }
            if let Some(d) = &v.driver_config {
                spec.extend(d.name.iter().map(|n| format!("volume-driver={n}")));
                let mut opts: Vec<_> = d.options.iter().flatten().collect();
                opts.sort();
                spec.extend(opts.into_iter().map(|(k, v)| format!("volume-opt={k}={v}")));
            }
            spec.extend(v.subpath.iter().map(|s| format!("volume-subpath={s}")));
        }
        if let Some(t) = &m.tmpfs_options {
            spec.extend(t.size_bytes.map(|s| format!("tmpfs-size={s}")));
            spec.extend(t.mode.map(|m| format!("tmpfs-mode={m:o}")));
        }
        let fields: Vec<String> = spec.iter().map(|f| csv_field(f)).collect();
        a.pair("--mount", &fields.join(","));
    }
    let mut tmpfs: Vec<_> = hc.tmpfs.iter().flatten().collect();
    tmpfs.sort();
    for (path, opts) in tmpfs {
        a.pair("--tmpfs", &if opts.is_empty() { path.clone() } else { format!("{path}:{opts}") });
    }
    let mut storage_opts: Vec<_> = hc.storage_opt.iter().flatten().collect();
    storage_opts.sort();
    for (k, v) in storage_opts {
        a.pair("--storage-opt", &format!("{k}={v}"));
    }
}

/// One port of the body: container port, protocol, host address and host port.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Entry {
    proto: String,
    ip: String,
    port: u16,
    host: String,
}

/// A run of consecutive ports, host ports following container ports one for one.
struct Run {
    first: Entry,
    last_port: u16,
    last_host: String,
}

impl Run {
    fn range(first: u16, last: u16) -> String {
        if first == last { first.to_string() } else { format!("{first}-{last}") }
    }

    fn publish(&self) -> String {
        let ports = format!("{}/{}", Run::range(self.first.port, self.last_port), self.first.proto);
        let host = match self.first.host.as_str() {
            "" => String::new(),
            h if self.last_host == h => h.to_string(),
            h => format!("{h}-{}", self.last_host),
        };
        match (self.first.ip.as_str(), host.as_str()) {
            ("", "") => ports,
            ("", h) => format!("{h}:{ports}"),
            (ip, h) if ip.contains(':') => format!("[{ip}]:{h}:{ports}"),
            (ip, h) => format!("{ip}:{h}:{ports}"),
        }
    }

    fn expose(&self) -> String {
        format!("{}/{}", Run::range(self.first.port, self.last_port), self.first.proto)
    }
}

fn split_key(key: &str) -> Option<(u16, String)> {
    let (port, proto) = key.split_once('/').unwrap_or((key, "tcp"));
    Some((port.parse().ok()?, proto.to_string()))
}

/// Folds sorted entries into runs: `-p 1-65535:1-65535` stays one flag, not 65535.
fn fold(entries: impl Iterator<Item = Entry>) -> Vec<Run> {
    let mut entries: Vec<Entry> = entries.collect();
    entries.sort();
    let mut runs: Vec<Run> = Vec::new();
    for e in entries {
        if let Some(run) = runs.last_mut() {
            let next_host = match (run.last_host.parse::<u32>(), e.host.parse::<u32>()) {
                (Ok(last), Ok(host)) => host == last + 1,
                _ => run.last_host.is_empty() && e.host.is_empty(),
            };
            if run.first.proto == e.proto
                && run.first.ip == e.ip
                && u32::from(e.port) == u32::from(run.last_port) + 1
                && next_host
            {
                run.last_port = e.port;
                run.last_host = e.host;
                continue;
            }
        }
        runs.push(Run { last_port: e.port, last_host: e.host.clone(), first: e });
    }
    runs
}

/// The `-p` values for the body's port bindings, folded into ranges.
fn publish_specs(hc: &HostConfig) -> Vec<String> {
    let mut entries = Vec::new();
    for (key, list) in hc.port_bindings.iter().flatten() {
        let Some((port, proto)) = split_key(key) else { continue };
        for b in list.iter().flatten() {
            let ip = b.host_ip.clone().unwrap_or_default();
            let host = b.host_port.clone().unwrap_or_default();
            entries.push(Entry { proto: proto.clone(), ip, port, host });
        }
    }
    fold(entries.into_iter()).iter().map(Run::publish).collect()
}

/// Quotes a `--mount` field the way the docker CLI's CSV reader expects, when needed.
fn csv_field(f: &str) -> String {
    if f.contains([',', '"']) { format!("\"{}\"", f.replace('"', "\"\"")) } else { f.to_string() }
}

fn process(a: &mut Args, hc: &HostConfig) {
    if let Some(r) = &hc.restart_policy {
        let name = r.name.map(|n| n.to_string()).unwrap_or_default();
        if !name.is_empty() && name != "no" {
            match r.maximum_retry_count.filter(|n| *n > 0) {
                Some(n) => a.pair("--restart", &format!("{name}:{n}")),
                None => a.pair("--restart", &name),
            }
        }
    }
    a.switch("--rm", hc.auto_remove == Some(true));
    if let Some(log) = &hc.log_config {
        a.opt("--log-driver", log.typ.as_deref());
        let mut opts: Vec<_> = log.config.iter().flatten().collect();
        opts.sort();
        for (k, v) in opts {
            a.pair("--log-opt", &format!("{k}={v}"));
        }
    }
    if let Some(init) = hc.init {
        a.switch(if init { "--init" } else { "--init=false" }, true);
    }
    a.opt("--cidfile", hc.container_id_file.as_deref());
    let mut annotations: Vec<_> = hc.annotations.iter().flatten().collect();
    annotations.sort();
    for (k, v) in annotations {
        a.pair("--annotation", &format!("{k}={v}"));
    }
}
