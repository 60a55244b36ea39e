//! `--network` values: a plain name or mode, or docker's long `name=NET,alias=A,ip=...` form.

/// One network the container joins, with its endpoint settings.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NetworkAttachment {
    /// A network name or a mode: `bridge`, `none`, `host`, `default`, `container:ID`.
    pub name: String,
    pub aliases: Vec<String>,
    pub ipv4: Option<String>,
    pub ipv6: Option<String>,
    pub link_local_ips: Vec<String>,
    pub mac_address: Option<String>,
    pub driver_opts: Vec<(String, String)>,
    pub gw_priority: Option<i64>,
}

/// What kind of network a name means, which is what policy judges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetworkMode<'a> {
    Bridge,
    None,
    Host,
    /// `container:NAME`: another container's network namespace.
    Container(&'a str),
    /// A user-defined network.
    User(&'a str),
}

impl NetworkAttachment {
    /// Reads `--network` as the docker CLI does: the long form when the value holds a
    /// `word=word` pair anywhere (its pattern is unanchored), read as one CSV record, each
    /// field lowercased whole (so `alias=Api` is `api`) and its key and value trimmed;
    /// otherwise the value is a name, as typed.
    pub fn parse(value: &str) -> Result<Self, String> {
        let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
        let long = value.as_bytes().windows(3).any(|w| word(w[0]) && w[1] == b'=' && word(w[2]));
        if !long {
            if value.is_empty() {
                return Err("--network needs a network name".into());
            }
            return Ok(NetworkAttachment { name: value.to_string(), ..Default::default() });
        }
        let mut net = NetworkAttachment::default();
        let fields = super::mount::csv_fields(value).map_err(|e| format!("--network {value}: {e}"))?;
        for field in fields {
            let field = field.to_lowercase();
            let (key, v) = field
                .split_once('=')
                .filter(|(k, _)| !k.is_empty())
                .ok_or_else(|| format!("--network {value}: invalid field {field:?} (expected key=value)"))?;
            let v = v.trim();
            match key.trim() {
                "name" => net.name = v.to_string(),
                "alias" => net.aliases.push(v.to_string()),
                "ip" => net.ipv4 = Some(v.to_string()),
                "ip6" => net.ipv6 = Some(v.to_string()),
                "link-local-ip" => net.link_local_ips.push(v.to_string()),
                "mac-address" => net.mac_address = Some(v.to_string()),
                "driver-opt" => {
                    let (k, val) = v
                        .split_once('=')
                        .filter(|(k, _)| !k.is_empty())
                        .ok_or_else(|| format!("--network {value}: driver-opt {v:?} is not key=value"))?;
                    net.driver_opts.push((k.trim().to_string(), val.trim().to_string()));
                }
                "gw-priority" => {
                    net.gw_priority = Some(v.parse().map_err(|_| format!("--network {value}: bad gw-priority {v:?}"))?)
                }
                other => return Err(format!("--network {value}: unknown key {other:?}")),
            }
        }
        if net.name.is_empty() {
            return Err(format!("--network {value}: name is required"));
        }
        Ok(net)
    }

    pub fn mode(&self) -> NetworkMode<'_> {
        match self.name.as_str() {
            "bridge" | "default" => NetworkMode::Bridge,
            "none" => NetworkMode::None,
            "host" => NetworkMode::Host,
            n => match n.strip_prefix("container:") {
                Some(id) => NetworkMode::Container(id),
                None => NetworkMode::User(n),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        assert_eq!(NetworkAttachment::parse("host").unwrap().mode(), NetworkMode::Host);
        assert_eq!(NetworkAttachment::parse("name=host").unwrap().mode(), NetworkMode::Host);
        assert_eq!(NetworkAttachment::parse("container:db").unwrap().mode(), NetworkMode::Container("db"));
        assert_eq!(NetworkAttachment::parse("default").unwrap().mode(), NetworkMode::Bridge);
        let n = NetworkAttachment::parse("name=backend,alias=api,alias=web,ip=10.1.0.5,driver-opt=a=b").unwrap();
        assert_eq!(n.mode(), NetworkMode::User("backend"));
        assert_eq!(n.aliases, ["api", "web"]);
        assert_eq!(n.ipv4.as_deref(), Some("10.1.0.5"));
        assert_eq!(n.driver_opts, [("a".to_string(), "b".to_string())]);
        for bad in ["", "alias=x", "name=x,bogus=1", "name=x,junk", "name=x,driver-opt=junk", "name=x,\"a"] {
            assert!(NetworkAttachment::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_long_form_is_read_as_the_docker_cli_reads_it() {
        // Lowercased whole, trimmed, one CSV record.
        let n = NetworkAttachment::parse("Name=Backend, alias = Api ,\"driver-opt=K=A,B\"").unwrap();
        assert_eq!((n.name.as_str(), &n.aliases[..]), ("backend", &["api".to_string()][..]));
        assert_eq!(n.driver_opts, [("k".to_string(), "a,b".to_string())]);
        // Only a word=word pair makes the long form; anything else is a name as typed.
        for name in ["MyNet", "a=", "=x", "a=-b"] {
            assert_eq!(NetworkAttachment::parse(name).unwrap().name, name);
        }
        assert!(NetworkAttachment::parse("x-y=z").unwrap_err().contains("unknown key \"x-y\""));
    }
}
