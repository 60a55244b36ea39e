//! Published and exposed ports: `-p [ip:][hostPort:]containerPort[/proto]`, `--expose`.

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
    fn parse(s: &str) -> Result<Self, String> {
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

/// One container port bound on the host. `host_port` is empty (any free port), a port,
/// or a range docker picks from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortBinding {
    pub host_ip: Option<IpAddr>,
    pub host_port: String,
    pub container_port: u16,
    pub proto: Proto,
}

impl PortBinding {
    /// The Engine API key of the container side: `80/tcp`.
    pub fn key(&self) -> String {
        format!("{}/{}", self.container_port, self.proto)
    }
}

fn parse_port(s: &str) -> Result<u16, String> {
    s.parse::<u16>().map_err(|_| format!("invalid port {s:?} (expected a number from 1 to 65535)"))
}

fn parse_range(s: &str) -> Result<(u16, u16), String> {
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
    Ok((start, end))
}

/// Parses one `-p` value into one binding per container port.
pub fn parse_publish(spec: &str) -> Result<Vec<PortBinding>, String> {
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
    let (c_start, c_end) = parse_range(container)?;
    if c_start == 0 {
        return Err(format!("invalid container port 0 in {spec:?}"));
    }
    let host_range = if host.is_empty() { None } else { Some(parse_range(host)?) };
    if let Some((h_start, h_end)) = host_range
        && h_end - h_start != c_end - c_start
        && c_end != c_start
    {
        return Err(format!("invalid ranges in {spec:?}: host and container ranges differ in size"));
    }
    Ok((c_start..=c_end)
        .enumerate()
        .map(|(i, container_port)| PortBinding {
            host_ip,
            host_port: match host_range {
                None => String::new(),
                // A single container port with a host range: docker picks from the range.
                Some((h_start, h_end)) if c_start == c_end && h_start != h_end => host.to_string(),
                Some((h_start, _)) => (h_start as usize + i).to_string(),
            },
            container_port,
            proto,
        })
        .collect())
}

/// Parses one `--expose` value (`80`, `80/udp`, `8000-8010`) into `port/proto` keys.
pub fn parse_expose(spec: &str) -> Result<Vec<String>, String> {
    let (ports, proto) = spec.rsplit_once('/').unwrap_or((spec, ""));
    let proto = Proto::parse(proto)?;
    let (start, end) = parse_range(ports)?;
    Ok((start..=end).map(|p| format!("{p}/{proto}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(spec: &str) -> PortBinding {
        let mut v = parse_publish(spec).unwrap();
        assert_eq!(v.len(), 1, "{spec}");
        v.remove(0)
    }

    #[test]
    fn forms() {
        let b = one("127.0.0.1:8080:80");
        assert_eq!(b.host_ip, Some("127.0.0.1".parse().unwrap()));
        assert_eq!((b.host_port.as_str(), b.key().as_str()), ("8080", "80/tcp"));
        let b = one("8080:80/udp");
        assert_eq!((b.host_ip, b.host_port.as_str(), b.key().as_str()), (None, "8080", "80/udp"));
        let b = one("80");
        assert_eq!((b.host_port.as_str(), b.key().as_str()), ("", "80/tcp"));
        let b = one("127.0.0.1::80");
        assert_eq!(b.host_port, "");
        let b = one("[::1]:8080:80");
        assert_eq!(b.host_ip, Some("::1".parse().unwrap()));
        let b = one("::1:8080:80");
        assert_eq!(b.host_ip, Some("::1".parse().unwrap()));
    }

    #[test]
    fn ranges() {
        let v = parse_publish("8000-8002:80-82").unwrap();
        let got: Vec<_> = v.iter().map(|b| (b.host_port.clone(), b.container_port)).collect();
        assert_eq!(got, [("8000".into(), 80), ("8001".into(), 81), ("8002".into(), 82)]);
        assert_eq!(one("8000-8010:80").host_port, "8000-8010");
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
        assert_eq!(parse_expose("80").unwrap(), ["80/tcp"]);
        assert_eq!(parse_expose("53/udp").unwrap(), ["53/udp"]);
        assert_eq!(parse_expose("1-2").unwrap(), ["1/tcp", "2/tcp"]);
        assert!(parse_expose("x").is_err());
    }
}
