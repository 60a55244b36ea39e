//! Networks: never the host's or another container's; only the kinds the profile allows;
//! publishing only when the profile allows it.

use std::collections::HashMap;

use bollard::models::{EndpointIpamConfig, EndpointSettings, NetworkingConfig, PortBinding};

use super::{Hardening, Refusal};
use crate::request::{NetworkAttachment, NetworkMode};

/// The profile's name for hardrun's isolated default network.
pub const ISOLATED: &str = "hardrun";

pub(super) fn apply(h: &mut Hardening) {
    let allow = &h.profile.network.allow;
    let allows = |kind: &str| allow.iter().any(|a| a == kind);
    let mut refusals = Vec::new();
    for net in &h.req.networks {
        let asked = format!("--network {}", net.name);
        match net.mode() {
            NetworkMode::Host => refusals.push(Refusal::never(
                asked,
                "host networking removes network isolation: the container can reach every host port and interface",
                "publish the ports the service needs with -p 127.0.0.1:PORT:PORT",
            )),
            NetworkMode::Container(other) => refusals.push(Refusal::never(
                asked,
                format!("it shares container {other}'s network namespace, so a break-in in one reaches both"),
                "put both containers on a user-defined network (docker network create NET; --network NET)",
            )),
            NetworkMode::Bridge if !allows("bridge") => refusals.push(not_allowed(asked, "the default bridge", allow)),
            NetworkMode::None if !allows("none") => refusals.push(not_allowed(asked, "no network", allow)),
            NetworkMode::User(name) if !allows("user") && !allows(name) => {
                refusals.push(not_allowed(asked, &format!("network {name}"), allow))
            }
            _ => {}
        }
    }
    for r in refusals {
        h.refuse(r);
    }
    let publishes = !h.req.publish.is_empty() || h.req.publish_all;
    if publishes && !h.profile.network.publish {
        // The advice must be one this profile accepts.
        let fix = match allows("user") {
            true => "reach the service from the containers that need it on a user-defined network \
                     (docker network create --internal NET; --network NET on both)"
                .to_string(),
            false => "this profile allows no user-defined network either: use a profile that publishes ports \
                      (--profile default)"
                .to_string(),
        };
        h.refuse(Refusal::unless(
            "-p/--publish",
            "this profile keeps the container unreachable from outside",
            fix,
            "network.publish",
        ));
    }
    choose_networks(h);
    ports(h);
}

fn not_allowed(asked: String, what: &str, allow: &[String]) -> Refusal {
    Refusal::unless(
        asked,
        format!("{what} is not among the networks this profile allows ({})", allow.join(", ")),
        "use one of those networks",
        "network.allow",
    )
}

fn choose_networks(h: &mut Hardening) {
    let req = h.req;
    let (networks, source) = if req.networks.is_empty() {
        let default = h.profile.network.default.clone();
        // `hardrun` names hardrun's own isolated bridge; the engine finds or creates it
        // and passes its ID (a plan made without the daemon shows the name).
        let name = match (default.as_str(), &h.host.isolated_network) {
            (ISOLATED, Some(id)) => id.clone(),
            (other, _) => other.to_string(),
        };
        (vec![NetworkAttachment { name, ..Default::default() }], h.profile_source("network.default"))
    } else {
        let names: Vec<&str> = req.networks.iter().map(|n| n.name.as_str()).collect();
        (req.networks.clone(), Hardening::flag(format!("--network {}", names.join(","))))
    };
    let shown: Vec<&str> = networks.iter().map(|n| n.name.as_str()).collect();
    let shown = if req.networks.is_empty() && h.profile.network.default == ISOLATED {
        "hardrun (its own bridge, no traffic between containers)".to_string()
    } else {
        shown.join(", ")
    };
    h.decide("network", shown, source);
    let primary = &networks[0];
    // Docker's name for the daemon's default network is "default" when none is given.
    let mode =
        if req.networks.is_empty() && primary.name == "bridge" { "default".to_string() } else { primary.name.clone() };
    h.hc.network_mode = Some(mode.clone());
    let mut endpoints = HashMap::new();
    for (i, net) in networks.iter().enumerate() {
        let mut settings = endpoint(net);
        if i == 0 {
            // The per-container flags (--ip, --network-alias...) apply to the first network.
            let aliases = settings.aliases.get_or_insert_with(Vec::new);
            aliases.extend(req.network_aliases.iter().cloned());
            let ipam = settings.ipam_config.get_or_insert_with(Default::default);
            ipam.ipv4_address = ipam.ipv4_address.take().or(req.ip.clone());
            ipam.ipv6_address = ipam.ipv6_address.take().or(req.ip6.clone());
            ipam.link_local_ips.get_or_insert_with(Vec::new).extend(req.link_local_ips.iter().cloned());
            settings.mac_address = settings.mac_address.take().or(req.mac_address.clone());
        }
        tidy(&mut settings);
        if i == 0 || settings != EndpointSettings::default() || networks.len() > 1 {
            // The default network is keyed as NetworkMode names it ("default" or an ID).
            let key = if i == 0 { mode.clone() } else { net.name.clone() };
            endpoints.insert(key, settings);
        }
    }
    // With no --network, endpoint settings are sent only when a flag (--ip, --mac-address,
    // --network-alias...) asked for some, so they are not lost.
    let asked = endpoints.values().any(|e| *e != EndpointSettings::default());
    if !req.networks.is_empty() || asked {
        h.config.networking_config = Some(NetworkingConfig { endpoints_config: Some(endpoints) });
    }
}

fn endpoint(net: &NetworkAttachment) -> EndpointSettings {
    EndpointSettings {
        aliases: Some(net.aliases.clone()),
        ipam_config: Some(EndpointIpamConfig {
            ipv4_address: net.ipv4.clone(),
            ipv6_address: net.ipv6.clone(),
            link_local_ips: Some(net.link_local_ips.clone()),
        }),
        mac_address: net.mac_address.clone(),
        driver_opts: (!net.driver_opts.is_empty()).then(|| net.driver_opts.iter().cloned().collect()),
        gw_priority: net.gw_priority,
        ..Default::default()
    }
}

/// Drops empty parts so the body carries only what was asked.
fn tidy(s: &mut EndpointSettings) {
    if s.aliases.as_ref().is_some_and(Vec::is_empty) {
        s.aliases = None;
    }
    if let Some(ipam) = &mut s.ipam_config {
        if ipam.link_local_ips.as_ref().is_some_and(Vec::is_empty) {
            ipam.link_local_ips = None;
        }
        if *ipam == EndpointIpamConfig::default() {
            s.ipam_config = None;
        }
    }
}

fn ports(h: &mut Hardening) {
    let req = h.req;
    let mut exposed: Vec<String> = req.expose.clone();
    let mut bindings: HashMap<String, Option<Vec<PortBinding>>> = HashMap::new();
    for p in &req.publish {
        let key = p.key();
        if !exposed.contains(&key) {
            exposed.push(key.clone());
        }
        let binding = PortBinding {
            host_ip: Some(p.host_ip.map(|ip| ip.to_string()).unwrap_or_default()),
            host_port: Some(p.host_port.clone()),
        };
        bindings.entry(key).or_insert_with(|| Some(Vec::new())).get_or_insert_with(Vec::new).push(binding);
    }
    exposed.sort();
    exposed.dedup();
    if !exposed.is_empty() {
        h.config.exposed_ports = Some(exposed);
    }
    h.hc.port_bindings = Some(bindings.clone());
    if !bindings.is_empty() {
        let shown: Vec<String> = req
            .publish
            .iter()
            .map(|p| {
                let ip = p.host_ip.map(|i| format!("{i}:")).unwrap_or_default();
                format!("{ip}{}->{}", if p.host_port.is_empty() { "*" } else { &p.host_port }, p.key())
            })
            .collect();
        h.decide("published ports", shown.join(", "), Hardening::flag("-p"));
    }
    if req.publish_all {
        h.hc.publish_all_ports = Some(true);
    }
}
