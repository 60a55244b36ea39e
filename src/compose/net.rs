//! A service's networks as docker-run's `--network`: `network_mode` as the mode it
//! names (`service:db` is another container's namespace), and each Compose network as
//! the daemon network Compose creates for the project (`PROJECT_NAME`), so policy judges
//! the real thing and a network merely called `host` in the file is not the host's. The
//! top-level `networks:` definitions are checked here too: only bridge networks, which
//! keep the project apart from every other project's containers.

use serde_yaml::{Mapping, Value};

use super::merge::scalar_text;
use super::translate::{Origin, Translation};
use super::{Problem, Project};
use crate::request::NetworkAttachment;

pub(super) fn mode(t: &mut Translation, v: &Value) {
    let Some(mode) = t.text(v, "network_mode") else { return };
    let value = match mode.split_once(':') {
        Some(("service" | "container", other)) => format!("container:{other}"),
        None if ["none", "host", "bridge", "default"].contains(&mode.as_str()) => mode.clone(),
        _ => return t.problem("network_mode", format!("unknown network mode {mode:?}")),
    };
    t.flag("network", &value, "network_mode");
}

/// Keys of one service's network entry.
const ENTRY_KEYS: [&str; 8] = [
    "aliases",
    "ipv4_address",
    "ipv6_address",
    "link_local_ips",
    "priority",
    "mac_address",
    "driver_opts",
    "gw_priority",
];

pub(super) fn attach(t: &mut Translation, v: &Value) {
    let entries: Vec<(String, Mapping)> = match v {
        Value::Sequence(names) => names.iter().map(|n| (scalar_text(n), Mapping::new())).collect(),
        Value::Mapping(m) => {
            m.iter().map(|(k, s)| (scalar_text(k), s.as_mapping().cloned().unwrap_or_default())).collect()
        }
        _ => return t.problem("networks", "networks is a list or a mapping"),
    };
    for (name, settings) in entries {
        let key = format!("networks.{name}");
        if name != "default" && !t.project.networks.contains_key(name.as_str()) {
            t.problem(&key, format!("network {name:?} is not declared under the top-level networks:"));
            continue;
        }
        // Built as the attachment itself, not as docker's long `--network` text: the
        // docker CLI lowercases that whole, and Compose keeps names and aliases as written.
        let mut net = NetworkAttachment { name: t.project.network_name(&name), ..Default::default() };
        for (k, val) in &settings {
            let field = scalar_text(k);
            let at = format!("{key}.{field}");
            let values: Vec<String> = match val {
                Value::Sequence(_) => t.list(val, &at),
                Value::Mapping(_) if field == "driver_opts" => Vec::new(), // read below
                other => t.text(other, &at).into_iter().collect(),
            };
            match field.as_str() {
                "aliases" => net.aliases.extend(values),
                "ipv4_address" => net.ipv4 = values.into_iter().last(),
                "ipv6_address" => net.ipv6 = values.into_iter().last(),
                "link_local_ips" => net.link_local_ips.extend(values),
                "mac_address" => net.mac_address = values.into_iter().last(),
                "gw_priority" => match values.last().map(|v| v.parse::<i64>()) {
                    Some(Ok(p)) => net.gw_priority = Some(p),
                    _ => t.problem(&at, "gw_priority is a whole number"),
                },
                "driver_opts" => {
                    let opts = val.as_mapping().cloned().unwrap_or_default();
                    net.driver_opts.extend(opts.iter().map(|(k, v)| (scalar_text(k), scalar_text(v))));
                }
                // The order Compose connects networks in: nothing for the container.
                "priority" => {}
                _ => t.problem(&at, format!("not a network key hardrun knows ({})", ENTRY_KEYS.join(", "))),
            }
        }
        // The network's name, which a refusal of it quotes (`--network NAME`).
        let at = t.path(&key);
        t.svc.origins.push(Origin { flag: "network", key: at, value: net.name.clone() });
        t.svc.req.networks.push(net);
        t.svc.networks.push(name);
    }
}

/// A service with neither `network_mode` nor `networks` joins the project's `default`.
pub(super) fn default(t: &mut Translation) {
    if t.svc.req.networks.is_empty() && !t.svc.origins.iter().any(|o| o.flag == "network") {
        let name = t.project.network_name("default");
        t.flag("network", &name, "networks");
        t.svc.networks.push("default".into());
    }
}

/// Drivers that keep the project's containers on a network of their own.
const DRIVERS: [&str; 1] = ["bridge"];

/// Checks the top-level network definitions.
pub fn definitions(p: &Project) -> Vec<Problem> {
    const KEYS: [&str; 9] =
        ["driver", "driver_opts", "external", "name", "internal", "attachable", "enable_ipv6", "ipam", "labels"];
    let mut problems = Vec::new();
    for (name, def) in super::definitions(&p.networks, "network", &KEYS, &mut problems) {
        let key = format!("networks.{name}");
        if p.is_external(&def) {
            continue;
        }
        if let Some(driver) = def.get("driver").map(scalar_text).filter(|d| !DRIVERS.contains(&d.as_str())) {
            let why = match driver.as_str() {
                "host" => "it is the host's own network stack: no network isolation".to_string(),
                "macvlan" | "ipvlan" => format!("a {driver} network puts containers directly on the host's LAN"),
                "overlay" => "overlay networks belong to a swarm, which hardrun does not drive".to_string(),
                other => format!("hardrun cannot tell how the {other} driver isolates containers"),
            };
            problems.push(Problem::with_fix(
                &format!("{key}.driver"),
                format!("{why} (driver {driver})"),
                "leave driver out (a bridge network of the project's own)",
            ));
        }
    }
    problems
}
