//! `--security-opt` values, in both the `key=value` and the old `key:value` spelling.

use std::path::PathBuf;

use super::gobool;

/// One `--security-opt`, classified. Unknown keys are an error, as they are for the daemon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecurityOpt {
    /// `seccomp=unconfined`, `seccomp=builtin` or a profile file.
    Seccomp(SeccompChoice),
    /// `apparmor=NAME` (`unconfined` included).
    AppArmor(String),
    /// `label=...`: SELinux options, `disable` included.
    Label(String),
    NoNewPrivileges(bool),
    /// `systempaths=unconfined`.
    SystemPaths(String),
    WritableCgroups(bool),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SeccompChoice {
    Unconfined,
    Builtin,
    File(PathBuf),
}

impl SecurityOpt {
    pub fn parse(opt: &str) -> Result<Self, String> {
        if opt == "no-new-privileges" {
            return Ok(SecurityOpt::NoNewPrivileges(true));
        }
        let (key, value) = opt
            .split_once('=')
            .or_else(|| opt.split_once(':'))
            .ok_or_else(|| format!("invalid --security-opt {opt:?} (expected key=value)"))?;
        let bool_value = || {
            gobool::parse(value).ok_or_else(|| format!("invalid --security-opt {opt:?}: {value:?} is not a boolean"))
        };
        Ok(match key {
            "seccomp" => SecurityOpt::Seccomp(match value {
                "unconfined" => SeccompChoice::Unconfined,
                "builtin" => SeccompChoice::Builtin,
                "" => return Err(format!("invalid --security-opt {opt:?}: no seccomp profile named")),
                path => SeccompChoice::File(PathBuf::from(path)),
            }),
            "apparmor" => SecurityOpt::AppArmor(value.to_string()),
            "label" => SecurityOpt::Label(value.to_string()),
            "no-new-privileges" => SecurityOpt::NoNewPrivileges(bool_value()?),
            "systempaths" => SecurityOpt::SystemPaths(value.to_string()),
            "writable-cgroups" => SecurityOpt::WritableCgroups(bool_value()?),
            _ => return Err(format!("invalid --security-opt {opt:?}: unknown option {key:?}")),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_spellings() {
        assert_eq!(SecurityOpt::parse("seccomp:unconfined").unwrap(), SecurityOpt::Seccomp(SeccompChoice::Unconfined));
        assert_eq!(SecurityOpt::parse("seccomp=unconfined").unwrap(), SecurityOpt::Seccomp(SeccompChoice::Unconfined));
        assert_eq!(SecurityOpt::parse("no-new-privileges").unwrap(), SecurityOpt::NoNewPrivileges(true));
        assert_eq!(SecurityOpt::parse("no-new-privileges=false").unwrap(), SecurityOpt::NoNewPrivileges(false));
        assert_eq!(SecurityOpt::parse("no-new-privileges:0").unwrap(), SecurityOpt::NoNewPrivileges(false));
        assert_eq!(SecurityOpt::parse("label:disable").unwrap(), SecurityOpt::Label("disable".into()));
        assert_eq!(SecurityOpt::parse("label=type:spc_t").unwrap(), SecurityOpt::Label("type:spc_t".into()));
        assert_eq!(
            SecurityOpt::parse("seccomp=/tmp/p.json").unwrap(),
            SecurityOpt::Seccomp(SeccompChoice::File("/tmp/p.json".into()))
        );
    }

    #[test]
    fn errors() {
        for bad in ["bogus=1", "nonsense", "no-new-privileges=maybe", "seccomp="] {
            assert!(SecurityOpt::parse(bad).is_err(), "{bad}");
        }
    }
}
