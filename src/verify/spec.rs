//! Writing the expectations the init checks (the format is documented in
//! init/spec.rs, which reads it). The security controls come from the Plan's
//! expectations, what policy decided; the mounts from the create body hardrun sends.

use std::fmt::Write as _;
use std::path::Path;

use bollard::models::ContainerCreateBody;

use super::mounts::{MountTable, PlannedMount, escape};
use crate::capability::Capability;
use crate::plan::Expectation;
use crate::request::UserSpec;

/// Mount records the init reads at most.
pub const MAX_MOUNTS: usize = 256;

/// The namespaces the container must not share with the host, and their inodes.
pub fn host_namespaces() -> Vec<(&'static str, u64)> {
    ["pid", "net", "ipc", "uts", "cgroup", "mnt"]
        .into_iter()
        .filter_map(|kind| {
            let link = std::fs::read_link(format!("/proc/self/ns/{kind}")).ok()?;
            let inode = link.to_str()?.strip_prefix(kind)?.strip_prefix(":[")?.strip_suffix(']')?.parse().ok()?;
            Some((kind, inode))
        })
        .collect()
}

/// Everything the spec is written from.
pub struct SpecInput<'a> {
    pub expect: &'a Expectation,
    pub body: &'a ContainerCreateBody,
    pub mounts: &'a [PlannedMount],
    pub table: &'a MountTable,
    /// The FIFO the init reports on, when hardrun listens.
    pub report: Option<&'a str>,
    pub host_namespaces: &'a [(&'static str, u64)],
}

/// The spec's text, or why the container's mounts cannot be described.
pub fn write(input: &SpecInput) -> Result<String, String> {
    let mut s = String::from("hardrun-init 1\n");
    if let Some(r) = input.report {
        let _ = writeln!(s, "report {r}");
    }
    let caps = input
        .expect
        .capabilities
        .iter()
        .filter_map(|c| Capability::parse(c).ok()?.bit())
        .fold(0u64, |m, b| m | (1 << b));
    let _ = writeln!(s, "caps {caps:x}");
    if input.expect.no_new_privileges {
        s.push_str("nnp\n");
    }
    if input.expect.seccomp {
        s.push_str("seccomp\n");
    }
    identity(&mut s, input);
    if let Some(a) = &input.expect.apparmor {
        let _ = writeln!(s, "apparmor {}", escape(a));
    }
    if input.expect.read_only_root {
        s.push_str("root ro\n");
    }
    for (kind, inode) in input.host_namespaces {
        let _ = writeln!(s, "ns {kind} {inode}");
    }
    if input.body.host_config.as_ref().and_then(|h| h.init) == Some(true) {
        s.push_str("docker-init\n");
    }
    let mut count = 0;
    for m in input.mounts {
        count += mount(&mut s, m, input.table)?;
    }
    if count > MAX_MOUNTS {
        return Err(format!("the container has {count} mounts, more than the {MAX_MOUNTS} hardrun verifies"));
    }
    Ok(s)
}

/// uid, gid and supplementary groups: exact where the plan gives numbers.
fn identity(s: &mut String, input: &SpecInput) {
    let user = input.expect.user.as_deref().and_then(|u| UserSpec::parse(u).ok());
    let uid = user.as_ref().and_then(UserSpec::uid);
    let gid = user.as_ref().and_then(UserSpec::gid);
    match uid {
        Some(u) => {
            let _ = writeln!(s, "uid {u}");
        }
        None => s.push_str("uid nonroot\n"),
    }
    match gid {
        Some(g) => {
            let _ = writeln!(s, "gid {g}");
        }
        None => s.push_str("gid any\n"),
    }
    let adds: Vec<&String> =
        input.body.host_config.as_ref().and_then(|h| h.group_add.as_ref()).into_iter().flatten().collect();
    let numeric: Option<Vec<u32>> = adds.iter().map(|g| g.parse::<u32>().ok()).collect();
    // With an explicit group docker adds no memberships from the image: the groups are
    // the primary one and --group-add's, nothing else.
    match (uid, gid, numeric) {
        (Some(_), Some(g), Some(mut list)) => {
            list.insert(0, g);
            list.dedup();
            let text: Vec<String> = list.iter().map(u32::to_string).collect();
            let _ = writeln!(s, "groups {}", text.join(","));
        }
        (Some(0), ..) => {}
        _ => s.push_str("groups nonroot\n"),
    }
}

/// The record(s) for one planned mount: a bind brings its source's submounts along.
fn mount(s: &mut String, m: &PlannedMount, table: &MountTable) -> Result<usize, String> {
    let t = escape(m.target());
    match m {
        PlannedMount::Bind { source, read_only, recursive, .. } => {
            // `source` is what policy judged, symlinks already followed then.
            let real = source.as_path();
            let origin = table.bind_of(real).ok_or_else(|| {
                format!(
                    "the bind source {} is on no mount of this host's, so its mount cannot be checked",
                    source.display()
                )
            })?;
            let mode = if *read_only { "ro" } else { "rw" };
            let _ =
                writeln!(s, "bind {t} {} {} {} {} {mode}", origin.device, origin.root, origin.fstype, origin.source);
            let mut n = 1;
            if *recursive {
                for (rel, sub) in table.below(real) {
                    let target = escape(&Path::new(m.target()).join(&rel).display().to_string());
                    let _ = writeln!(s, "bind {target} {} {} {} {} rw", sub.device, sub.root, sub.fstype, sub.source);
                    n += 1;
                }
            }
            Ok(n)
        }
        PlannedMount::Volume { name, .. } => {
            let _ = writeln!(s, "volume {t} {}", name.as_deref().map(escape).unwrap_or_else(|| "-".into()));
            Ok(1)
        }
        PlannedMount::Filesystem { fstype, .. } => {
            let _ = writeln!(s, "fs {t} {}", escape(fstype));
            Ok(1)
        }
        PlannedMount::Tmpfs { exec, read_only, .. } => {
            let exec = if *exec { "exec" } else { "noexec" };
            let _ = writeln!(s, "tmpfs {t} {exec} {}", if *read_only { "ro" } else { "rw" });
            Ok(1)
        }
        PlannedMount::Any { .. } => {
            let _ = writeln!(s, "any {t}");
            Ok(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::init_code::spec::{Groups, Id, Mount, Spec};
    use bollard::models::HostConfig;

    fn expect() -> Expectation {
        Expectation {
            capabilities: vec!["NET_BIND_SERVICE".into(), "CHOWN".into()],
            no_new_privileges: true,
            seccomp: true,
            user: Some("65532:65532".into()),
            read_only_root: true,
            apparmor: None,
        }
    }

    #[test]
    fn what_hardrun_writes_the_init_reads() {
        let table = MountTable::parse(
            "27 1 254:0 / / rw - ext4 /dev/vda rw\n50 27 0:50 / /srv/my\\040app/data/cache rw - tmpfs tmpfs rw\n",
        );
        let body = ContainerCreateBody {
            host_config: Some(HostConfig { group_add: Some(vec!["5".into()]), init: Some(true), ..Default::default() }),
            ..Default::default()
        };
        let mounts = vec![
            PlannedMount::Bind {
                target: "/da ta".into(),
                source: "/srv/my app/data".into(),
                read_only: true,
                recursive: true,
            },
            PlannedMount::Tmpfs { target: "/tmp".into(), exec: false, read_only: false },
            PlannedMount::Volume { target: "/v".into(), name: None },
        ];
        let e = expect();
        let input = SpecInput {
            expect: &e,
            body: &body,
            mounts: &mounts,
            table: &table,
            report: Some("report-ab"),
            host_namespaces: &[("net", 4026531833)],
        };
        let text = write(&input).unwrap();
        let spec = Spec::parse(text.as_bytes()).unwrap();
        assert_eq!(spec.report, Some(&b"report-ab"[..]));
        assert_eq!(spec.caps, 0x401);
        assert!(spec.no_new_privs && spec.seccomp && spec.root_read_only && spec.docker_init);
        assert_eq!((spec.uid, spec.gid), (Id::Exact(65532), Id::Exact(65532)));
        let Groups::Exact(groups, n) = spec.groups else { panic!("{:?}", spec.groups) };
        assert_eq!(&groups[..n], [65532, 5]);
        let mounts: Vec<Mount> = spec.mounts().collect();
        assert_eq!(
            mounts[0],
            Mount::Bind {
                target: b"/da\\040ta",
                device: b"254:0",
                root: b"/srv/my\\040app/data",
                fstype: b"ext4",
                source: b"/dev/vda",
                read_only: true
            }
        );
        // The source's submount comes along with the recursive bind.
        assert_eq!(mounts[1].target(), b"/da\\040ta/cache");
        assert_eq!(mounts[3], Mount::Volume { target: b"/v", name: None });
    }

    #[test]
    fn names_and_named_groups_still_keep_root_out() {
        let mut e = expect();
        e.user = Some("app".into());
        let body = ContainerCreateBody::default();
        let input = SpecInput {
            expect: &e,
            body: &body,
            mounts: &[],
            table: &MountTable::default(),
            report: None,
            host_namespaces: &[],
        };
        let spec_text = write(&input).unwrap();
        let spec = Spec::parse(spec_text.as_bytes()).unwrap();
        assert_eq!((spec.uid, spec.gid), (Id::NonRoot, Id::Any));
        assert_eq!(spec.groups, Groups::NonRoot);
        assert_eq!(spec.report, None);
    }
}
