//! A Compose service as the `RunRequest` `hardrun run` would build for it. Each Compose
//! key becomes the docker-run flag with the same meaning and goes through that flag's
//! own parser (the flag table in `run_args`), so Compose and the command line are judged
//! alike. Every flag records the key it came from, so a refusal names
//! `services.db.privileged` rather than `--privileged`. A key hardrun does not know is a
//! problem, never dropped.

use serde_yaml::{Mapping, Value};

use super::interpolate::Lookup;
use super::merge::{as_mapping, scalar_text};
use super::{Problem, Project};
use crate::policy::Refusal;
use crate::request::RunRequest;
use crate::run_args::{self, flag::Context};

/// Compose keys kept as written in the hardened file: they are Compose's own business
/// (ordering, selection, scaling), not the container's.
const KEPT: [&str; 4] = ["depends_on", "profiles", "scale", "attach"];

/// Where one flag of the request came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The docker-run flag's long name.
    pub flag: &'static str,
    /// The Compose key (`services.web.volumes[1]`).
    pub key: String,
    /// The value as given to the flag.
    pub value: String,
}

/// One service, translated.
#[derive(Debug, Clone, Default)]
pub struct Service {
    pub name: String,
    pub req: RunRequest,
    /// `x-hardrun: {profile: NAME}`.
    pub profile: Option<String>,
    pub origins: Vec<Origin>,
    /// A `["CMD", ...]` health check, kept in exec form (the request holds it as a shell line).
    pub health_exec: Option<Vec<String>>,
    /// Compose-only keys carried over as written (depends_on, profiles, build, deploy...).
    pub kept: Mapping,
    /// The Compose networks it joins, by key, in order; empty with `network_mode`.
    pub networks: Vec<String>,
    /// Named volumes it mounts, by Compose key.
    pub volumes: Vec<String>,
}

/// The translation of every service, in file order.
pub fn project(p: &Project, lookup: Lookup) -> (Vec<Service>, Vec<Problem>) {
    let mut problems = Vec::new();
    let mut out = Vec::new();
    for (name, def) in &p.services {
        match service(p, name, def, lookup) {
            Ok(s) => out.push(s),
            Err(mut e) => problems.append(&mut e),
        }
    }
    (out, problems)
}

/// One service being translated; `storage` and `net` translate their keys into it too.
pub(super) struct Translation<'a> {
    pub project: &'a Project,
    ctx: Context<'a>,
    pub svc: Service,
    problems: Vec<Problem>,
    command: Option<Vec<String>>,
    entrypoint: Option<Vec<String>>,
    /// The environment as `env_file` and `environment` make it, in order.
    pub env: Vec<(String, Option<String>)>,
}

/// One service.
pub fn service(p: &Project, name: &str, def: &Mapping, lookup: Lookup) -> Result<Service, Vec<Problem>> {
    let mut t = Translation {
        project: p,
        ctx: Context { cwd: &p.dir, env: lookup },
        svc: Service { name: name.to_string(), ..Service::default() },
        problems: Vec::new(),
        command: None,
        entrypoint: None,
        env: Vec::new(),
    };
    if !valid_service_name(name) {
        t.problem("", "a service name uses letters, digits, . _ and - only, starting with a letter or digit");
    }
    // env_file first: `environment` overrides what it sets.
    if let Some(v) = def.get("env_file") {
        t.env_file(v);
    }
    if def.contains_key("network_mode") && def.contains_key("networks") {
        t.problem("network_mode", "network_mode and networks cannot be used together (Compose refuses it too)");
    }
    for (k, v) in def {
        let key = k.as_str().unwrap_or_default();
        // deploy last: its resource limits must not silently repeat the service's own keys.
        if key != "deploy" {
            t.key(key, v);
        }
    }
    if let Some(v) = def.get("deploy") {
        t.key("deploy", v);
    }
    t.finish(def);
    if t.problems.is_empty() { Ok(t.svc) } else { Err(t.problems) }
}

fn valid_service_name(name: &str) -> bool {
    name.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
}

impl Translation<'_> {
    pub(super) fn path(&self, key: &str) -> String {
        match key {
            "" => format!("services.{}", self.svc.name),
            k => format!("services.{}.{k}", self.svc.name),
        }
    }

    pub(super) fn problem(&mut self, key: &str, why: impl Into<String>) {
        let path = self.path(key);
        self.problems.push(Problem::new(&path, why));
    }

    /// `--long value` through the flag table, recorded as coming from `key`.
    pub(super) fn flag(&mut self, long: &'static str, value: &str, key: &str) {
        match run_args::apply(&mut self.svc.req, long, value, &self.ctx) {
            Ok(()) => {
                let key = self.path(key);
                self.svc.origins.push(Origin { flag: long, key, value: value.to_string() });
            }
            Err(e) => self.problem(key, e),
        }
    }

    pub(super) fn switch(&mut self, long: &'static str, v: &Value, key: &str) {
        if let Some(b) = self.boolean(v, key) {
            self.flag(long, if b { "true" } else { "false" }, key);
        }
    }

    /// A boolean as either Compose reads it: YAML's, or a string (after interpolation)
    /// in any spelling docker-compose 1.x or 2.x takes.
    pub(super) fn boolean(&mut self, v: &Value, key: &str) -> Option<bool> {
        let parsed = match v {
            Value::Bool(b) => Some(*b),
            Value::String(s) => match s.to_ascii_lowercase().as_str() {
                "true" | "yes" | "y" | "on" | "1" | "t" => Some(true),
                "false" | "no" | "n" | "off" | "0" | "f" => Some(false),
                _ => None,
            },
            _ => None,
        };
        if parsed.is_none() {
            self.problem(key, format!("expected true or false, not {}", shown(v)));
        }
        parsed
    }

    /// A scalar's text (numbers as written).
    pub(super) fn text(&mut self, v: &Value, key: &str) -> Option<String> {
        match v {
            Value::String(_) | Value::Number(_) | Value::Bool(_) => Some(scalar_text(v)),
            _ => {
                self.problem(key, format!("expected a single value, not {}", shown(v)));
                None
            }
        }
    }

    /// A string or a list of scalars.
    pub(super) fn list(&mut self, v: &Value, key: &str) -> Vec<String> {
        match v {
            Value::Null => Vec::new(),
            Value::Sequence(items) => {
                let mut out = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    if let Some(t) = self.text(item, &format!("{key}[{i}]")) {
                        out.push(t);
                    }
                }
                out
            }
            other => self.text(other, key).into_iter().collect(),
        }
    }

    /// A command: a list as is, a string split as a POSIX shell would.
    pub(super) fn argv(&mut self, v: &Value, key: &str) -> Option<Vec<String>> {
        match v {
            Value::Null => None,
            Value::String(s) => match shell_words::split(s) {
                Ok(words) => Some(words),
                Err(e) => {
                    self.problem(key, format!("cannot split {s:?} into words: {e}"));
                    None
                }
            },
            other => Some(self.list(other, key)),
        }
    }

    pub(super) fn each(&mut self, long: &'static str, v: &Value, key: &str) {
        for (i, item) in self.list(v, key).into_iter().enumerate() {
            let k = if matches!(v, Value::Sequence(_)) { format!("{key}[{i}]") } else { key.to_string() };
            self.flag(long, &item, &k);
        }
    }

    pub(super) fn map_flag(&mut self, long: &'static str, v: &Value, key: &str, sep: char) {
        for (k, val) in as_mapping(v.clone(), key) {
            let name = scalar_text(&k);
            match val {
                Value::Null => self.flag(long, &name, &format!("{key}.{name}")),
                other => {
                    if let Some(t) = self.text(&other, &format!("{key}.{name}")) {
                        self.flag(long, &format!("{name}{sep}{t}"), &format!("{key}.{name}"));
                    }
                }
            }
        }
    }

    fn key(&mut self, key: &str, v: &Value) {
        let single = |long: &'static str| Some(long);
        let one = match key {
            "image" => {
                if let Some(t) = self.text(v, key) {
                    self.svc.req.image = t.clone();
                    self.svc.origins.push(Origin { flag: "image", key: self.path(key), value: t });
                }
                None
            }
            "user" => single("user"),
            "working_dir" => single("workdir"),
            "hostname" => single("hostname"),
            "domainname" => single("domainname"),
            "stop_signal" => single("stop-signal"),
            "userns_mode" => single("userns"),
            "uts" => single("uts"),
            "cgroup" => single("cgroupns"),
            "cgroup_parent" => single("cgroup-parent"),
            "runtime" => single("runtime"),
            "isolation" => single("isolation"),
            "platform" => single("platform"),
            "mac_address" => single("mac-address"),
            "container_name" => single("name"),
            "mem_limit" => single("memory"),
            "memswap_limit" => single("memory-swap"),
            "mem_reservation" => single("memory-reservation"),
            "mem_swappiness" => single("memory-swappiness"),
            "shm_size" => single("shm-size"),
            "oom_score_adj" => single("oom-score-adj"),
            "cpus" => single("cpus"),
            "cpu_shares" => single("cpu-shares"),
            "cpu_period" => single("cpu-period"),
            "cpu_quota" => single("cpu-quota"),
            "cpuset" => single("cpuset-cpus"),
            "cpu_count" => single("cpu-count"),
            "cpu_percent" => single("cpu-percent"),
            "pids_limit" => single("pids-limit"),
            "pid" | "ipc" => {
                // `service:NAME` is Compose's spelling of another container's namespace.
                if let Some(t) = self.text(v, key) {
                    let t = t.strip_prefix("service:").map_or(t.clone(), |s| format!("container:{s}"));
                    self.flag(if key == "pid" { "pid" } else { "ipc" }, &t, key);
                }
                None
            }
            "cpu_rt_period" | "cpu_rt_runtime" => {
                if let Some(us) = self.microseconds(v, key) {
                    self.flag(if key == "cpu_rt_period" { "cpu-rt-period" } else { "cpu-rt-runtime" }, &us, key);
                }
                None
            }
            "stop_grace_period" => {
                if let Some(t) = self.text(v, key) {
                    match crate::request::duration::parse_nanos(&t) {
                        Some(n) => self.flag(
                            "stop-timeout",
                            &n.saturating_add(999_999_999).div_euclid(1_000_000_000).to_string(),
                            key,
                        ),
                        None => self.problem(key, format!("invalid duration {t:?} (e.g. 10s, 1m30s)")),
                    }
                }
                None
            }
            "restart" => {
                let text = match v {
                    Value::Bool(false) => Some("no".to_string()),
                    other => self.text(other, key),
                };
                if let Some(t) = text {
                    self.flag("restart", &t, key);
                }
                None
            }
            "privileged" => return self.switch("privileged", v, key),
            "read_only" => return self.switch("read-only", v, key),
            "tty" => return self.switch("tty", v, key),
            "stdin_open" => return self.switch("interactive", v, key),
            "init" => return self.switch("init", v, key),
            "oom_kill_disable" => return self.switch("oom-kill-disable", v, key),
            "cap_add" => return self.each("cap-add", v, key),
            "cap_drop" => return self.each("cap-drop", v, key),
            "security_opt" => return self.each("security-opt", v, key),
            "device_cgroup_rules" => return self.each("device-cgroup-rule", v, key),
            "dns" => return self.each("dns", v, key),
            "dns_search" => return self.each("dns-search", v, key),
            "dns_opt" => return self.each("dns-option", v, key),
            "expose" => return self.each("expose", v, key),
            "ports" => return self.ports(v),
            "tmpfs" => return self.each("tmpfs", v, key),
            "group_add" => return self.each("group-add", v, key),
            "links" | "external_links" => return self.each("link", v, key),
            "labels" => return self.map_flag("label", v, key, '='),
            "annotations" => return self.map_flag("annotation", v, key, '='),
            "sysctls" => return self.map_flag("sysctl", v, key, '='),
            "storage_opt" => return self.map_flag("storage-opt", v, key, '='),
            "extra_hosts" => return self.map_flag("add-host", v, key, ':'),
            "environment" => return self.environment(v),
            "env_file" => None,
            "command" => {
                self.command = self.argv(v, key);
                None
            }
            "entrypoint" => {
                self.entrypoint = self.argv(v, key);
                None
            }
            "devices" => return self.devices(v),
            "gpus" => {
                self.flag("gpus", "all", key);
                None
            }
            "ulimits" => return self.ulimits(v),
            "healthcheck" => return self.healthcheck(v),
            "logging" => return self.logging(v),
            "blkio_config" => return self.blkio(v),
            "volumes" => return super::storage::volumes(self, v),
            "volumes_from" => return self.volumes_from(v),
            "secrets" | "configs" => return super::storage::secrets(self, key, v),
            "network_mode" => return super::net::mode(self, v),
            "networks" => return super::net::attach(self, v),
            "pull_policy" => {
                if let Some(t) = self.text(v, key) {
                    match t.as_str() {
                        "if_not_present" => self.flag("pull", "missing", key),
                        "build" => {
                            self.svc.kept.insert(key.into(), v.clone());
                        }
                        other => self.flag("pull", other, key),
                    }
                }
                None
            }
            "build" => return self.build(v),
            "deploy" => return self.deploy(v),
            "x-hardrun" => return self.hardrun(v),
            k if k.starts_with("x-") || KEPT.contains(&k) => {
                self.svc.kept.insert(key.into(), v.clone());
                None
            }
            "extends" => {
                self.problem(key, "extends was not resolved");
                None
            }
            other => {
                let path = self.path(other);
                self.problems.push(Problem::with_fix(
                    &path,
                    "hardrun does not know this Compose key and refuses what it cannot judge",
                    "remove it, or say it with the keys docs/compose.md lists",
                ));
                None
            }
        };
        if let Some(long) = one
            && let Some(t) = self.text(v, key)
        {
            self.flag(long, &t, key);
        }
    }

    fn ports(&mut self, v: &Value) {
        let Value::Sequence(items) = v else {
            return self.problem("ports", "ports is a list");
        };
        for (i, item) in items.iter().enumerate() {
            let key = format!("ports[{i}]");
            let spec = match item {
                Value::Mapping(m) => {
                    let get = |k: &str| m.get(k).map(scalar_text).filter(|s| !s.is_empty());
                    if let Some(other) = m.keys().filter_map(Value::as_str).find(|k| {
                        !["target", "published", "host_ip", "protocol", "mode", "name", "app_protocol"].contains(k)
                    }) {
                        self.problem(&format!("{key}.{other}"), "not a port key hardrun knows");
                        continue;
                    }
                    let Some(target) = get("target") else {
                        self.problem(&key, "a port needs a target");
                        continue;
                    };
                    let host = match (get("host_ip"), get("published")) {
                        (Some(ip), p) if ip.contains(':') => format!("[{ip}]:{}:", p.unwrap_or_default()),
                        (Some(ip), p) => format!("{ip}:{}:", p.unwrap_or_default()),
                        (None, Some(p)) => format!("{p}:"),
                        (None, None) => String::new(),
                    };
                    let proto = get("protocol").map(|p| format!("/{p}")).unwrap_or_default();
                    format!("{host}{target}{proto}")
                }
                other => match self.text(other, &key) {
                    Some(t) => t,
                    None => continue,
                },
            };
            self.flag("publish", &spec, &key);
        }
    }

    fn volumes_from(&mut self, v: &Value) {
        for (i, item) in self.list(v, "volumes_from").into_iter().enumerate() {
            // `service:NAME`, `container:NAME` or a bare service name, then `:ro`/`:rw`.
            let spec = item.strip_prefix("service:").or_else(|| item.strip_prefix("container:")).unwrap_or(&item);
            self.flag("volumes-from", spec, &format!("volumes_from[{i}]"));
        }
        // Judged as the containers it names; written back in Compose's own spelling.
        self.svc.kept.insert("volumes_from".into(), v.clone());
    }

    /// `build`: kept for Compose to build with, but a build runs outside hardrun's policy,
    /// so what would give the build itself the host's network, privileges, keys or files
    /// is refused.
    fn build(&mut self, v: &Value) {
        const SAFE: [&str; 13] = [
            "context",
            "dockerfile",
            "dockerfile_inline",
            "args",
            "target",
            "labels",
            "cache_from",
            "tags",
            "platforms",
            "shm_size",
            "extra_hosts",
            "no_cache",
            "pull",
        ];
        if let Value::Mapping(m) = v {
            for (k, val) in m {
                let name = scalar_text(k);
                let key = format!("build.{name}");
                match name.as_str() {
                    n if SAFE.contains(&n) => {}
                    "network" if matches!(val.as_str(), Some("default" | "none" | "bridge")) => {}
                    "network" => self.problem(&key, format!("a build on network {} is outside hardrun's network rules", shown(val))),
                    _ => self.problem(
                        &key,
                        "hardrun does not let a build have this (privileges, the host's network, keys, secrets or                          other contexts reach the build, which runs outside hardrun's policy); build the image                          yourself and name it in image:",
                    ),
                }
            }
        } else if !matches!(v, Value::String(_)) {
            return self.problem("build", "build is a path or a mapping");
        }
        self.svc.kept.insert("build".into(), v.clone());
    }

    fn hardrun(&mut self, v: &Value) {
        let Value::Mapping(m) = v else {
            return self.problem("x-hardrun", "x-hardrun is a mapping, e.g. {profile: web}");
        };
        for (k, val) in m {
            match (k.as_str(), val) {
                (Some("profile"), Value::String(p)) => self.svc.profile = Some(p.clone()),
                _ => self.problem(&format!("x-hardrun.{}", scalar_text(k)), "x-hardrun takes profile: NAME"),
            }
        }
    }

    /// The command, entrypoint and environment, which several keys make together.
    fn finish(&mut self, def: &Mapping) {
        if self.svc.req.image.is_empty() {
            let why = if def.contains_key("build") {
                "name the image the build makes with image: NAME:TAG, so hardrun can judge it"
            } else {
                "a service needs an image"
            };
            self.problem("image", why);
        }
        // An entrypoint list is argv[0] and its first arguments: the request's entrypoint
        // is one word, the rest goes before the command (what the kernel runs is the same).
        let mut command = self.command.take().unwrap_or_default();
        if let Some(ep) = self.entrypoint.take() {
            match ep.split_first() {
                Some((first, rest)) => {
                    self.flag("entrypoint", &first.clone(), "entrypoint");
                    command = [rest.to_vec(), command].concat();
                }
                None => self.flag("entrypoint", "", "entrypoint"),
            }
        }
        self.svc.req.command = command;
        super::net::default(self);
        for (name, value) in std::mem::take(&mut self.env) {
            let spec = match value {
                Some(v) => format!("{name}={v}"),
                None => name.clone(),
            };
            self.flag("env", &spec, &format!("environment.{name}"));
        }
        if let Err(e) = run_args::check(&self.svc.req) {
            self.problem("", e);
        }
    }
}

/// How a value is shown in a problem.
pub(super) fn shown(v: &Value) -> String {
    match v {
        Value::Mapping(_) => "a mapping".into(),
        Value::Sequence(_) => "a list".into(),
        Value::Null => "nothing".into(),
        other => format!("{:?}", scalar_text(other)),
    }
}

/// A refusal of the request, said in Compose's terms: the service's key that asked for
/// it, with the docker-run spelling policy used.
pub fn relabel(svc: &Service, r: Refusal) -> Refusal {
    let asked = r.asked.clone();
    let first = asked.split([' ', '=']).next().unwrap_or_default();
    let first = first.split('/').next().unwrap_or_default();
    let long: Option<&str> = if let Some(l) = first.strip_prefix("--") {
        Some(l)
    } else if let Some(s) = first.strip_prefix('-').and_then(|s| s.chars().next()) {
        crate::run_args::defs::all().find(|f| f.short == Some(s)).map(|f| f.long)
    } else if first == "image" {
        Some("image")
    } else {
        None
    };
    let candidates: Vec<&Origin> = svc.origins.iter().filter(|o| Some(o.flag) == long).collect();
    let origin = candidates
        .iter()
        .find(|o| !o.value.is_empty() && asked.contains(o.value.as_str()))
        .or_else(|| candidates.iter().find(|o| asked.contains(o.value.split(':').nth(1).unwrap_or("\0"))))
        .or(candidates.first());
    let key = match origin {
        Some(o) => o.key.clone(),
        None if first == "user.default" => format!("services.{}.user (not set)", svc.name),
        None => format!("services.{}", svc.name),
    };
    // The values in it come from the Compose file: escaped and bounded.
    let clean = |t: &str| crate::sanitize::line(t, crate::sanitize::LINE_MAX);
    Refusal { asked: clean(&format!("{key} ({asked})")), why: clean(&r.why), ..r }
}

#[cfg(test)]
mod tests;
