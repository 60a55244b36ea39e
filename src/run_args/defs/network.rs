//! Network flags: which networks, addresses, names, DNS and published ports.

use std::net::IpAddr;

use crate::request::{NetworkAttachment, port};
use crate::run_args::flag::{Flag, Section::Network};

fn ip(flag: &str, v: &str) -> Result<IpAddr, String> {
    v.parse::<IpAddr>().map_err(|_| format!("invalid argument {v:?} for --{flag}: not an IP address"))
}

pub const FLAGS: &[Flag] = &[
    Flag::many(
        "network",
        "NETWORK",
        "Connect to a network (name, none, bridge, or name=NET,alias=A,...)",
        Network,
        |r, v, _| {
            r.networks.push(NetworkAttachment::parse(v)?);
            Ok(())
        },
    )
    .aliases(&["net"]),
    Flag::many("network-alias", "ALIAS", "Add a network-scoped alias", Network, |r, v, _| {
        r.network_aliases.push(v.to_string());
        Ok(())
    })
    .aliases(&["net-alias"]),
    Flag::one("ip", "IPV4", "IPv4 address on the network", Network, |r, v, _| {
        if !ip("ip", v)?.is_ipv4() {
            return Err(format!("invalid argument {v:?} for --ip: not an IPv4 address"));
        }
        r.ip = Some(v.to_string());
        Ok(())
    }),
    Flag::one("ip6", "IPV6", "IPv6 address on the network", Network, |r, v, _| {
        if !ip("ip6", v)?.is_ipv6() {
            return Err(format!("invalid argument {v:?} for --ip6: not an IPv6 address"));
        }
        r.ip6 = Some(v.to_string());
        Ok(())
    }),
    Flag::many("link-local-ip", "IP", "Link-local address on the network", Network, |r, v, _| {
        ip("link-local-ip", v)?;
        r.link_local_ips.push(v.to_string());
        Ok(())
    }),
    Flag::one("mac-address", "MAC", "Container MAC address", Network, |r, v, _| {
        let parts: Vec<&str> = v.split(':').collect();
        if parts.len() != 6 || !parts.iter().all(|p| p.len() == 2 && u8::from_str_radix(p, 16).is_ok()) {
            return Err(format!(
                "invalid argument {v:?} for --mac-address: expected 6 hex pairs like 92:d0:c6:0a:29:33"
            ));
        }
        r.mac_address = Some(v.to_string());
        Ok(())
    }),
    Flag::many("link", "NAME[:ALIAS]", "Add a legacy link to another container", Network, |r, v, _| {
        let name = v.split(':').next().unwrap_or_default();
        if name.is_empty() {
            return Err(format!("invalid argument {v:?} for --link"));
        }
        r.links.push(v.to_string());
        Ok(())
    }),
    Flag::many("dns", "IP", "Custom DNS server", Network, |r, v, _| {
        ip("dns", v)?;
        r.dns.push(v.to_string());
        Ok(())
    }),
    Flag::many("dns-option", "OPTION", "Resolver option", Network, |r, v, _| {
        r.dns_options.push(v.to_string());
        Ok(())
    })
    .aliases(&["dns-opt"]),
    Flag::many("dns-search", "DOMAIN", "DNS search domain", Network, |r, v, _| {
        r.dns_search.push(v.to_string());
        Ok(())
    }),
    Flag::many("add-host", "HOST:IP", "Add a line to /etc/hosts (IP may be host-gateway)", Network, |r, v, _| {
        let (host, addr) = v
            .split_once('=')
            .or_else(|| v.split_once(':'))
            .ok_or_else(|| format!("invalid argument {v:?} for --add-host: expected HOST:IP"))?;
        let bare = addr.strip_prefix('[').and_then(|a| a.strip_suffix(']')).unwrap_or(addr);
        if host.is_empty() || (bare != "host-gateway" && bare.parse::<IpAddr>().is_err()) {
            return Err(format!("invalid argument {v:?} for --add-host: expected HOST:IP"));
        }
        r.add_hosts.push(format!("{host}:{bare}"));
        Ok(())
    }),
    Flag::many("publish", "[IP:][HOST:]PORT[/PROTO]", "Publish a container port on the host", Network, |r, v, _| {
        r.publish.push(port::parse_publish(v).map_err(|e| format!("-p {v}: {e}"))?);
        Ok(())
    })
    .short('p'),
    Flag::switch("publish-all", "Publish every exposed port on a random host port", Network, |r, b| r.publish_all = b)
        .short('P'),
    Flag::many("expose", "PORT[/PROTO]", "Expose a port or range without publishing it", Network, |r, v, _| {
        r.expose.push(port::parse_expose(v).map_err(|e| format!("--expose {v}: {e}"))?);
        Ok(())
    }),
];

#[cfg(test)]
mod tests {
    use super::super::testing::{err, ok};
    use crate::request::NetworkMode;

    #[test]
    fn network_spellings() {
        for args in [&["--net", "host", "img:1"][..], &["--network=host", "img:1"], &["--net=name=host", "img:1"]] {
            assert_eq!(ok(args).networks[0].mode(), NetworkMode::Host, "{args:?}");
        }
        let r = ok(&["--network", "back", "--net-alias", "api", "--ip", "10.0.0.2", "img:1"]);
        assert_eq!((r.networks[0].name.as_str(), r.network_aliases[0].as_str()), ("back", "api"));
        assert!(err(&["--ip", "::1", "img:1"]).contains("IPv4"));
        assert!(ok(&["--ip6", "fd00::2", "img:1"]).ip6.is_some());
        assert_eq!(ok(&["--link-local-ip", "169.254.1.1", "img:1"]).link_local_ips.len(), 1);
        assert!(err(&["--mac-address", "zz", "img:1"]).contains("--mac-address"));
        assert_eq!(
            ok(&["--mac-address", "92:d0:c6:0a:29:33", "img:1"]).mac_address.as_deref(),
            Some("92:d0:c6:0a:29:33")
        );
    }

    #[test]
    fn names_and_dns() {
        let r = ok(&[
            "--link",
            "db",
            "--dns",
            "10.0.0.1",
            "--dns-opt",
            "ndots:2",
            "--dns-search",
            "example.org",
            "--add-host",
            "db=10.0.0.3",
            "--add-host",
            "gw:host-gateway",
            "img:1",
        ]);
        assert_eq!(r.links, ["db"]);
        assert_eq!(r.dns_options, ["ndots:2"]);
        assert_eq!(r.dns_search, ["example.org"]);
        assert_eq!(r.add_hosts, ["db:10.0.0.3", "gw:host-gateway"]);
        assert!(err(&["--dns", "resolver", "img:1"]).contains("--dns"));
        assert!(err(&["--add-host", "nohost", "img:1"]).contains("--add-host"));
    }

    #[test]
    fn ports() {
        let r = ok(&["-p", "127.0.0.1:8080:80", "-p", "53:53/udp", "-P", "--expose", "9000-9001", "img:1"]);
        assert_eq!(r.publish.len(), 2);
        assert!(r.publish_all);
        assert_eq!(r.expose[0].keys().collect::<Vec<_>>(), ["9000/tcp", "9001/tcp"]);
        assert!(err(&["-p", "99999:80", "img:1"]).starts_with("-p 99999:80"));
    }
}
