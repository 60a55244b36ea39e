//! Linux capabilities in docker's spelling: normalising what users type (`net_admin`,
//! `CAP_NET_ADMIN`, `all`) and the set that amounts to root on the host.

/// Every capability the kernel defines, by bit, without the `CAP_` prefix (one list
/// for hardrun and hardrun-init, which cannot use this crate).
#[path = "../init/capabilities.rs"]
mod kernel;
pub use kernel::ALL;

/// Capabilities that let a process escape the container or act as root on the host:
/// never granted, whatever the profile says.
pub const HOST_ROOT: [&str; 14] = [
    "SYS_ADMIN",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_PTRACE",
    "SYS_BOOT",
    "SYS_TIME",
    "DAC_READ_SEARCH",
    "MAC_ADMIN",
    "MAC_OVERRIDE",
    "BPF",
    "PERFMON",
    "SYSLOG",
    "SYS_PACCT",
    "AUDIT_CONTROL",
];

/// What a `--cap-add`/`--cap-drop` value means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Capability {
    All,
    Named(&'static str),
}

impl Capability {
    /// Case-insensitive, with or without `CAP_`, as docker accepts.
    pub fn parse(value: &str) -> Result<Self, String> {
        let upper = value.trim().to_ascii_uppercase();
        let bare = upper.strip_prefix("CAP_").unwrap_or(&upper);
        if bare == "ALL" {
            return Ok(Capability::All);
        }
        ALL.iter()
            .find(|c| **c == bare)
            .map(|c| Capability::Named(c))
            .ok_or_else(|| format!("unknown capability {value:?}"))
    }

    pub fn is_host_root(self) -> bool {
        match self {
            Capability::All => true,
            Capability::Named(n) => HOST_ROOT.contains(&n),
        }
    }

    /// The name the Engine API takes (`CAP_NET_ADMIN`, or `ALL`).
    pub fn api_name(self) -> String {
        match self {
            Capability::All => "ALL".into(),
            Capability::Named(n) => format!("CAP_{n}"),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Capability::All => "ALL",
            Capability::Named(n) => n,
        }
    }

    /// The capability's bit in /proc/<pid>/status masks.
    pub fn bit(self) -> Option<u32> {
        match self {
            Capability::All => None,
            Capability::Named(n) => ALL.iter().position(|c| *c == n).map(|i| i as u32),
        }
    }
}

impl std::fmt::Display for Capability {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings() {
        for s in ["sys_admin", "CAP_SYS_ADMIN", "cap_sys_admin", "Sys_Admin", " SYS_ADMIN"] {
            assert_eq!(Capability::parse(s).unwrap(), Capability::Named("SYS_ADMIN"), "{s}");
        }
        for s in ["all", "ALL", "cap_all", "All"] {
            assert_eq!(Capability::parse(s).unwrap(), Capability::All, "{s}");
        }
        assert!(Capability::parse("SYS_WIZARD").is_err());
    }

    #[test]
    fn bits_follow_the_kernel_numbering() {
        assert_eq!(Capability::Named("CHOWN").bit(), Some(0));
        assert_eq!(Capability::Named("NET_BIND_SERVICE").bit(), Some(10));
        assert_eq!(Capability::Named("SYS_ADMIN").bit(), Some(21));
        assert_eq!(Capability::Named("CHECKPOINT_RESTORE").bit(), Some(40));
    }

    #[test]
    fn host_root() {
        assert!(Capability::All.is_host_root());
        assert!(Capability::parse("bpf").unwrap().is_host_root());
        assert!(!Capability::parse("net_bind_service").unwrap().is_host_root());
    }
}
