//! The init's verdict, as it reports it on the FIFO: the kernel state it verified
//! (`ok ...`), what differed (`refused ...`), or runc's reason a command cannot start
//! (`start-failed ...`). Read as untrusted text: bounded, and printed escaped.

use crate::capability;

/// The capability sets as the kernel showed them to the init.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CapabilitySets {
    pub effective: u64,
    pub permitted: u64,
    pub bounding: u64,
    pub ambient: u64,
    pub inheritable: u64,
}

/// What the init verified in the kernel before it ran the command.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KernelState {
    pub caps: CapabilitySets,
    pub uid: u32,
    pub gid: u32,
    pub groups: Vec<u32>,
    pub no_new_privileges: bool,
    pub seccomp: u32,
    pub root_read_only: bool,
    /// Mounts the plan has, and docker's own (/proc, /dev, /etc/hosts...).
    pub planned_mounts: usize,
    pub docker_mounts: usize,
    /// The AppArmor label, when the kernel has one.
    pub apparmor: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Verified(KernelState),
    /// What differs from the plan: the command was not run.
    Refused(String),
    /// runc's message for a command that cannot be started.
    StartFailed(String),
}

impl Verdict {
    pub fn parse(line: &str) -> Option<Verdict> {
        let (kind, rest) = line.split_once(' ').unwrap_or((line, ""));
        match kind {
            "ok" => state(rest).map(Verdict::Verified),
            "refused" => Some(Verdict::Refused(rest.to_string())),
            "start-failed" => Some(Verdict::StartFailed(rest.to_string())),
            _ => None,
        }
    }
}

fn state(fields: &str) -> Option<KernelState> {
    let mut s = KernelState::default();
    for f in fields.split(' ') {
        let (k, v) = f.split_once('=')?;
        let hex = || u64::from_str_radix(v, 16).ok();
        match k {
            "eff" => s.caps.effective = hex()?,
            "prm" => s.caps.permitted = hex()?,
            "bnd" => s.caps.bounding = hex()?,
            "amb" => s.caps.ambient = hex()?,
            "inh" => s.caps.inheritable = hex()?,
            "uid" => s.uid = v.parse().ok()?,
            "gid" => s.gid = v.parse().ok()?,
            "groups" => {
                s.groups = v.split(',').filter(|g| !g.is_empty()).map(str::parse).collect::<Result<_, _>>().ok()?
            }
            "nnp" => s.no_new_privileges = v == "1",
            "seccomp" => s.seccomp = v.parse().ok()?,
            "root" => s.root_read_only = v == "ro",
            "mounts" => {
                let (p, d) = v.split_once('+')?;
                s.planned_mounts = p.parse().ok()?;
                s.docker_mounts = d.parse().ok()?;
            }
            "apparmor" => s.apparmor = (v != "-").then(|| v.replace('_', " ")),
            _ => {}
        }
    }
    Some(s)
}

/// Capability names for a mask, `none` when empty.
pub fn cap_names(mask: u64) -> String {
    let names: Vec<String> = (0..64)
        .filter(|b| mask & (1u64 << b) != 0)
        .map(|b| capability::ALL.get(b).map_or_else(|| format!("CAP_{b}"), |n| n.to_string()))
        .collect();
    if names.is_empty() { "none".into() } else { names.join(",") }
}

impl KernelState {
    /// The `verified:` line: each capability set on its own (for a non-root user the
    /// added ones sit in the bounding set only), then the rest.
    pub fn describe(&self, apparmor_on_host: bool) -> String {
        let c = &self.caps;
        let mut parts = vec![format!(
            "capabilities effective {}, permitted {}, bounding {}, ambient {}",
            cap_names(c.effective),
            cap_names(c.permitted),
            cap_names(c.bounding),
            cap_names(c.ambient)
        )];
        if self.no_new_privileges {
            parts.push("no-new-privileges".into());
        }
        parts.push(match self.seccomp {
            2 => "seccomp filter".into(),
            m => format!("seccomp mode {m}"),
        });
        let groups: Vec<String> = self.groups.iter().map(u32::to_string).collect();
        parts.push(format!(
            "uid {}, gid {}, groups {}",
            self.uid,
            self.gid,
            if groups.is_empty() { "none".into() } else { groups.join(",") }
        ));
        parts.push(if self.root_read_only { "read-only root".into() } else { "writable root".into() });
        parts.push(format!(
            "mounts as planned ({} of the plan's, {} of docker's own)",
            self.planned_mounts, self.docker_mounts
        ));
        parts.push("namespaces not the host's".into());
        parts.push(match (&self.apparmor, apparmor_on_host) {
            (Some(label), true) => format!("apparmor {}", crate::sanitize::line(label, 200)),
            (_, false) => "apparmor not available on this host".into(),
            (None, true) => "apparmor unconfined".into(),
        });
        parts.join("; ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ok_line_reads_back_into_the_kernel_state() {
        let line = "ok eff=0000000000000000 prm=0000000000000000 bnd=0000000000000401 amb=0000000000000000 \
                    inh=0000000000000000 uid=65532 gid=65532 groups=65532,5 nnp=1 seccomp=2 root=ro mounts=3+17 apparmor=-";
        let Some(Verdict::Verified(s)) = Verdict::parse(line) else { panic!() };
        assert_eq!(s.caps.bounding, 0x401);
        assert_eq!(s.groups, [65532, 5]);
        assert_eq!(
            s.describe(false),
            "capabilities effective none, permitted none, bounding CHOWN,NET_BIND_SERVICE, ambient none; \
             no-new-privileges; seccomp filter; uid 65532, gid 65532, groups 65532,5; read-only root; \
             mounts as planned (3 of the plan's, 17 of docker's own); namespaces not the host's; \
             apparmor not available on this host"
        );
    }

    #[test]
    fn other_lines() {
        assert_eq!(
            Verdict::parse("refused CapBnd holds NET_RAW"),
            Some(Verdict::Refused("CapBnd holds NET_RAW".into()))
        );
        assert_eq!(
            Verdict::parse(r#"start-failed exec: "nope": executable file not found in $PATH"#),
            Some(Verdict::StartFailed(r#"exec: "nope": executable file not found in $PATH"#.into()))
        );
        assert_eq!(Verdict::parse("ok eff=zz"), None);
        assert_eq!(Verdict::parse("hello"), None);
    }
}
