//! Networks: never the host's or another container's; only the kinds the profile allows,
//! judged by what the daemon resolves a name, ID or ID prefix to, and sent as the ID that
//! was judged; no legacy links; publishing only when the profile allows it, up to its
//! ceiling of host ports.

use std::collections::{BTreeSet, HashMap};

use bollard::models::{EndpointIpamConfig, EndpointSettings, NetworkingConfig, PortBinding};

use super::{Hardening, NetworkFacts, Refusal};
use crate::request::port::{self, PortSet};
use crate::request::{Exposed, NetworkAttachment, NetworkMode, RunRequest};
use crate::sanitize::escape;

/// The profile's name for hardrun's isolated default network.
pub const ISOLATED: &str = "hardrun";

pub(super) fn apply(h: &mut Hardening) {
    let mut sent = Vec::new();
    for net in &h.req.networks {
        if let Some(n) = judge(h, net, format!("--network {}", net.name), false) {
            sent.push(n);
        }
    }
    let mut seen = Vec::new();
    for n in &sent {
        if seen.contains(&n.name) {
            h.refuse(Refusal::never(
                format!("--network {}", n.name),
                "the same network is given twice (by name, ID or ID prefix)",
                "give each network once",
            ));
        }
        seen.push(n.name.clone());
    }
    for link in &h.req.links {
        h.refuse(Refusal::never(
            format!("--link {link}"),
            "a legacy link hands this container the other container's environment (its passwords included) and opens \
             its ports",
            "put both containers on a user-defined network (docker network create NET; --network NET) and reach it by name",
        ));
    }
    let publishes = !h.req.publish.is_empty() || h.req.publish_all;
    if publishes && !h.profile.network.publish {
        // The advice must be one this profile accepts.
        let fix = match h.profile.network.allow.iter().any(|a| a == "user") {
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
    choose_networks(h, sent);
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

/// Judges one network as the daemon will resolve it, and returns the attachment to send
/// (a user network by the ID that was judged). `None` when refused. The profile's own
/// default is not held to `network.allow`, but to what it really is.
fn judge(h: &mut Hardening, net: &NetworkAttachment, asked: String, default: bool) -> Option<NetworkAttachment> {
    let allow = h.profile.network.allow.clone();
    let allows = |kind: &str| default || allow.iter().any(|a| a == kind);
    let host_refusal = |asked: String, what: String| {
        Refusal::never(
            asked,
            format!("{what} removes network isolation: the container can reach every host port and interface"),
            "publish the ports the service needs with -p 127.0.0.1:PORT:PORT",
        )
    };
    if net.driver_opts.iter().any(|(k, _)| k == ENDPOINT_SYSCTLS) {
        h.refuse(Refusal::never(
            format!("{asked} with driver-opt {ENDPOINT_SYSCTLS}"),
            "it sets kernel parameters of the container's interface, past the profile's sysctls.allow",
            "use --sysctl, which the profile judges",
        ));
    }
    let mode = match net.mode() {
        NetworkMode::Host => {
            h.refuse(host_refusal(asked, "host networking".into()));
            return None;
        }
        NetworkMode::Container(other) => {
            h.refuse(Refusal::never(
                asked,
                format!("it shares container {other}'s network namespace, so a break-in in one reaches both"),
                "put both containers on a user-defined network (docker network create NET; --network NET)",
            ));
            return None;
        }
        NetworkMode::Bridge => Some("bridge"),
        NetworkMode::None => Some("none"),
        NetworkMode::User(_) => None,
    };
    let kind = match (mode, h.host.networks.get(&net.name)) {
        (Some(m), _) => Kind::Mode(m, net.name.clone()),
        // The daemon's answer is printed escaped: names and drivers are anyone's text.
        (None, Some(facts)) => match facts.driver.as_str() {
            "host" => {
                h.refuse(host_refusal(
                    asked,
                    format!("network {} is the host's network ({}), and it", net.name, escape(short(&facts.id))),
                ));
                return None;
            }
            "null" => Kind::Mode("none", "none".into()),
            "bridge" if facts.name == "bridge" => Kind::Mode("bridge", "bridge".into()),
            "bridge" => Kind::User(facts.clone()),
            _ => Kind::Other(facts.clone()),
        },
        (None, None) if h.host.daemon_asked => {
            h.refuse(Refusal::never(
                asked,
                format!("the daemon has no network named {} or with that ID", net.name),
                "create it first (docker network create NAME), or name one that exists",
            ));
            return None;
        }
        // Not asked yet (`plan` without a daemon): judged by name, sent as typed.
        (None, None) => Kind::Unresolved,
    };
    let sent = match kind {
        Kind::Mode("bridge", _) if !allows("bridge") => {
            h.refuse(not_allowed(asked, "the default bridge", &allow));
            return None;
        }
        Kind::Mode("none", _) if !allows("none") => {
            h.refuse(not_allowed(asked, "no network", &allow));
            return None;
        }
        Kind::Mode(_, name) => name,
        Kind::User(f) if !allows("user") && !allows(&f.name) => {
            h.refuse(not_allowed(asked, &format!("network {}", escape(&f.name)), &allow));
            return None;
        }
        Kind::User(f) => f.id,
        Kind::Other(f) if !allows(&f.name) => {
            let why = match f.driver.as_str() {
                "macvlan" | "ipvlan" => format!(
                    "network {} ({} driver) puts the container on the host's own link, outside docker's bridge and \
                     firewall",
                    escape(&f.name),
                    f.driver
                ),
                d => format!(
                    "network {} uses the {} driver, whose isolation hardrun does not know",
                    escape(&f.name),
                    escape(d)
                ),
            };
            h.refuse(Refusal::unless(asked, why, "use a bridge network (docker network create NET)", "network.allow"));
            return None;
        }
        Kind::Other(f) => f.id,
        Kind::Unresolved if !allows("user") && !allows(&net.name) => {
            h.refuse(not_allowed(asked, &format!("network {}", net.name), &allow));
            return None;
        }
        Kind::Unresolved => net.name.clone(),
    };
    Some(NetworkAttachment { name: sent, ..net.clone() })
}

/// The endpoint driver option that sets per-interface sysctls (newer daemons).
const ENDPOINT_SYSCTLS: &str = "com.docker.network.endpoint.sysctls";

/// What a network turned out to be.
enum Kind {
    /// `bridge` (docker0) or `none`, and the name to send.
    Mode(&'static str, String),
    /// A bridge network of the user's.
    User(NetworkFacts),
    /// Another driver (macvlan, ipvlan, overlay, plugins).
    Other(NetworkFacts),
    /// Not resolved through the daemon (yet).
    Unresolved,
}

fn short(id: &str) -> &str {
    crate::sanitize::short_id(id)
}

/// Where the profile's isolated default (`network.default: hardrun`) puts a container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IsolatedDefault {
    /// The daemon's default bridge: it already keeps containers apart, and attaching to it
    /// costs the daemon less than a user-defined bridge.
    Bridge,
    /// hardrun's own bridge, made with inter-container traffic off.
    Own,
}

/// Chooses the network that gives containers no route to each other at the least cost,
/// from what the daemon says its default bridge is (`None`: not asked, or it has none).
/// Judged on the network's facts, never its name. Docker refuses `--ip`, `--ip6`,
/// `--link-local-ip` and `--network-alias` on its default bridge, so a request with them
/// keeps hardrun's own.
pub fn isolated_default(default_bridge: Option<&NetworkFacts>, req: &RunRequest) -> (IsolatedDefault, &'static str) {
    let user_only =
        req.ip.is_some() || req.ip6.is_some() || !req.link_local_ips.is_empty() || !req.network_aliases.is_empty();
    match default_bridge {
        Some(f) if f.driver == "bridge" && !f.icc && user_only => (
            IsolatedDefault::Own,
            "hardrun's own bridge, no traffic between containers: --ip, --ip6, --link-local-ip and \
             --network-alias need a user-defined network",
        ),
        Some(f) if f.driver == "bridge" && !f.icc => (
            IsolatedDefault::Bridge,
            "the daemon's default bridge has inter-container traffic off (\"icc\": false): the same isolation as a \
             network of hardrun's own, and a quicker start",
        ),
        Some(f) if f.driver == "bridge" => (
            IsolatedDefault::Own,
            "hardrun's own bridge, no traffic between containers: the daemon's default bridge lets containers reach \
             each other (set \"icc\": false in daemon.json to use it instead, which also starts containers faster)",
        ),
        _ => (IsolatedDefault::Own, "hardrun's own bridge, no traffic between containers"),
    }
}

fn choose_networks(h: &mut Hardening, requested: Vec<NetworkAttachment>) {
    let req = h.req;
    let isolated = isolated_default(h.host.default_bridge.as_ref(), req);
    let (networks, source) = if req.networks.is_empty() {
        let default = h.profile.network.default.clone();
        // `hardrun` names the isolated default: the daemon's default bridge when it keeps
        // containers apart, else hardrun's own bridge, which the engine finds or creates
        // and passes by ID (a plan made without the daemon shows the name). Another
        // default is judged like a flag.
        let name = match (default.as_str(), &h.host.isolated_network) {
            (ISOLATED, _) if isolated.0 == IsolatedDefault::Bridge => Some("bridge".to_string()),
            (ISOLATED, Some(id)) => Some(id.clone()),
            (ISOLATED, None) => Some(ISOLATED.to_string()),
            (other, _) => {
                let asked = format!("network.default {other} of profile {}", h.profile.name);
                let net = NetworkAttachment { name: other.to_string(), ..Default::default() };
                judge(h, &net, asked, true).map(|n| n.name)
            }
        };
        let Some(name) = name else { return };
        (vec![NetworkAttachment { name, ..Default::default() }], h.profile_source("network.default"))
    } else {
        if requested.is_empty() {
            return;
        }
        let names: Vec<&str> = req.networks.iter().map(|n| n.name.as_str()).collect();
        (requested, Hardening::flag(format!("--network {}", names.join(","))))
    };
    let shown: Vec<&str> = networks.iter().map(|n| n.name.as_str()).collect();
    let shown = if req.networks.is_empty() && h.profile.network.default == ISOLATED {
        let chosen = match isolated.0 {
            IsolatedDefault::Bridge => "bridge: ",
            IsolatedDefault::Own => "hardrun: ",
        };
        format!("{chosen}{}", isolated.1)
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

/// Published ports: counted on their ranges against the profile's ceiling (each host
/// port is a docker-proxy process outside the container's limits), `-P` over every port
/// the container exposes, the image's EXPOSE included; expanded into the Engine API body
/// only once within it.
fn ports(h: &mut Hardening) {
    let req = h.req;
    let mut published = PortSet::default();
    let mut exposed = PortSet::default();
    for p in &req.publish {
        published.insert(p.proto, p.container);
        exposed.insert(p.proto, p.container);
    }
    for e in &req.expose {
        exposed.insert(e.proto, e.ports);
    }
    let image_ports: Vec<Exposed> = h
        .host
        .image
        .as_ref()
        .map(|i| i.exposed_ports.iter().filter_map(|k| port::parse_key(k)).collect())
        .unwrap_or_default();
    let mut by_all = PortSet::default();
    if req.publish_all {
        by_all = exposed.clone();
        for e in &image_ports {
            by_all.insert(e.proto, e.ports);
        }
    }
    let bound: u64 = req.publish.iter().map(|p| u64::from(p.count())).sum::<u64>() + by_all.count_outside(&published);
    if let Some(max) = h.profile.network.max_ports
        && bound > max
    {
        h.refuse(Refusal::unless(
            "-p/-P",
            format!(
                "it binds {bound} host ports, each a docker-proxy process outside the container's limits, more than \
                 this profile's {max}"
            ),
            format!("publish only the ports the service serves ({max} at most)"),
            "network.max_ports",
        ));
        return;
    }
    if req.publish_all && h.host.image.is_none() {
        h.notices.push("-P: the image's EXPOSE ports are counted once the image is inspected".into());
    }
    let mut keys: BTreeSet<String> = req.expose.iter().flat_map(|e| e.keys()).collect();
    let mut bindings: HashMap<String, Option<Vec<PortBinding>>> = HashMap::new();
    for p in &req.publish {
        let host_ip = Some(p.host_ip.map(|ip| ip.to_string()).unwrap_or_default());
        for (key, host_port) in p.entries() {
            let binding = PortBinding { host_ip: host_ip.clone(), host_port: Some(host_port) };
            bindings.entry(key.clone()).or_insert_with(|| Some(Vec::new())).get_or_insert_with(Vec::new).push(binding);
            keys.insert(key);
        }
    }
    if !keys.is_empty() {
        h.config.exposed_ports = Some(keys.into_iter().collect());
    }
    if !req.publish.is_empty() {
        let shown: Vec<String> = req.publish.iter().map(|p| p.to_string()).collect();
        h.decide("published ports", shown.join(", "), Hardening::flag("-p"));
    }
    h.hc.port_bindings = Some(bindings);
    if req.publish_all {
        h.hc.publish_all_ports = Some(true);
    }
}
