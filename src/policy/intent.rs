//! What the user asked for that is not a hardening decision: command, environment,
//! labels, names, restart, logging, DNS, health... carried into the create body exactly
//! as the docker CLI would send it, so `docker inspect` shows the same.

use bollard::models::{HealthConfig, RestartPolicy, RestartPolicyNameEnum};

use super::{Hardening, hashmap};

/// Label hardrun puts on its containers, so `audit` and clean-up can find them.
pub const PROFILE_LABEL: &str = "org.hardrun.profile";

/// Labels under this prefix are hardrun's own (the profile, probe containers it sweeps).
pub const RESERVED_LABELS: &str = "org.hardrun.";

pub(super) fn apply(h: &mut Hardening) {
    let req = h.req;
    let c = &mut h.config;
    if !req.command.is_empty() {
        c.cmd = Some(req.command.clone());
    }
    if !req.env.is_empty() {
        c.env = Some(req.env.clone());
    }
    for key in req.labels.keys().filter(|k| k.starts_with(RESERVED_LABELS)) {
        h.refusals.push(super::Refusal::never(
            format!("--label {key}"),
            format!("labels under {RESERVED_LABELS} are hardrun's own: audit and clean-up act on them"),
            "use a label of your own namespace",
        ));
    }
    let c = &mut h.config;
    let mut labels = hashmap(&req.labels);
    labels.insert(PROFILE_LABEL.into(), h.profile.name.clone());
    c.labels = Some(labels);
    c.hostname = req.hostname.clone();
    c.domainname = req.domainname.clone();
    c.stop_signal = req.stop_signal.clone();
    c.stop_timeout = req.stop_timeout;
    c.tty = Some(req.tty);
    c.open_stdin = Some(req.interactive);
    let life = &h.lifecycle;
    c.attach_stdin = Some(life.attach_stdin);
    c.attach_stdout = Some(life.attach_stdout);
    c.attach_stderr = Some(life.attach_stderr);
    // Stdin closes when the client detaches, as with `docker run -i`.
    c.stdin_once = Some(req.interactive && life.attach_stdin);
    c.healthcheck = health(req);

    let hc = &mut h.hc;
    hc.auto_remove = Some(req.auto_remove);
    hc.restart_policy = Some(match &req.restart {
        Some(p) => RestartPolicy {
            name: Some(match p.name {
                "always" => RestartPolicyNameEnum::ALWAYS,
                "unless-stopped" => RestartPolicyNameEnum::UNLESS_STOPPED,
                "on-failure" => RestartPolicyNameEnum::ON_FAILURE,
                _ => RestartPolicyNameEnum::NO,
            }),
            maximum_retry_count: p.max_retries,
        },
        None => RestartPolicy { name: Some(RestartPolicyNameEnum::NO), maximum_retry_count: None },
    });
    let list = |v: &Vec<String>| (!v.is_empty()).then(|| v.clone());
    // The docker CLI always sends these, empty when unset; so does hardrun, for identical inspects.
    hc.dns = Some(req.dns.clone());
    hc.dns_options = Some(req.dns_options.clone());
    hc.dns_search = Some(req.dns_search.clone());
    hc.extra_hosts = list(&req.add_hosts);
    hc.init = req.init;
    hc.container_id_file = req.cidfile.as_ref().map(|p| p.display().to_string());
    hc.storage_opt = (!req.storage_opts.is_empty()).then(|| hashmap(&req.storage_opts));
    hc.isolation = req.isolation.as_deref().and_then(|i| match i {
        "default" => Some(bollard::models::HostConfigIsolationEnum::DEFAULT),
        "process" => Some(bollard::models::HostConfigIsolationEnum::PROCESS),
        "hyperv" => Some(bollard::models::HostConfigIsolationEnum::HYPERV),
        _ => None,
    });
}

fn health(req: &crate::request::RunRequest) -> Option<HealthConfig> {
    let h = &req.health;
    if h.disabled {
        return Some(HealthConfig { test: Some(vec!["NONE".into()]), ..Default::default() });
    }
    if !h.is_set() {
        return None;
    }
    Some(HealthConfig {
        test: h.cmd.as_ref().map(|cmd| vec!["CMD-SHELL".into(), cmd.clone()]),
        interval: h.interval,
        timeout: h.timeout,
        retries: h.retries,
        start_period: h.start_period,
        start_interval: h.start_interval,
    })
}
