//! Published and exposed ports: `-p [ip:][hostPort:]containerPort[/proto]`, `--expose`.
//! Ranges stay ranges: a binding is expanded port by port only where the Engine API body
//! needs one entry per port, and counting (the profile's ceiling) works on ranges.

use std::fmt;
use std::net::IpAddr;

/// Transport protocol of a port, as the Engine API spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Proto {
    Tcp,
    Udp,
    Sctp,
}

impl Proto {
    pub fn parse(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "" | "tcp" => Ok(Proto::Tcp),
            "udp" => Ok(Proto::Udp),
            "sctp" => Ok(Proto::Sctp),
            _ => Err(format!("invalid protocol {s:?} (use tcp, udp or sctp)")),
        }
    }
}

impl fmt::Display for Proto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
            Proto::Sctp => "sctp",
        })
    }
}

/// `start..=end`, never empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PortRange {
    pub start: u16,
    pub end: u16,
}

impl PortRange {
    /// How many ports.
    pub fn count(&self) -> u32 {
        u32::from(self.end) - u32::from(self.start) + 1
    }

    pub fn is_single(&self) -> bool {
        self.start == self.end
    }

    pub fn ports(&self) -> impl Iterator<Item = u16> + use<> {
        self.start..=self.end
    }

    fn parse(s: &str) -> Result<PortRange, String> {
        let (start, end) = match s.split_once('-') {
            Some((a, b)) => (parse_port(a)?, parse_port(b)?),
            None => {
                let p = parse_port(s)?;
                (p, p)
            }
        };
        if end < start {
            return Err(format!("invalid port range {s:?} (end before start)"));
        }
        Ok(PortRange { start, end })
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.is_single() {
            true => write!(f, "{}", self.start),
            false => write!(f, "{}-{}", self.start, self.end),
        }
    }
}

/// One `-p` value: container ports bound on the host. `host` is `None` for any free
/// port; a range as long as `container`, mapped port by port; or, for a single
/// container port, a range docker picks one free port from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortBinding {
    pub host_ip: Option<IpAddr>,
    pub host: Option<PortRange>,
    pub container: PortRange,
    pub proto: Proto,
}

impl PortBinding {
    /// How many host ports it binds (one proxy each).
    pub fn count(&self) -> u32 {
        self.container.count()
    }

    /// The Engine API entries: (`80/tcp`, host port as docker sends it), one per
    /// container port.
    pub fn entries(&self) -> impl Iterator<Item = (String, String)> + '_ {
        self.container.ports().map(move |port| {
            let host = match self.host {
                None => String::new(),
                Some(h) if self.container.is_single() => h.to_string(),
                Some(h) => (u32::from(h.start) + u32::from(port - self.container.start)).to_string(),
            };
            (format!("{port}/{}", self.proto), host)
        })
    }
}

impl fmt::Display for PortBinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.host_ip {
            Some(IpAddr::V6(ip)) => write!(f, "[{ip}]:")?,
            Some(ip) => write!(f, "{ip}:")?,
            None => {}
        }
        match (self.host, self.host_ip) {
            (Some(h), _) => write!(f, "{h}:")?,
            (None, Some(_)) => f.write_str(":")?,
            (None, None) => {}
        }
        write!(f, "{}/{}", self.container, self.proto)
    }
}

/// One `--expose` value: container ports, not published.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exposed {
    pub ports: PortRange,
    pub proto: Proto,
}

impl Exposed {
    /// The `port/proto` keys of the Engine API's `ExposedPorts`.
    pub fn keys(&self) -> impl Iterator<Item = String> + use<> {
        let proto = self.proto;
        self.ports.ports().map(move |p| format!("{p}/{proto}"))
    }
}

fn parse_port(s: &str) -> Result<u16, String> {
    s.parse::<u16>().map_err(|_| format!("invalid port {s:?} (expected a number from 1 to 65535)"))
}

/// Parses one `-p` value.
pub fn parse_publish(spec: &str) -> Result<PortBinding, String> {
    let (addr, proto) = spec.rsplit_once('/').unwrap_or((spec, ""));
    let proto = Proto::parse(proto)?;
    let parts: Vec<&str> = addr.split(':').collect();
    let n = parts.len();
    let container = parts[n - 1];
    let (ip, host) = match n {
        1 => ("", ""),
        2 => ("", parts[0]),
        _ => (&addr[..addr.len() - container.len() - parts[n - 2].len() - 2], parts[n - 2]),
    };
    if container.is_empty() {
        return Err(format!("no container port in {spec:?}"));
    }
    let host_ip = if ip.is_empty() {
        None
    } else {
        let bare = ip.strip_prefix('[').and_then(|s| s.strip_suffix(']')).unwrap_or(ip);
        Some(bare.parse::<IpAddr>().map_err(|_| format!("invalid IP address {ip:?} in {spec:?}"))?)
    };
    let container = PortRange::parse(container)?;
    if container.start == 0 {
        return Err(format!("invalid container port 0 in {spec:?}"));
    }
    let host = if host.is_empty() { None } else { Some(PortRange::parse(host)?) };
    if let Some(h) = host
        && h.count() != container.count()
        && !container.is_single()
    {
        return Err(format!("invalid ranges in {spec:?}: host and container ranges differ in size"));
    }
    Ok(PortBinding { host_ip, host, container, proto })
}

/// Parses one `--expose` value (`80`, `80/udp`, `8000-8010`).
pub fn parse_expose(spec: &str) -> Result<Exposed, String> {
    let (ports, proto) = spec.rsplit_once('/').unwrap_or((spec, ""));
    Ok(Exposed { ports: PortRange::parse(ports)?, proto: Proto::parse(proto)? })
}

/// Parses an Engine API port key (`80/tcp`, `8000-8010/udp` in image configs).
pub fn parse_key(key: &str) -> Option<Exposed> {
    parse_expose(key).ok()
}

/// Ports as merged ranges per protocol, counted without expanding them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PortSet {
    ranges: Vec<(Proto, u16, u16)>,
}

impl PortSet {
    pub fn insert(&mut self, proto: Proto, range: PortRange) {
        self.ranges.push((proto, range.start, range.end));
        self.ranges.sort();
        let mut merged: Vec<(Proto, u16, u16)> = Vec::with_capacity(self.ranges.len());
        for &(p, s, e) in &self.ranges {
            match merged.last_mut() {
                Some((lp, _, le)) if *lp == p && u32::from(s) <= u32::from(*le) + 1 => *le = (*le).max(e),
                _ => merged.push((p, s, e)),
            }
        }
        self.ranges = merged;
    }

    /// How many ports.
    pub fn count(&self) -> u64 {
        self.ranges.iter().map(|&(_, s, e)| u64::from(e - s) + 1).sum()
    }

    /// How many of these ports `other` lacks.
    pub fn count_outside(&self, other: &PortSet) -> u64 {
        let shared: u64 = self
            .ranges
            .iter()
            .map(|&(p, s, e)| {
                other
                    .ranges
                    .iter()
                    .filter(|(op, os, oe)| *op == p && *os <= e && *oe >= s)
                    .map(|&(_, os, oe)| u64::from(oe.min(e) - os.max(s)) + 1)
                    .sum::<u64>()
            })
            .sum();
        self.count() - shared
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(spec: &str) -> Vec<(String, String)> {
        parse_publish(spec).unwrap().entries().collect()
    }

    #[test]
    fn forms() {
        let b = parse_publish("127.0.0.1:8080:80").unwrap();
        assert_eq!(b.host_ip, Some("127.0.0.1".parse().unwrap()));
        assert_eq!(entries("127.0.0.1:8080:80"), [("80/tcp".to_string(), "8080".to_string())]);
        assert_eq!(entries("8080:80/udp"), [("80/udp".to_string(), "8080".to_string())]);
        assert_eq!(entries("80"), [("80/tcp".to_string(), String::new())]);
        assert_eq!(entries("127.0.0.1::80"), [("80/tcp".to_string(), String::new())]);
        assert_eq!(parse_publish("[::1]:8080:80").unwrap().host_ip, Some("::1".parse().unwrap()));
        assert_eq!(parse_publish("::1:8080:80").unwrap().host_ip, Some("::1".parse().unwrap()));
        for spec in ["127.0.0.1:8080:80/tcp", "[::1]:8080:80/tcp", "80/udp", "127.0.0.1::80/tcp", "8000-8001:80-81/tcp"]
        {
            assert_eq!(parse_publish(spec).unwrap().to_string(), spec);
        }
    }

    #[test]
    fn ranges_stay_ranges() {
        let b = parse_publish("8000-8002:80-82").unwrap();
        assert_eq!(b.count(), 3);
        let got: Vec<_> = b.entries().collect();
        assert_eq!(
            got,
            [("80/tcp".into(), "8000".into()), ("81/tcp".into(), "8001".into()), ("82/tcp".into(), "8002".into())]
        );
        assert_eq!(entries("8000-8010:80"), [("80/tcp".to_string(), "8000-8010".to_string())]);
        let all = parse_publish("1-65535:1-65535").unwrap();
        assert_eq!((all.count(), all.container, all.host), (65535, PortRange { start: 1, end: 65535 }, all.host));
        assert!(parse_publish("8000:80-82").is_err());
        assert!(parse_publish("8000-8001:80-82").is_err());
    }

    #[test]
    fn rejects_bad_specs() {
        for bad in ["", "abc", "80/icmp", "1.2.3:80:80", "70000", "0", "90-80", "8080:"] {
            assert!(parse_publish(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn expose() {
        assert_eq!(parse_expose("80").unwrap().keys().collect::<Vec<_>>(), ["80/tcp"]);
        assert_eq!(parse_expose("53/udp").unwrap().keys().collect::<Vec<_>>(), ["53/udp"]);
        assert_eq!(parse_expose("1-2").unwrap().keys().collect::<Vec<_>>(), ["1/tcp", "2/tcp"]);
        assert!(parse_expose("x").is_err());
        assert_eq!(parse_key("8000-8010/udp").unwrap().ports.count(), 11);
    }

    #[test]
    fn sets_count_without_expanding() {
        let mut a = PortSet::default();
        a.insert(Proto::Tcp, PortRange { start: 1, end: 65535 });
        a.insert(Proto::Tcp, PortRange { start: 80, end: 90 });
        a.insert(Proto::Udp, PortRange { start: 53, end: 53 });
        assert_eq!(a.count(), 65536);
        let mut b = PortSet::default();
        b.insert(Proto::Tcp, PortRange { start: 100, end: 199 });
        b.insert(Proto::Udp, PortRange { start: 54, end: 54 });
        assert_eq!(a.count_outside(&b), 65536 - 100);
        assert_eq!(b.count_outside(&a), 1);
        let mut c = PortSet::default();
        c.insert(Proto::Tcp, PortRange { start: 10, end: 12 });
        c.insert(Proto::Tcp, PortRange { start: 13, end: 13 });
        assert_eq!(c.ranges, [(Proto::Tcp, 10, 13)]);
    }
}
