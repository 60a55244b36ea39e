//! Namespace modes (`--pid`, `--ipc`, `--uts`, `--userns`, `--cgroupns`) as a type with
//! predicates, one parser per kind, so policy and audit match every mode there is and
//! the compiler names each place a new mode must be judged.

use std::fmt;

/// Which namespace a mode is for: each kind accepts its own set of modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NamespaceKind {
    Pid,
    Ipc,
    Uts,
    User,
    Cgroup,
}

impl NamespaceKind {
    pub fn flag(self) -> &'static str {
        match self {
            NamespaceKind::Pid => "--pid",
            NamespaceKind::Ipc => "--ipc",
            NamespaceKind::Uts => "--uts",
            NamespaceKind::User => "--userns",
            NamespaceKind::Cgroup => "--cgroupns",
        }
    }

    /// The namespace's name in prose (`the host's pid namespace`).
    pub fn noun(self) -> &'static str {
        match self {
            NamespaceKind::Pid => "pid",
            NamespaceKind::Ipc => "ipc",
            NamespaceKind::Uts => "uts",
            NamespaceKind::User => "user",
            NamespaceKind::Cgroup => "cgroup",
        }
    }

    /// The modes this kind accepts, for messages.
    pub fn modes(self) -> &'static str {
        match self {
            NamespaceKind::Pid => "host, container:NAME",
            NamespaceKind::Ipc => "private, shareable, none, host, container:NAME",
            NamespaceKind::Uts => "host",
            NamespaceKind::User => "host",
            NamespaceKind::Cgroup => "private, host",
        }
    }
}

/// One namespace mode, as docker knows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NamespaceMode {
    /// `""`: the daemon's default for this namespace.
    Default,
    /// A namespace of the container's own.
    Private,
    /// `--ipc shareable`: the container's own, which others may join.
    Shareable,
    /// `--ipc none`: no /dev/shm at all.
    None,
    /// The host's namespace.
    Host,
    /// `container:NAME`: another container's.
    Container(String),
}

impl NamespaceMode {
    /// Parses `value` as a mode of `kind`, as the docker CLI and daemon accept them.
    pub fn parse(kind: NamespaceKind, value: &str) -> Result<NamespaceMode, String> {
        let mode = match value {
            "" => NamespaceMode::Default,
            "host" => NamespaceMode::Host,
            "private" if matches!(kind, NamespaceKind::Ipc | NamespaceKind::Cgroup) => NamespaceMode::Private,
            "shareable" if kind == NamespaceKind::Ipc => NamespaceMode::Shareable,
            "none" if kind == NamespaceKind::Ipc => NamespaceMode::None,
            v => match v.strip_prefix("container:") {
                Some(name) if !name.is_empty() && matches!(kind, NamespaceKind::Pid | NamespaceKind::Ipc) => {
                    NamespaceMode::Container(name.to_string())
                }
                _ => {
                    return Err(format!("invalid {} {value:?} (use one of: {})", kind.flag(), kind.modes()));
                }
            },
        };
        Ok(mode)
    }

    /// Whether it is the host's namespace.
    pub fn is_host(&self) -> bool {
        *self == NamespaceMode::Host
    }

    /// As the Engine API spells it.
    pub fn as_api(&self) -> String {
        match self {
            NamespaceMode::Default => String::new(),
            NamespaceMode::Private => "private".into(),
            NamespaceMode::Shareable => "shareable".into(),
            NamespaceMode::None => "none".into(),
            NamespaceMode::Host => "host".into(),
            NamespaceMode::Container(name) => format!("container:{name}"),
        }
    }
}

impl fmt::Display for NamespaceMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.as_api())
    }
}

#[cfg(test)]
mod tests {
    use super::NamespaceKind::*;
    use super::*;

    #[test]
    fn each_kind_has_its_modes() {
        assert_eq!(NamespaceMode::parse(Pid, "host").unwrap(), NamespaceMode::Host);
        assert_eq!(NamespaceMode::parse(Pid, "container:db").unwrap(), NamespaceMode::Container("db".into()));
        assert_eq!(NamespaceMode::parse(Ipc, "shareable").unwrap(), NamespaceMode::Shareable);
        assert_eq!(NamespaceMode::parse(Ipc, "none").unwrap(), NamespaceMode::None);
        assert_eq!(NamespaceMode::parse(Cgroup, "private").unwrap(), NamespaceMode::Private);
        assert_eq!(NamespaceMode::parse(User, "").unwrap(), NamespaceMode::Default);
        for (kind, bad) in [
            (Pid, "private"),
            (Uts, "container:x"),
            (User, "keep-id"),
            (Cgroup, "shared"),
            (Ipc, "container:"),
            (Pid, "HOST"),
        ] {
            assert!(NamespaceMode::parse(kind, bad).is_err(), "{kind:?} {bad}");
        }
    }

    #[test]
    fn modes_round_trip_through_the_api_spelling() {
        assert!(NamespaceMode::Host.is_host() && !NamespaceMode::Container("x".into()).is_host());
        for own in [NamespaceMode::Default, NamespaceMode::Private, NamespaceMode::Shareable, NamespaceMode::None] {
            assert!(!own.is_host(), "{own:?}");
            assert_eq!(NamespaceMode::parse(Ipc, &own.as_api()).unwrap(), own);
        }
    }
}
